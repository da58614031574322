// The identity stack (infra/github-actions-identity-stack.ts), synthesized offline, checked with aws-cdk-lib/assertions.
import { readFileSync } from "node:fs";
import path from "node:path";
import { cdkApp } from "./helpers/cdk-app.js";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { MAX_ENVIRONMENTS } from "../dagger/src/ecr/lifecycle.js";
import { InputError } from "../dagger/src/ecr/validate.js";
import { ENVIRONMENTS } from "../infra/environments.js";
import { readIdentitySettings, type IdentitySettings } from "../infra/config.js";
import { ENHANCED_SCAN_ACTIONS, IMAGE_READ_ACTIONS, LOAD_BALANCER_READ_ACTIONS, RETAG_ACTIONS, SERVICE_ACTIONS, SERVICE_DEPLOYMENT_ACTIONS, SERVICE_TAG_ACTIONS, SIGNING_CONFIGURATION_ACTIONS, TASK_DEFINITION_ACTIONS } from "../infra/deploy-permissions.js";
import { LOGIN_ACTIONS, PUBLISH_ACTIONS, PULL_ACTIONS, PUSH_ACTIONS, REGISTRY_ACTIONS, RELEASE_SBOM_API_ACTIONS, REGISTRY_SIGNING_ACTIONS, SIGN_ON_PUSH_ACTIONS } from "../infra/ecr-permissions.js";
import { ASSUMABLE_BOOTSTRAP_ROLES } from "../infra/cdk-bootstrap-roles.js";
import { GithubActionsIdentityStack, ROLE_WORKFLOWS } from "../infra/github-actions-identity-stack.js";
import { ROOT } from "./helpers/process.js";

const CONTEXT: Record<string, string> = { githubRepository: "acme/shop", githubOwnerId: "1111", githubRepositoryId: "2222", region: "eu-west-1", ecrRepository: "shop/web" };
const settings = (overrides: Record<string, string> = {}): IdentitySettings => readIdentitySettings((key) => ({ ...CONTEXT, ...overrides })[key]);

function stackOf(overrides: Record<string, string | undefined> = {}): GithubActionsIdentityStack {
  const context = (key: string) => ({ ...CONTEXT, ...overrides })[key];
  return new GithubActionsIdentityStack(cdkApp(), "Identity", { settings: readIdentitySettings(context), environments: ["staging", "production"], env: { account: "123456789012", region: "eu-west-1" } });
}
const synth = (overrides: Record<string, string | undefined> = {}): Template => Template.fromStack(stackOf(overrides));
const NO_IDS = { githubOwnerId: undefined, githubRepositoryId: undefined };
const ref = (file: string, branch = "main") => `acme/shop/.github/workflows/${file}@refs/heads/${branch}`;

/**
 * The repository's ARN as synthesized: the partition is a literal, that of the stack's region (cdk.json's recommended
 * flag @aws-cdk/core:enablePartitionLiterals; aws for eu-west-1, aws-cn for a China region).
 */
const REPOSITORY_ARN = "arn:aws:ecr:eu-west-1:123456789012:repository/shop/web";
/** Actions as a policy statement lists them: sorted (cdk.json's recommended flag @aws-cdk/aws-iam:minimizePolicies). */
const sorted = (...lists: readonly (readonly string[])[]): string[] => lists.flat().sort();
const trust = (subjects: string[], more: Record<string, unknown>) =>
  Match.objectLike({
    Statement: [
      {
        Action: "sts:AssumeRoleWithWebIdentity",
        Effect: "Allow",
        Principal: { Federated: Match.anyValue() },
        Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": subjects, ...more } },
      },
    ],
  });

type Conditions = Record<string, string | string[]>;
/** A role's trust conditions: StringEquals, and StringLike (only the plan role's pull request workflow refs). */
interface Trust {
  equals: Conditions;
  like: Conditions;
}
/**
 * Each role's conditions, by logical id without CDK's hash; every role must trust by StringEquals, and only the plan
 * role adds a StringLike (the pull request number in its workflow ref).
 */
function trustedConditions(template: Template): Record<string, Trust> {
  const roles = template.findResources("AWS::IAM::Role") as Record<string, { Properties: { AssumeRolePolicyDocument: { Statement: { Condition: Record<string, Record<string, string[]>> }[] } } }>;
  return Object.fromEntries(
    Object.entries(roles).map(([id, role]) => {
      const [statement, ...others] = role.Properties.AssumeRolePolicyDocument.Statement;
      const name = id.replace(/[0-9A-F]{8}$/, "");
      expect(others).toEqual([]);
      expect(Object.keys(statement!.Condition), name).toEqual(name === "PlanRole" && statement!.Condition.StringLike ? ["StringEquals", "StringLike"] : ["StringEquals"]);
      return [name, { equals: statement!.Condition.StringEquals!, like: statement!.Condition.StringLike ?? {} }];
    }),
  );
}

/** IAM's StringLike: `*` matches any run of characters (including none), `?` one character; everything else literally. */
const like = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(value);

/**
 * The roles a token with these claims (and aud sts.amazonaws.com) may assume, evaluated as IAM evaluates StringEquals
 * and StringLike: every key must be present in the token and match one of the values (a key missing from the token
 * fails the match).
 */
function assumableWith(roles: Record<string, Trust>, claims: Record<string, string>): string[] {
  const token: Record<string, string> = { aud: "sts.amazonaws.com", ...claims };
  const claimOf = (key: string) => token[key.replace("token.actions.githubusercontent.com:", "")];
  return Object.entries(roles)
    .filter(
      ([, { equals, like: patterns }]) =>
        Object.entries(equals).every(([key, values]) => claimOf(key) !== undefined && [values].flat().includes(claimOf(key)!)) &&
        Object.entries(patterns).every(([key, values]) => claimOf(key) !== undefined && [values].flat().some((pattern) => like(pattern, claimOf(key)!))),
    )
    .map(([id]) => id);
}

/** The statements of the policy attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(template: Template, rolePrefix: string): { Action: string | string[]; Resource: unknown }[] {
  const policies = template.findResources("AWS::IAM::Policy");
  const [policy] = Object.entries(policies).filter(([id]) => id.startsWith(`${rolePrefix}DefaultPolicy`));
  return (policy![1] as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement;
}

describe("GitHub Actions identity stack", () => {
  it("creates the GitHub OIDC provider for the STS audience, and keeps it when the stack is deleted (one per account)", () => {
    const template = synth();
    template.hasResourceProperties("AWS::IAM::OIDCProvider", { Url: "https://token.actions.githubusercontent.com", ClientIdList: ["sts.amazonaws.com"] });
    template.hasResource("AWS::IAM::OIDCProvider", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
  });

  it("imports an existing provider instead of creating a second one", () => {
    const arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
    const template = synth({ existingOidcProviderArn: arn });
    template.resourceCountIs("AWS::IAM::OIDCProvider", 0);
    template.hasResourceProperties("AWS::IAM::Role", { AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Federated: arn } })] }) });
  });

  it("with the repository's ids: trusts only the immutable sub form, the repository id and each role's workflow files on main", () => {
    const template = synth();
    template.resourceCountIs("AWS::IAM::Role", 7);
    const immutable = "repo:acme@1111/shop@2222";
    const expected: Record<string, { sub: string[]; job_workflow_ref: string[]; pullRequest?: true }> = {
      PublishRole: { sub: [`${immutable}:ref:refs/heads/main`], job_workflow_ref: [ref("ci.yml")] },
      RegistryRole: { sub: [`${immutable}:environment:registry`], job_workflow_ref: [ref("setup-registry.yml")] },
      DeployRoleStaging: { sub: [`${immutable}:environment:staging`], job_workflow_ref: [ref("ci.yml"), ref("rollback.yml")] },
      DeployRoleProduction: { sub: [`${immutable}:environment:production`], job_workflow_ref: [ref("ci.yml"), ref("rollback.yml")] },
      // A pull request's jobs: the sub GitHub sends for the pull_request event, ci.yml as on the pull request's merge ref.
      PlanRole: { sub: [`${immutable}:pull_request`], job_workflow_ref: ["acme/shop/.github/workflows/ci.yml@refs/pull/*/merge"], pullRequest: true },
      ProvisionRoleStaging: { sub: [`${immutable}:environment:staging`], job_workflow_ref: [ref("ci.yml")] },
      ProvisionRoleProduction: { sub: [`${immutable}:environment:production`], job_workflow_ref: [ref("ci.yml")] },
    };
    // Exactly these documents: no other condition (no StringLike wildcard), no other principal.
    const [providerId] = Object.keys(template.findResources("AWS::IAM::OIDCProvider"));
    const roles = template.findResources("AWS::IAM::Role") as Record<string, { Properties: { AssumeRolePolicyDocument: unknown } }>;
    expect(Object.keys(roles).map((id) => id.replace(/[0-9A-F]{8}$/, "")).sort()).toEqual(Object.keys(expected).sort());
    for (const [id, role] of Object.entries(roles)) {
      const { sub, job_workflow_ref, pullRequest } = expected[id.replace(/[0-9A-F]{8}$/, "")]!;
      const workflowCondition = { "token.actions.githubusercontent.com:job_workflow_ref": job_workflow_ref };
      expect(role.Properties.AssumeRolePolicyDocument, id).toEqual({
        Version: "2012-10-17",
        Statement: [
          {
            Action: "sts:AssumeRoleWithWebIdentity",
            Effect: "Allow",
            Principal: { Federated: { Ref: providerId } },
            Condition: {
              StringEquals: {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": sub,
                "token.actions.githubusercontent.com:repository_id": "2222",
                ...(pullRequest ? {} : workflowCondition),
              },
              ...(pullRequest ? { StringLike: workflowCondition } : {}),
            },
          },
        ],
      });
    }
    Annotations.fromStack(stackOf()).hasNoWarning("*", Match.anyValue());
  });

  it("trusts no token that a branch, a pull request, a tag, another environment, another workflow or a look-alike sends", () => {
    const roles = trustedConditions(synth());
    const good = { repository_id: "2222" };
    const env = (name: string) => `repo:acme@1111/shop@2222:environment:${name}`;
    for (const [environment, file, assumable] of [
      ["registry", "setup-registry.yml", ["RegistryRole"]],
      // ci.yml's jobs in an environment send one sub for its deploy and its provision job: both roles of that environment.
      ["staging", "ci.yml", ["DeployRoleStaging", "ProvisionRoleStaging"]],
      ["staging", "rollback.yml", ["DeployRoleStaging"]],
      ["production", "ci.yml", ["DeployRoleProduction", "ProvisionRoleProduction"]],
      ["production", "rollback.yml", ["DeployRoleProduction"]],
    ] as const) {
      expect(assumableWith(roles, { ...good, sub: env(environment), job_workflow_ref: ref(file) }).sort(), `${environment} ${file}`).toEqual([...assumable].sort());
    }
    expect(assumableWith(roles, { ...good, sub: "repo:acme@1111/shop@2222:ref:refs/heads/main", job_workflow_ref: ref("ci.yml") })).toEqual(["PublishRole"]);
    const pullRequest = { ...good, sub: "repo:acme@1111/shop@2222:pull_request" };
    for (const number of ["7", "12345"]) expect(assumableWith(roles, { ...pullRequest, job_workflow_ref: `acme/shop/.github/workflows/ci.yml@refs/pull/${number}/merge` })).toEqual(["PlanRole"]);
    const planted: [string, Record<string, string>][] = [
      ["the name form, once the ids are known", { ...good, sub: "repo:acme/shop:environment:production", job_workflow_ref: ref("ci.yml") }],
      ["a workflow file of a branch (an edited ci.yml)", { ...good, sub: env("production"), job_workflow_ref: ref("ci.yml", "feature") }],
      ["a pull request's merge ref", { ...good, sub: env("staging"), job_workflow_ref: "acme/shop/.github/workflows/ci.yml@refs/pull/7/merge" }],
      ["another workflow file on main", { ...good, sub: env("production"), job_workflow_ref: ref("evil.yml") }],
      ["the registry workflow asking for a deploy role", { ...good, sub: env("staging"), job_workflow_ref: ref("setup-registry.yml") }],
      ["rollback asking for the publish role", { ...good, sub: "repo:acme@1111/shop@2222:ref:refs/heads/main", job_workflow_ref: ref("rollback.yml") }],
      ["a reusable workflow of another repository", { ...good, sub: env("production"), job_workflow_ref: "evil/x/.github/workflows/ci.yml@refs/heads/main" }],
      ["no job_workflow_ref claim", { ...good, sub: env("production") }],
      ["another repository id", { repository_id: "9999", sub: env("production"), job_workflow_ref: ref("ci.yml") }],
      ["a branch without an environment", { ...good, sub: "repo:acme@1111/shop@2222:ref:refs/heads/feature", job_workflow_ref: ref("ci.yml", "feature") }],
      ["a pull request", { ...good, sub: "repo:acme@1111/shop@2222:pull_request", job_workflow_ref: ref("ci.yml") }],
      ["a tag", { ...good, sub: "repo:acme@1111/shop@2222:ref:refs/tags/v1.0.0", job_workflow_ref: "acme/shop/.github/workflows/ci.yml@refs/tags/v1.0.0" }],
      ["an environment no role names", { ...good, sub: env("publish"), job_workflow_ref: ref("ci.yml") }],
      ["an environment's name in another case", { ...good, sub: env("Production"), job_workflow_ref: ref("ci.yml") }],
      ["the hyphenated form", { ...good, sub: "repo:acme-1111/shop-2222:environment:production", job_workflow_ref: ref("ci.yml") }],
      ["a re-created repository of the same name", { ...good, sub: "repo:acme@1111/shop@9999:environment:production", job_workflow_ref: ref("ci.yml") }],
      ["a customized sub template", { ...good, sub: `${env("production")}:job_workflow_ref:${ref("ci.yml")}`, job_workflow_ref: ref("ci.yml") }],
      // The plan role: only the pull_request event's sub, ci.yml on a pull request's merge ref, this repository.
      ["pull_request_target (the base branch's workflow)", { ...pullRequest, job_workflow_ref: ref("ci.yml") }],
      ["a pull request's other workflow file", { ...pullRequest, job_workflow_ref: "acme/shop/.github/workflows/evil.yml@refs/pull/7/merge" }],
      ["a pull request's head ref instead of its merge ref", { ...pullRequest, job_workflow_ref: "acme/shop/.github/workflows/ci.yml@refs/pull/7/head" }],
      ["a pull request of another repository", { ...pullRequest, repository_id: "9999", job_workflow_ref: "acme/shop/.github/workflows/ci.yml@refs/pull/7/merge" }],
      ["another repository's workflow on a pull request", { ...pullRequest, job_workflow_ref: "evil/x/.github/workflows/ci.yml@refs/pull/7/merge" }],
      ["a pull request's name-form sub, once the ids are known", { ...good, sub: "repo:acme/shop:pull_request", job_workflow_ref: "acme/shop/.github/workflows/ci.yml@refs/pull/7/merge" }],
      ["a pull request's job in an environment", { ...good, sub: env("staging"), job_workflow_ref: "acme/shop/.github/workflows/ci.yml@refs/pull/7/merge" }],
      ["a pull request without a job_workflow_ref claim", pullRequest],
    ];
    for (const [what, claims] of planted) expect(assumableWith(roles, claims), what).toEqual([]);
  });

  it("without the ids: trusts only the name form, checks no repository id, and warns at synth", () => {
    const roles = trustedConditions(synth(NO_IDS));
    expect(roles.DeployRoleProduction!.equals).toEqual({
      "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
      "token.actions.githubusercontent.com:sub": ["repo:acme/shop:environment:production"],
      "token.actions.githubusercontent.com:job_workflow_ref": [ref("ci.yml"), ref("rollback.yml")],
    });
    expect(assumableWith(roles, { sub: "repo:acme/shop:ref:refs/heads/main", job_workflow_ref: ref("ci.yml") })).toEqual(["PublishRole"]);
    expect(assumableWith(roles, { sub: "repo:acme@1111/shop@2222:ref:refs/heads/main", job_workflow_ref: ref("ci.yml") })).toEqual([]);
    // The plan role in the name form: repo:OWNER/REPO:pull_request, and no repository id to check.
    expect(roles.PlanRole).toEqual({
      equals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": ["repo:acme/shop:pull_request"] },
      like: { "token.actions.githubusercontent.com:job_workflow_ref": ["acme/shop/.github/workflows/ci.yml@refs/pull/*/merge"] },
    });
    expect(assumableWith(roles, { sub: "repo:acme/shop:pull_request", job_workflow_ref: "acme/shop/.github/workflows/ci.yml@refs/pull/3/merge" })).toEqual(["PlanRole"]);
    expect(assumableWith(roles, { sub: "repo:acme@1111/shop@2222:pull_request", job_workflow_ref: "acme/shop/.github/workflows/ci.yml@refs/pull/3/merge" })).toEqual([]);
    Annotations.fromStack(stackOf(NO_IDS)).hasWarning("*", Match.stringLikeRegexp("trust the name form repo:acme/shop:\\.\\.\\. only.*githubOwnerId"));
  });

  it("trusts only the exact sub prefix when one is given (GitHub's sub_claim_prefix), still checking the repository id", () => {
    const more = { "token.actions.githubusercontent.com:repository_id": "2222", "token.actions.githubusercontent.com:job_workflow_ref": Match.anyValue() };
    const template = synth({ subjectPrefix: "repo:acme@1111/shop@2222", registryEnvironment: "ecr-admin" });
    template.hasResourceProperties("AWS::IAM::Role", { AssumeRolePolicyDocument: trust(["repo:acme@1111/shop@2222:ref:refs/heads/main"], more) });
    template.hasResourceProperties("AWS::IAM::Role", { AssumeRolePolicyDocument: trust(["repo:acme@1111/shop@2222:environment:ecr-admin"], more) });
    // An older repository that has not opted in sends the name form: trusted only when asked for, the id still checked.
    const roles = trustedConditions(synth({ subjectPrefix: "repo:acme/shop" }));
    expect(assumableWith(roles, { repository_id: "2222", sub: "repo:acme/shop:ref:refs/heads/main", job_workflow_ref: ref("ci.yml") })).toEqual(["PublishRole"]);
    expect(assumableWith(roles, { repository_id: "9999", sub: "repo:acme/shop:ref:refs/heads/main", job_workflow_ref: ref("ci.yml") })).toEqual([]);
  });

  it("follows another branch when asked, in the sub and in the workflow refs", () => {
    synth({ branch: "release" }).hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: trust(["repo:acme@1111/shop@2222:ref:refs/heads/release"], { "token.actions.githubusercontent.com:job_workflow_ref": [ref("ci.yml", "release")] }),
    });
  });

  it("checks no job_workflow_ref with workflowClaims=false, and warns", () => {
    const roles = trustedConditions(synth({ workflowClaims: "false" }));
    for (const { equals, like: patterns } of Object.values(roles)) expect([...Object.keys(equals), ...Object.keys(patterns)]).not.toContain("token.actions.githubusercontent.com:job_workflow_ref");
    Annotations.fromStack(stackOf({ workflowClaims: "false" })).hasWarning("*", Match.stringLikeRegexp("do not check job_workflow_ref"));
  });

  it("names as each role's workflows exactly the files whose jobs use that role's variable", () => {
    const variables = { publish: "AWS_PUBLISH_ROLE_ARN", registry: "AWS_REGISTRY_ROLE_ARN", deploy: "AWS_DEPLOY_ROLE_ARN", plan: "AWS_PLAN_ROLE_ARN", provision: "AWS_PROVISION_ROLE_ARN" };
    const files = ["ci.yml", "rollback.yml", "setup-registry.yml"];
    for (const [role, variable] of Object.entries(variables)) {
      const users = files.filter((file) => readFileSync(path.join(ROOT, ".github/workflows", file), "utf8").includes(`role-to-assume: \${{ vars.${variable} }}`));
      expect([...ROLE_WORKFLOWS[role as keyof typeof ROLE_WORKFLOWS]], role).toEqual(users);
    }
  });

  it("lets the publish role log in anywhere but push (and pull, for release-sbom) only in the one repository", () => {
    const statements = statementsOf(synth(), "PublishRole");
    const [profileId] = Object.keys(synth().findResources("AWS::Signer::SigningProfile"));
    expect(statements).toEqual([
      { Action: LOGIN_ACTIONS[0], Effect: "Allow", Resource: "*" },
      { Action: sorted(PUBLISH_ACTIONS), Effect: "Allow", Resource: REPOSITORY_ARN },
      // ECR managed signing signs with the pusher's identity: the one signing profile, nothing else of Signer.
      { Action: "signer:SignPayload", Effect: "Allow", Resource: { "Fn::GetAtt": [profileId, "Arn"] } },
    ]);
    expect(SIGN_ON_PUSH_ACTIONS).toEqual(["signer:SignPayload"]);
    expect(PUBLISH_ACTIONS).toEqual([
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:DescribeImages",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]);
    expect(PUBLISH_ACTIONS).toEqual(expect.arrayContaining([...PUSH_ACTIONS, ...PULL_ACTIONS, ...RELEASE_SBOM_API_ACTIONS]));
    expect(PUBLISH_ACTIONS).not.toContain("ecr:DescribeRepositories");
  });

  it("lets the registry role manage only the one repository, and not push", () => {
    const statements = statementsOf(synth(), "RegistryRole");
    expect(statements).toEqual([
      { Action: sorted(REGISTRY_ACTIONS), Effect: "Allow", Resource: REPOSITORY_ARN },
      // The signing configuration is the registry's own: no resource-level permission exists for it.
      { Action: REGISTRY_SIGNING_ACTIONS, Effect: "Allow", Resource: "*" },
    ]);
    expect(REGISTRY_ACTIONS).not.toContain("ecr:PutImage");
    expect(REGISTRY_ACTIONS).toContain("ecr:PutLifecyclePolicy");
  });

  it("lets each deploy role touch only its environment: its service, family, tasks, the repository, its two task roles", () => {
    const statements = statementsOf(synth(), "DeployRoleStaging") as { Action: string | string[]; Resource: unknown; Condition?: unknown }[];
    const ecsArn = (resource: string) => `arn:aws:ecs:eu-west-1:123456789012:${resource}`;
    const iamArn = (name: string) => `arn:aws:iam::123456789012:role/${name}`;
    // Statements with the same resources and conditions are merged, actions and resources sorted (minimizePolicies).
    expect(statements).toEqual([
      { Action: sorted(SERVICE_ACTIONS, SERVICE_TAG_ACTIONS), Effect: "Allow", Resource: ecsArn("service/hono-ecr-service-staging/web") },
      { Action: sorted(SERVICE_DEPLOYMENT_ACTIONS), Effect: "Allow", Resource: [ecsArn("service-deployment/hono-ecr-service-staging/web/*"), ecsArn("service/hono-ecr-service-staging/web")] },
      // Only actions without resource-level permissions on "*" (checked below, action by action).
      { Action: sorted(TASK_DEFINITION_ACTIONS, LOAD_BALANCER_READ_ACTIONS, SIGNING_CONFIGURATION_ACTIONS, ENHANCED_SCAN_ACTIONS), Effect: "Allow", Resource: "*" },
      { Action: "ecs:TagResource", Effect: "Allow", Resource: ecsArn("task-definition/hono-ecr-service-staging:*"), Condition: { StringEquals: { "ecs:CreateAction": "RegisterTaskDefinition" } } },
      { Action: "ecs:ListTasks", Effect: "Allow", Resource: "*", Condition: { ArnEquals: { "ecs:cluster": ecsArn("cluster/hono-ecr-service-staging") } } },
      { Action: "ecs:DescribeTasks", Effect: "Allow", Resource: ecsArn("task/hono-ecr-service-staging/*") },
      // Re-tagging (deployed-<env>, rollback-<env>) in its repository and nothing more: no layer upload, no delete.
      { Action: sorted(IMAGE_READ_ACTIONS, RETAG_ACTIONS), Effect: "Allow", Resource: REPOSITORY_ARN },
      // Whether provision is changing the environment's stack (deploy refuses then): that stack only.
      { Action: "cloudformation:DescribeStacks", Effect: "Allow", Resource: "arn:aws:cloudformation:eu-west-1:123456789012:stack/HonoService-staging/*" },
      {
        Action: "iam:PassRole",
        Effect: "Allow",
        Resource: [iamArn("hono-ecr-service-staging-execution"), iamArn("hono-ecr-service-staging-task")],
        Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      },
    ]);
    // Production's role names production's resources only.
    const production = JSON.stringify(statementsOf(synth(), "DeployRoleProduction"));
    expect(production).toContain("service/hono-ecr-service-production/web");
    expect(production).not.toContain("staging");
    // "*" only for actions without resource-level permissions.
    for (const statement of statements.filter((candidate) => candidate.Resource === "*")) {
      for (const action of ([] as string[]).concat(statement.Action)) expect([...TASK_DEFINITION_ACTIONS, "ecs:ListTasks", ...LOAD_BALANCER_READ_ACTIONS, ...SIGNING_CONFIGURATION_ACTIONS, ...ENHANCED_SCAN_ACTIONS]).toContain(action);
    }
  });

  it("lets the plan role assume only the CDK lookup role, and each provision role only the deploy, file-publishing and lookup roles", () => {
    const template = synth();
    // enablePartitionLiterals (cdk.json): the partition of a stack in a known region is written out, not Ref AWS::Partition.
    const bootstrapRole = (kind: string, qualifier = "hnb659fds") => `arn:aws:iam::123456789012:role/cdk-${qualifier}-${kind}-role-123456789012-eu-west-1`;
    expect(statementsOf(template, "PlanRole")).toEqual([{ Action: "sts:AssumeRole", Effect: "Allow", Resource: bootstrapRole("lookup") }]);
    for (const role of ["ProvisionRoleStaging", "ProvisionRoleProduction"]) {
      expect(statementsOf(template, role), role).toEqual([{ Action: "sts:AssumeRole", Effect: "Allow", Resource: ["deploy", "file-publishing", "lookup"].map((kind) => bootstrapRole(kind)) }]);
    }
    expect(ASSUMABLE_BOOTSTRAP_ROLES).toEqual({ plan: ["lookup"], provision: ["deploy", "file-publishing", "lookup"] });
    // Nothing else: one policy each (that statement), no managed policy, no inline policy, no boundary to widen.
    const roles = template.findResources("AWS::IAM::Role") as Record<string, { Properties: Record<string, unknown> }>;
    const policies = Object.values(template.findResources("AWS::IAM::Policy")) as { Properties: { Roles: { Ref: string }[] } }[];
    for (const [id, role] of Object.entries(roles).filter(([candidate]) => /^(PlanRole|ProvisionRole)/.test(candidate))) {
      expect(Object.keys(role.Properties).sort(), id).toEqual(["AssumeRolePolicyDocument", "Description"]);
      expect(policies.filter((policy) => policy.Properties.Roles.some((attached) => attached.Ref === id)), id).toHaveLength(1);
    }
    // Another bootstrap qualifier, from context: ours, else CDK's own key (the one the service stacks' synthesizer reads).
    expect(statementsOf(synth({ cdkQualifier: "shop1" }), "PlanRole")).toEqual([{ Action: "sts:AssumeRole", Effect: "Allow", Resource: bootstrapRole("lookup", "shop1") }]);
    expect(statementsOf(synth({ "@aws-cdk/core:bootstrapQualifier": "shop2" }), "PlanRole")).toEqual([{ Action: "sts:AssumeRole", Effect: "Allow", Resource: bootstrapRole("lookup", "shop2") }]);
    expect(() => settings({ "@aws-cdk/core:bootstrapQualifier": "a b" })).toThrow('context @aws-cdk/core:bootstrapQualifier="a b" is invalid: expected a cdk bootstrap qualifier');
  });

  it("refuses more environments than the lifecycle policy keeps the running and rollback releases of", () => {
    const environments = Array.from({ length: MAX_ENVIRONMENTS + 1 }, (_, i) => `env${i}`);
    expect(() => new GithubActionsIdentityStack(cdkApp(), "Identity", { settings: settings(), environments, env: { account: "123456789012", region: "eu-west-1" } })).toThrow(
      `${MAX_ENVIRONMENTS + 1} environments share ECR repository shop/web: at most ${MAX_ENVIRONMENTS}`,
    );
    expect(Object.keys(ENVIRONMENTS).length).toBeLessThanOrEqual(MAX_ENVIRONMENTS);
  });

  it("creates the Notation signing profile ECR signs the images with", () => {
    synth().hasResourceProperties("AWS::Signer::SigningProfile", { PlatformId: "Notation-OCI-SHA384-ECDSA", SignatureValidityPeriod: { Type: "DAYS", Value: 730 } });
  });

  it("outputs the values for the repository variables", () => {
    const outputs = synth().findOutputs("*");
    expect(Object.keys(outputs).sort()).toEqual([
      "AwsRegion",
      "CloudFormationExecutionPolicyArn",
      "DeployRoleProductionArn",
      "DeployRoleStagingArn",
      "EcrRepositoryName",
      "PermissionsBoundaryArn",
      "PlanRoleArn",
      "ProvisionRoleProductionArn",
      "ProvisionRoleStagingArn",
      "PublishRoleArn",
      "RegistryRoleArn",
      "SigningProfileArn",
    ]);
    // The forms bootstrap parses to print the gh variable set lines (agreed with dagger/src's bootstrap).
    expect(outputs.PlanRoleArn!.Description).toBe("Repository variable AWS_PLAN_ROLE_ARN");
    expect(outputs.ProvisionRoleProductionArn!.Description).toBe("Variable AWS_PROVISION_ROLE_ARN of the GitHub environment production");
    expect(outputs.CloudFormationExecutionPolicyArn!.Description).toBe("cdk bootstrap --cloudformation-execution-policies (bootstrap passes it)");
    expect(outputs.DeployRoleStagingArn!.Description).toBe("Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment staging");
    expect(outputs.PublishRoleArn!.Description).toBe("Repository variable AWS_PUBLISH_ROLE_ARN");
    expect(outputs.EcrRepositoryName!.Value).toBe("shop/web");
  });
});

describe("context validation", () => {
  it.each([
    [{ githubRepository: "" }, "context githubRepository is required: pass -c githubRepository=OWNER/REPO"],
    [{ githubRepository: "acme" }, 'context githubRepository="acme" is invalid: expected OWNER/REPO, e.g. acme/shop'],
    [{ githubOwnerId: "" }, "context githubOwnerId is required with the other id: pass both -c githubOwnerId=... -c githubRepositoryId=... (from: gh api repos/acme/shop --jq '.owner.id, .id'), or neither"],
    [{ githubOwnerId: "", githubRepositoryId: "", subjectPrefix: "repo:acme@1111/shop@2222" }, "context subjectPrefix=\"repo:acme@1111/shop@2222\" is invalid: expected one of repo:acme/shop (from githubRepository; the id form needs githubOwnerId and githubRepositoryId)"],
    [{ workflowClaims: "no" }, 'context workflowClaims="no" is invalid: expected true or false'],
    [{ githubRepositoryId: "12a" }, 'context githubRepositoryId="12a" is invalid: expected the repository\'s numeric id'],
    [{ branch: "bad..branch" }, 'context branch="bad..branch" is invalid: expected a git branch name, e.g. main'],
    [{ ecrRepository: "Shop" }, 'repository "Shop" is not a valid ECR repository name'],
    [{ region: "europe" }, 'region "europe" is not an AWS region name'],
    [{ existingOidcProviderArn: "arn:aws:iam::123:oidc-provider/x" }, 'context existingOidcProviderArn="arn:aws:iam::123:oidc-provider/x" is invalid'],
    [{ registryEnvironment: "a b" }, 'context registryEnvironment="a b" is invalid: expected a GitHub environment name'],
    [{ subjectPrefix: "repo:acme-1111/shop-2222" }, 'context subjectPrefix="repo:acme-1111/shop-2222" is refused: the hyphenated id form can be produced by anyone'],
    [{ cdkQualifier: "toolong12345" }, 'context cdkQualifier="toolong12345" is invalid: expected a cdk bootstrap qualifier: 1 to 10 letters, digits, _ or -'],
    [{ subjectPrefix: "repo:acme/other" }, 'context subjectPrefix="repo:acme/other" is invalid: expected one of repo:acme/shop or repo:acme@1111/shop@2222'],
  ])("rejects %j", (overrides, message) => {
    expect(() => settings(overrides)).toThrow(InputError);
    expect(() => settings(overrides)).toThrow(message);
  });

  it("defaults the branch to main, the repository to hono-ecr-service, the region to the CLI's", () => {
    const read = readIdentitySettings((key) => ({ githubRepository: "acme/shop", githubOwnerId: "1", githubRepositoryId: "2" })[key], "ap-southeast-2");
    expect(read).toEqual({
      githubRepository: "acme/shop",
      githubOwnerId: "1",
      githubRepositoryId: "2",
      branch: "main",
      registryEnvironment: "registry",
      workflowClaims: true,
      ecrRepository: "hono-ecr-service",
      region: "ap-southeast-2",
      cdkQualifier: "hnb659fds",
    });
    expect(() => readIdentitySettings((key) => ({ githubRepository: "acme/shop", githubOwnerId: "1", githubRepositoryId: "2" })[key])).toThrow("context region is required");
  });
});
