// The identity stack (infra/github-actions-identity-stack.ts), synthesized offline, checked with aws-cdk-lib/assertions.
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { InputError } from "../dagger/src/ecr/validate.js";
import { readIdentitySettings, type IdentitySettings } from "../infra/config.js";
import { ENHANCED_SCAN_ACTIONS, IMAGE_READ_ACTIONS, LOAD_BALANCER_READ_ACTIONS, SERVICE_ACTIONS, SIGNING_CONFIGURATION_ACTIONS, TASK_DEFINITION_ACTIONS } from "../infra/deploy-permissions.js";
import { LOGIN_ACTIONS, PUBLISH_ACTIONS, PUSH_ACTIONS, REGISTRY_ACTIONS, REGISTRY_SIGNING_ACTIONS, SIGN_ON_PUSH_ACTIONS } from "../infra/ecr-permissions.js";
import { GithubActionsIdentityStack } from "../infra/github-actions-identity-stack.js";

const CONTEXT: Record<string, string> = { githubRepository: "acme/shop", githubOwnerId: "1111", githubRepositoryId: "2222", region: "eu-west-1", ecrRepository: "shop/web" };
const settings = (overrides: Record<string, string> = {}): IdentitySettings => readIdentitySettings((key) => ({ ...CONTEXT, ...overrides })[key]);

function synth(overrides: Record<string, string> = {}): Template {
  const app = new App();
  const stack = new GithubActionsIdentityStack(app, "Identity", { settings: settings(overrides), environments: ["staging", "production"], env: { account: "123456789012", region: "eu-west-1" } });
  return Template.fromStack(stack);
}

/** The repository's ARN as CloudFormation builds it (partition-aware: aws, aws-cn, aws-us-gov). */
const REPOSITORY_ARN = { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":ecr:eu-west-1:123456789012:repository/shop/web"]] };
const trust = (subjects: string[]) =>
  Match.objectLike({
    Statement: [
      {
        Action: "sts:AssumeRoleWithWebIdentity",
        Effect: "Allow",
        Principal: { Federated: Match.anyValue() },
        Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": subjects } },
      },
    ],
  });

/** Each role's trusted `sub` values, by logical id without CDK's hash; every role must trust by exact StringEquals only. */
function trustedSubjects(template: Template): Record<string, string[]> {
  const roles = template.findResources("AWS::IAM::Role") as Record<string, { Properties: { AssumeRolePolicyDocument: { Statement: { Condition: Record<string, Record<string, string[]>> }[] } } }>;
  return Object.fromEntries(
    Object.entries(roles).map(([id, role]) => {
      const [statement, ...others] = role.Properties.AssumeRolePolicyDocument.Statement;
      expect(others).toEqual([]);
      expect(Object.keys(statement!.Condition)).toEqual(["StringEquals"]);
      return [id.replace(/[0-9A-F]{8}$/, ""), statement!.Condition.StringEquals!["token.actions.githubusercontent.com:sub"]!];
    }),
  );
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

  it("trusts the publish role to main and the registry role to the registry environment, in both sub forms", () => {
    const template = synth();
    template.resourceCountIs("AWS::IAM::Role", 4);
    const subjects = {
      PublishRole: ["repo:acme/shop:ref:refs/heads/main", "repo:acme@1111/shop@2222:ref:refs/heads/main"],
      RegistryRole: ["repo:acme/shop:environment:registry", "repo:acme@1111/shop@2222:environment:registry"],
      DeployRoleStaging: ["repo:acme/shop:environment:staging", "repo:acme@1111/shop@2222:environment:staging"],
      DeployRoleProduction: ["repo:acme/shop:environment:production", "repo:acme@1111/shop@2222:environment:production"],
    };
    // Exactly these documents: no other condition (no StringLike wildcard), no other principal.
    const [providerId] = Object.keys(template.findResources("AWS::IAM::OIDCProvider"));
    const roles = template.findResources("AWS::IAM::Role") as Record<string, { Properties: { AssumeRolePolicyDocument: unknown } }>;
    expect(Object.keys(roles).map((id) => id.replace(/[0-9A-F]{8}$/, "")).sort()).toEqual(["DeployRoleProduction", "DeployRoleStaging", "PublishRole", "RegistryRole"]);
    for (const [id, role] of Object.entries(roles)) {
      const sub = subjects[id.replace(/[0-9A-F]{8}$/, "") as keyof typeof subjects];
      expect(role.Properties.AssumeRolePolicyDocument).toEqual({
        Version: "2012-10-17",
        Statement: [
          {
            Action: "sts:AssumeRoleWithWebIdentity",
            Effect: "Allow",
            Principal: { Federated: { Ref: providerId } },
            Condition: { StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": sub } },
          },
        ],
      });
    }
  });

  it("trusts no sub that a branch, a pull request, a tag, another environment or a look-alike name sends", () => {
    const roles = trustedSubjects(synth());
    /** The roles a token with this `sub` (and aud sts.amazonaws.com) may assume: an exact StringEquals match. */
    const assumable = (sub: string) => Object.entries(roles).filter(([, subs]) => subs.includes(sub)).map(([id]) => id);
    // Each environment's role: only jobs in that environment, in both forms; the publish role: only main.
    for (const environment of ["registry", "staging", "production"]) {
      const role = environment === "registry" ? "RegistryRole" : `DeployRole${environment[0]!.toUpperCase()}${environment.slice(1)}`;
      expect(assumable(`repo:acme/shop:environment:${environment}`)).toEqual([role]);
      expect(assumable(`repo:acme@1111/shop@2222:environment:${environment}`)).toEqual([role]);
    }
    expect(assumable("repo:acme/shop:ref:refs/heads/main")).toEqual(["PublishRole"]);
    expect(assumable("repo:acme@1111/shop@2222:ref:refs/heads/main")).toEqual(["PublishRole"]);
    for (const sub of [
      "repo:acme/shop:ref:refs/heads/feature", // a branch without an environment
      "repo:acme/shop:pull_request", // a pull request (from a fork or a branch)
      "repo:acme/shop:ref:refs/tags/v1.0.0",
      "repo:acme/shop:environment:publish", // an environment no role names
      "repo:acme/shop:environment:Production",
      "repo:acme-1111/shop-2222:environment:production", // the hyphenated form: registrable by anyone as names
      "repo:acme@1111/shop@9999:environment:production", // a repository of the same name, re-created (new id)
      "repo:acme/shop-fork:environment:production",
      "repo:acme/shop:environment:production:ref:refs/heads/main", // a customized sub template
    ]) {
      expect(assumable(sub), sub).toEqual([]);
    }
  });

  it("trusts only the exact sub prefix when one is given (GitHub's sub_claim_prefix)", () => {
    const template = synth({ subjectPrefix: "repo:acme@1111/shop@2222", registryEnvironment: "ecr-admin" });
    template.hasResourceProperties("AWS::IAM::Role", { AssumeRolePolicyDocument: trust(["repo:acme@1111/shop@2222:ref:refs/heads/main"]) });
    template.hasResourceProperties("AWS::IAM::Role", { AssumeRolePolicyDocument: trust(["repo:acme@1111/shop@2222:environment:ecr-admin"]) });
  });

  it("follows another branch when asked", () => {
    synth({ branch: "release" }).hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: trust(["repo:acme/shop:ref:refs/heads/release", "repo:acme@1111/shop@2222:ref:refs/heads/release"]),
    });
  });

  it("lets the publish role log in anywhere but push only to the one repository", () => {
    const statements = statementsOf(synth(), "PublishRole");
    const [profileId] = Object.keys(synth().findResources("AWS::Signer::SigningProfile"));
    expect(statements).toEqual([
      { Action: LOGIN_ACTIONS[0], Effect: "Allow", Resource: "*" },
      { Action: PUBLISH_ACTIONS, Effect: "Allow", Resource: REPOSITORY_ARN },
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
    ]);
    expect(PUBLISH_ACTIONS).toEqual(expect.arrayContaining(PUSH_ACTIONS));
    expect(PUBLISH_ACTIONS).not.toContain("ecr:DescribeRepositories");
  });

  it("lets the registry role manage only the one repository, and not push", () => {
    const statements = statementsOf(synth(), "RegistryRole");
    expect(statements).toEqual([
      { Action: REGISTRY_ACTIONS, Effect: "Allow", Resource: REPOSITORY_ARN },
      // The signing configuration is the registry's own: no resource-level permission exists for it.
      { Action: REGISTRY_SIGNING_ACTIONS, Effect: "Allow", Resource: "*" },
    ]);
    expect(REGISTRY_ACTIONS).not.toContain("ecr:PutImage");
    expect(REGISTRY_ACTIONS).toContain("ecr:PutLifecyclePolicy");
  });

  it("lets each deploy role touch only its environment: its service, family, tasks, the repository, its two task roles", () => {
    const statements = statementsOf(synth(), "DeployRoleStaging") as { Action: string | string[]; Resource: unknown; Condition?: unknown }[];
    const ecsArn = (resource: string) => ({ "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, `:ecs:eu-west-1:123456789012:${resource}`]] });
    const iamArn = (name: string) => ({ "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, `:iam::123456789012:role/${name}`]] });
    expect(statements).toEqual([
      { Action: SERVICE_ACTIONS, Effect: "Allow", Resource: ecsArn("service/hono-ecr-service-staging/web") },
      { Action: TASK_DEFINITION_ACTIONS, Effect: "Allow", Resource: "*" },
      { Action: "ecs:TagResource", Effect: "Allow", Resource: ecsArn("task-definition/hono-ecr-service-staging:*"), Condition: { StringEquals: { "ecs:CreateAction": "RegisterTaskDefinition" } } },
      { Action: "ecs:ListTasks", Effect: "Allow", Resource: "*", Condition: { ArnEquals: { "ecs:cluster": ecsArn("cluster/hono-ecr-service-staging") } } },
      { Action: "ecs:DescribeTasks", Effect: "Allow", Resource: ecsArn("task/hono-ecr-service-staging/*") },
      { Action: LOAD_BALANCER_READ_ACTIONS, Effect: "Allow", Resource: "*" },
      { Action: IMAGE_READ_ACTIONS, Effect: "Allow", Resource: REPOSITORY_ARN },
      { Action: [...SIGNING_CONFIGURATION_ACTIONS, ...ENHANCED_SCAN_ACTIONS], Effect: "Allow", Resource: "*" },
      {
        Action: "iam:PassRole",
        Effect: "Allow",
        Resource: [iamArn("hono-ecr-service-staging-task"), iamArn("hono-ecr-service-staging-execution")],
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

  it("creates the Notation signing profile ECR signs the images with", () => {
    synth().hasResourceProperties("AWS::Signer::SigningProfile", { PlatformId: "Notation-OCI-SHA384-ECDSA", SignatureValidityPeriod: { Type: "DAYS", Value: 730 } });
  });

  it("outputs the values for the repository variables", () => {
    const outputs = synth().findOutputs("*");
    expect(Object.keys(outputs).sort()).toEqual(["AwsRegion", "DeployRoleProductionArn", "DeployRoleStagingArn", "EcrRepositoryName", "PublishRoleArn", "RegistryRoleArn", "SigningProfileArn"]);
    expect(outputs.DeployRoleStagingArn!.Description).toBe("Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment staging");
    expect(outputs.PublishRoleArn!.Description).toBe("Repository variable AWS_PUBLISH_ROLE_ARN");
    expect(outputs.EcrRepositoryName!.Value).toBe("shop/web");
  });
});

describe("context validation", () => {
  it.each([
    [{ githubRepository: "" }, "context githubRepository is required: pass -c githubRepository=OWNER/REPO"],
    [{ githubRepository: "acme" }, 'context githubRepository="acme" is invalid: expected OWNER/REPO, e.g. acme/shop'],
    [{ githubOwnerId: "" }, "context githubOwnerId is required: pass -c githubOwnerId=... -c githubRepositoryId=... (from: gh api repos/acme/shop --jq '.owner.id, .id')"],
    [{ githubRepositoryId: "12a" }, 'context githubRepositoryId="12a" is invalid: expected the repository\'s numeric id'],
    [{ branch: "bad..branch" }, 'context branch="bad..branch" is invalid: expected a git branch name, e.g. main'],
    [{ ecrRepository: "Shop" }, 'repository "Shop" is not a valid ECR repository name'],
    [{ region: "europe" }, 'region "europe" is not an AWS region name'],
    [{ existingOidcProviderArn: "arn:aws:iam::123:oidc-provider/x" }, 'context existingOidcProviderArn="arn:aws:iam::123:oidc-provider/x" is invalid'],
    [{ registryEnvironment: "a b" }, 'context registryEnvironment="a b" is invalid: expected a GitHub environment name'],
    [{ subjectPrefix: "repo:acme-1111/shop-2222" }, 'context subjectPrefix="repo:acme-1111/shop-2222" is refused: the hyphenated id form can be produced by anyone'],
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
      ecrRepository: "hono-ecr-service",
      region: "ap-southeast-2",
    });
    expect(() => readIdentitySettings((key) => ({ githubRepository: "acme/shop", githubOwnerId: "1", githubRepositoryId: "2" })[key])).toThrow("context region is required");
  });
});
