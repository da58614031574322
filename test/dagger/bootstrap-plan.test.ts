// The Dagger function aws.bootstrap against the fake engine (the cdk commands it runs) with mocked STS, CloudFormation
// and ECR: a fresh account gets every step in order, a second run changes nothing and says so, the GitHub lines come
// from the identity stack's output descriptions, and bad input stops it before anything runs.
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  GetLifecyclePolicyCommand,
  GetSigningConfigurationCommand,
  PutLifecyclePolicyCommand,
  PutSigningConfigurationCommand,
} from "@aws-sdk/client-ecr";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Aws } from "../../dagger/src/aws.js";
import { releaseLifecyclePolicy } from "../../dagger/src/ecr/lifecycle.js";
import { REPOSITORY_SETTINGS } from "../../dagger/src/ecr/registry.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { policyList } from "../../dagger/src/infra/bootstrap.js";
import { githubSetupLines, githubVariables } from "../../dagger/src/infra/github-setup.js";
import { ecr } from "../helpers/ecs-mocks.js";
import { runPlan } from "../helpers/plan.js";
import { ACCOUNT, cdkCommands, cdkResolver, cloudformation, outputs, parameters, stacks, sts, stsAnswers } from "../helpers/provision-mocks.js";
import { credentials, KEY_ID, SECRET_KEY, SESSION } from "../helpers/publish.js";

const aws = (pipeline: Pipeline): Aws => {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials();
  return pipeline.aws("eu-west-1", accessKeyId, secretAccessKey, sessionToken);
};
const POLICY = `arn:aws:iam::${ACCOUNT}:policy/hono-cfn-execution`;
const SIGNING = `arn:aws:signer:eu-west-1:${ACCOUNT}:/signing-profiles/hono_ecr_service`;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
/** The identity stack's outputs, each naming its GitHub variable in its description (as infra/github-actions-identity-stack.ts does). */
const IDENTITY_OUTPUTS = outputs({
  SigningProfileArn: [SIGNING, "setup-registry --signing-profile-arn (repository variable SIGNING_PROFILE_ARN)"],
  DeployRoleStagingArn: [role("deploy-staging"), "Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment staging"],
  DeployRoleProductionArn: [role("deploy-production"), "Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment production"],
  ProvisionRoleStagingArn: [role("provision-staging"), "Variable AWS_PROVISION_ROLE_ARN of the GitHub environment staging"],
  PublishRoleArn: [role("publish"), "Repository variable AWS_PUBLISH_ROLE_ARN"],
  PlanRoleArn: [role("plan"), "Repository variable AWS_PLAN_ROLE_ARN"],
  AwsRegion: ["eu-west-1", "Repository variable AWS_REGION"],
  CloudFormationExecutionPolicyArn: [POLICY, "cdk bootstrap --cloudformation-execution-policies"],
});
const toolkit = (policies: string) => ({ StackStatus: "UPDATE_COMPLETE" as const, Outputs: outputs({ BootstrapVersion: ["30"] }), Parameters: parameters({ CloudFormationExecutionPolicies: policies, Qualifier: "hnb659fds" }) });
const awsCalls = () => ecr.calls().length + sts.calls().length + cloudformation.calls().length;

/** The registry as setup-registry leaves it: repository, policy and signing in place. */
function registryInPlace(): void {
  ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: "hono-ecr-service", repositoryUri: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/hono-ecr-service`, ...REPOSITORY_SETTINGS, imageTagMutabilityExclusionFilters: [...REPOSITORY_SETTINGS.imageTagMutabilityExclusionFilters] }] });
  ecr.on(GetLifecyclePolicyCommand).resolves({ lifecyclePolicyText: JSON.stringify(releaseLifecyclePolicy()) });
  ecr.on(GetSigningConfigurationCommand).resolves({ signingConfiguration: { rules: [{ signingProfileArn: SIGNING, repositoryFilters: [{ filter: "hono-ecr-service", filterType: "WILDCARD_MATCH" }] }] } });
}

beforeEach(() => stsAnswers());
afterEach(() => {
  for (const mock of [ecr, sts, cloudformation]) mock.reset();
});

describe("aws bootstrap (fake engine, mocked AWS)", () => {
  it.each<[string, (aws: Aws) => Promise<string>, string]>([
    ["repository", (a) => a.bootstrap("acme"), '--github-repository="acme" is invalid: expected OWNER/REPO'],
    ["lone owner id", (a) => a.bootstrap("acme/shop", "1111"), "--github-repository-id is required with the other id (gh api repos/acme/shop --jq '.owner.id, .id'), or give neither"],
    ["id", (a) => a.bootstrap("acme/shop", "1111", "x2"), '--github-repository-id="x2" is invalid: expected a numeric id'],
    ["ECR repository", (a) => a.bootstrap("acme/shop", undefined, undefined, "Shop"), "Shop"],
  ])("rejects a bad %s before a secret is read, a container is made or AWS is called", async (_, call, message) => {
    const run = await runPlan((pipeline) => call(aws(pipeline)));
    expect(run.error?.message).toContain(message);
    expect(run.engine.rawQueries).toEqual([]);
    expect(awsCalls()).toBe(0);
  });

  it("on a fresh account: bootstraps, deploys the identity stack, re-bootstraps with its execution policy, sets up the registry with signing", async () => {
    stacks({ CDKToolkit: [undefined, toolkit("")], GithubActionsEcrIdentity: [{ Outputs: IDENTITY_OUTPUTS }] });
    ecr.on(DescribeRepositoriesCommand).rejects(Object.assign(new Error("none"), { name: "RepositoryNotFoundException" }));
    ecr.on(CreateRepositoryCommand).resolves({ repository: { repositoryUri: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/hono-ecr-service` } });
    ecr.on(GetLifecyclePolicyCommand).rejects(Object.assign(new Error("none"), { name: "LifecyclePolicyNotFoundException" }));
    ecr.on(PutLifecyclePolicyCommand).resolves({});
    ecr.on(GetSigningConfigurationCommand).rejects(Object.assign(new Error("none"), { name: "SigningConfigurationNotFoundException" }));
    ecr.on(PutSigningConfigurationCommand).resolves({});
    const run = await runPlan((pipeline) => aws(pipeline).bootstrap("acme/shop", "1111", "2222", "hono-ecr-service", true), cdkResolver({ outputs: { "deploy GithubActionsEcrIdentity": "✅  GithubActionsEcrIdentity" } }));
    expect(run.error).toBeUndefined();
    const environment = `aws://${ACCOUNT}/eu-west-1`;
    expect(cdkCommands(run.engine.calls)).toEqual([
      ["bootstrap", environment, "--no-notices"],
      [
        "deploy", "GithubActionsEcrIdentity", "--require-approval", "never",
        "-c", "githubRepository=acme/shop", "-c", "githubOwnerId=1111", "-c", "githubRepositoryId=2222", "-c", "region=eu-west-1", "-c", "ecrRepository=hono-ecr-service",
        "--no-notices",
      ],
      ["bootstrap", environment, "--cloudformation-execution-policies", POLICY, "--no-notices"],
    ]);
    expect(ecr.commandCalls(PutSigningConfigurationCommand)[0]!.args[0].input.signingConfiguration?.rules?.[0]?.signingProfileArn).toBe(SIGNING);
    expect(run.result).toContain(`execution policy: AdministratorAccess (default) -> ${POLICY}`);
    expect(run.result).toContain(
      `\nchanged: ${environment} bootstrapped (CDKToolkit created); GithubActionsEcrIdentity deployed; CDKToolkit now uses ${POLICY} (was: AdministratorAccess, cdk's default); ` +
        "repository hono-ecr-service created with its settings; lifecycle policy created; signing created\n",
    );
    expect(run.result).toContain("gh variable set AWS_PLAN_ROLE_ARN --repo acme/shop --body arn:aws:iam::123456789012:role/plan");
    expect(run.result).toContain("--session-token=env://AWS_SESSION_TOKEN provision --environment=staging\n");
    expect(run.result!.endsWith("provision --environment=production")).toBe(true);
    for (const secret of [KEY_ID, SECRET_KEY, SESSION]) expect(run.engine.rawQueries.filter((query) => query.includes(secret) && !/^\s*\{\s*setSecret\s*\(/.test(query)), secret).toEqual([]);
  });

  it("a second run changes nothing and says so: no bootstrap, the identity stack unchanged (cdk: no changes), the registry as it was", async () => {
    stacks({ CDKToolkit: [toolkit(POLICY)], GithubActionsEcrIdentity: [{ Outputs: IDENTITY_OUTPUTS }] });
    registryInPlace();
    const run = await runPlan((pipeline) => aws(pipeline).bootstrap("acme/shop", "1111", "2222", "hono-ecr-service", true), cdkResolver({ outputs: { "deploy GithubActionsEcrIdentity": " ✅  GithubActionsEcrIdentity (no changes)" } }));
    expect(run.error).toBeUndefined();
    expect(cdkCommands(run.engine.calls).map((command) => command.slice(0, 2))).toEqual([["deploy", "GithubActionsEcrIdentity"]]);
    expect(ecr.commandCalls(PutLifecyclePolicyCommand)).toEqual([]);
    expect(ecr.commandCalls(PutSigningConfigurationCommand)).toEqual([]);
    expect(run.result).toContain("cdk bootstrap: CDKToolkit stands (UPDATE_COMPLETE, version 30): left as is");
    expect(run.result).toContain(`execution policy: the toolkit already uses ${POLICY}`);
    expect(run.result).toContain("\nnothing changed: the account, the identity stack and the registry were already set up\n");
  });

  it("--signing without a SigningProfileArn output stops before the registry is touched", async () => {
    stacks({ CDKToolkit: [toolkit(POLICY)], GithubActionsEcrIdentity: [{ Outputs: outputs({ PublishRoleArn: [role("publish"), "Repository variable AWS_PUBLISH_ROLE_ARN"] }) }] });
    const run = await runPlan((pipeline) => aws(pipeline).bootstrap("acme/shop", undefined, undefined, "hono-ecr-service", true), cdkResolver({ outputs: { deploy: "(no changes)" } }));
    expect(run.error?.message).toBe("--signing: GithubActionsEcrIdentity has no SigningProfileArn output; nothing after the identity stack was changed");
    expect(ecr.calls()).toEqual([]);
  });
});

describe("the GitHub lines, from the identity stack's output descriptions", () => {
  it("creates each environment only if missing, then sets every variable; values quoted for the shell", () => {
    const variables = githubVariables({ name: "GithubActionsEcrIdentity", status: "UPDATE_COMPLETE", parameters: {}, outputs: [
      ...IDENTITY_OUTPUTS.map((output) => ({ key: output.OutputKey, value: output.OutputValue, description: output.Description ?? "" })),
      { key: "Odd", value: "it's", description: "Repository variable ODD" },
      { key: "NotAVariable", value: "x", description: "cdk bootstrap --cloudformation-execution-policies" },
    ] });
    expect(githubSetupLines(variables, "acme/shop")).toEqual([
      ...["staging", "production"].map(
        (env) =>
          `gh api repos/acme/shop/environments/${env} --silent 2>/dev/null || { gh api -X PUT repos/acme/shop/environments/${env} -F 'deployment_branch_policy[protected_branches]=false' -F 'deployment_branch_policy[custom_branch_policies]=true' --silent && gh api -X POST repos/acme/shop/environments/${env}/deployment-branch-policies -f name=main -f type=branch --silent; }`,
      ),
      `gh variable set SIGNING_PROFILE_ARN --repo acme/shop --body ${SIGNING}`,
      `gh variable set AWS_DEPLOY_ROLE_ARN --repo acme/shop --env staging --body ${role("deploy-staging")}`,
      `gh variable set AWS_DEPLOY_ROLE_ARN --repo acme/shop --env production --body ${role("deploy-production")}`,
      `gh variable set AWS_PROVISION_ROLE_ARN --repo acme/shop --env staging --body ${role("provision-staging")}`,
      `gh variable set AWS_PUBLISH_ROLE_ARN --repo acme/shop --body ${role("publish")}`,
      `gh variable set AWS_PLAN_ROLE_ARN --repo acme/shop --body ${role("plan")}`,
      "gh variable set AWS_REGION --repo acme/shop --body eu-west-1",
      "gh variable set ODD --repo acme/shop --body 'it'\\''s'",
    ]);
  });
});

describe("the toolkit's execution policies, as DescribeStacks gives the CommaDelimitedList", () => {
  it("reads CloudFormation's `a,b` and moto's `['a', 'b']` alike, and none as empty", () => {
    expect(policyList(`${POLICY},arn:aws:iam::aws:policy/Other`)).toEqual([POLICY, "arn:aws:iam::aws:policy/Other"]);
    expect(policyList(`['${POLICY}', 'arn:aws:iam::aws:policy/Other']`)).toEqual([POLICY, "arn:aws:iam::aws:policy/Other"]);
    expect(policyList("")).toEqual([]);
    expect(policyList("['']")).toEqual([]);
  });
});
