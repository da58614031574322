// The CloudFormation execution policy (infra/execution-policy.ts) against what the service stacks really contain:
// every service stack synthesized (each environment, and variants turning on every optional resource), every resource
// type covered, no type granted that no template has, IAM limited to the stacks' own role names.
import { spawnSync } from "node:child_process";
import { type App, Stack } from "aws-cdk-lib";
import type { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceStackName } from "../dagger/src/deploy/names.js";
import { readIdentitySettings } from "../infra/config.js";
import { ENVIRONMENTS, validateEnvironment, type EnvironmentConfig } from "../infra/environments.js";
import { ASSET_READ_ACTIONS, EXECUTION_PERMISSIONS, executionPolicyDocuments, executionPolicyStatements, SERVICE_BUCKET_NAME_PATTERN, SERVICE_FUNCTION_NAME_PATTERN, SERVICE_ROLE_NAME_PATTERNS } from "../infra/execution-policy.js";
import { GithubActionsIdentityStack } from "../infra/github-actions-identity-stack.js";
import { ServiceStack } from "../infra/service-stack.js";
import { cdkApp } from "./helpers/cdk-app.js";
import { FAKE_CREDENTIALS, motoUnavailableReason, startMoto, type Moto } from "./helpers/moto.js";
import { createStackInMoto, motoCloudFormationTypes, MOTO_REGION, templateForMoto } from "./helpers/moto-cloudformation.js";

const DEFAULTS = { region: "eu-west-1", ecrRepository: "shop/web" };
const CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9";
// As `cdk synth` runs the app: cdk.json's feature flags, and analytics reporting on (the AWS::CDK::Metadata resource;
// the context key App's analyticsReporting sets, aws-cdk-lib cx-api ANALYTICS_REPORTING_ENABLED_CONTEXT).
const synthApp = () => cdkApp({ "aws:cdk:version-reporting": true });
type Resource = { Type: string; Properties?: Record<string, unknown> };

const staging = ENVIRONMENTS.staging!;
/** Each environment as configured, and staging with each optional resource turned on. */
const VARIANTS: [string, string, EnvironmentConfig][] = [
  ...Object.entries(ENVIRONMENTS).map(([name, config]): [string, string, EnvironmentConfig] => [name, name, config]),
  ["staging with HTTPS, a domain and alarm e-mail", "staging", { ...staging, certificateArn: CERTIFICATE, domainName: "api.example.com", alarmEmail: "ops@example.com" }],
  ["staging with a NAT gateway", "staging", { ...staging, network: { maxAzs: 2, natGateways: 1, cidr: "10.10.0.0/16" } }],
  ["staging with access and flow logs", "staging", { ...staging, accessLogRetentionDays: 7, flowLogRetentionDays: 7 }],
  ["staging in an existing VPC, canary", "staging", {
    ...staging,
    scaleOnRequestsPerTarget: undefined,
    deployment: { strategy: "CANARY", bakeTimeMinutes: 5, stepPercent: 10, stepBakeTimeMinutes: 3 },
    network: { existingVpcId: "vpc-0123456789abcdef0", availabilityZones: ["eu-west-1a", "eu-west-1b"], publicSubnetIds: ["subnet-0000000000000000a", "subnet-0000000000000000b"], privateSubnetIds: ["subnet-0000000000000000c", "subnet-0000000000000000d"] },
  }],
];
const templates = VARIANTS.map(([what, name, config]) => {
  const settings = validateEnvironment(name, config, DEFAULTS);
  const resources = Template.fromStack(new ServiceStack(synthApp(), serviceStackName(name), { settings, env: { region: settings.region } })).toJSON().Resources as Record<string, Resource>;
  return { what, resources: Object.values(resources) };
});
const typesIn = (resources: Resource[]) => [...new Set(resources.map((resource) => resource.Type))].sort();

const identity = () => {
  const context: Record<string, string> = { githubRepository: "acme/shop", githubOwnerId: "1111", githubRepositoryId: "2222", region: "eu-west-1" };
  return new GithubActionsIdentityStack(synthApp(), "Identity", { settings: readIdentitySettings((key) => context[key]), environments: Object.keys(ENVIRONMENTS), env: { account: "123456789012", region: "eu-west-1" } });
};
type Statement = { Sid: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, string[]>> };
type Policy = { Properties: { PolicyDocument: { Statement: Statement[] } } };
/** The execution policies' statements (the resources' managed policy, then IAM's), and each policy's document. */
const executionPoliciesOf = (template: Template): Policy[] => {
  const policies = Object.entries(template.findResources("AWS::IAM::ManagedPolicy")) as [string, Policy][];
  return ["CloudFormationExecutionPolicy", "CloudFormationExecutionRolesPolicy"].map((prefix) => policies.find(([id]) => id.startsWith(prefix))![1]);
};
const policyOf = (template: Template): Statement[] => executionPoliciesOf(template).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
const actionsOf = (statement: Statement) => [statement.Action].flat();

describe("the CloudFormation execution policy", () => {
  it("covers every resource type of every service stack, and grants nothing for a type none contains", () => {
    const present = typesIn(templates.flatMap((template) => template.resources));
    for (const { what, resources } of templates) {
      for (const type of typesIn(resources)) expect(EXECUTION_PERMISSIONS, `${what}: ${type}`).toHaveProperty([type]);
    }
    expect(Object.keys(EXECUTION_PERMISSIONS).sort()).toEqual(present);
    // The variants do add types (else they prove nothing beyond the environments).
    const environmentsOnly = typesIn(templates.slice(0, Object.keys(ENVIRONMENTS).length).flatMap((template) => template.resources));
    expect(present.filter((type) => !environmentsOnly.includes(type))).toEqual(expect.arrayContaining(["AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::SNS::Subscription"]));
  });

  it("is the identity stack's managed policy, exactly the statements the table gives", () => {
    const stack = identity();
    const resolve = (statements: PolicyStatement[]) => statements.map((statement) => Stack.of(stack).resolve(statement.toStatementJson()) as Statement);
    const documents = executionPolicyDocuments(executionPolicyStatements(stack, "hnb659fds")).map(resolve);
    expect(policyOf(Template.fromStack(stack))).toEqual(documents.flat());
    expect(documents.map((statements) => statements.map((statement) => statement.Sid))).toEqual([
      ["ServiceResources", "ServiceBuckets", "ServiceFunctions", "BootstrapAssets"],
      ["ServiceRoles", "BoundedServiceRoles", "PassServiceRoles", "ServiceLinkedRoles"],
    ]);
    // IAM's limit for a managed policy: 6,144 characters without whitespace, the whole document (ARNs resolved for a
    // 12-digit account); both halves in one policy would be above it.
    const size = (statements: Statement[]) =>
      JSON.stringify({ Version: "2012-10-17", Statement: statements }).replace(/\{"Fn::Join":\["",\[(.*?)\]\]\}/g, (_, parts: string) => `"${parts.replace(/\{"Ref":"AWS::Partition"\}/g, "aws").replace(/[",]/g, "")}"`).length;
    for (const statements of documents) expect(size(statements)).toBeLessThan(6144);
    expect(size(documents.flat())).toBeGreaterThan(6144);
    expect(() => executionPolicyStatements(stack, "hnb659fds", ["AWS::DynamoDB::Table"])).toThrow("no execution permissions for resource type AWS::DynamoDB::Table: add its entry to infra/execution-policy.ts");
  });

  it("limits IAM to the service stacks' role names, with no managed-policy attachment and no other service's roles", () => {
    const statements = policyOf(Template.fromStack(identity()));
    // enablePartitionLiterals (cdk.json): the partition of a stack with a known region is written out.
    const role = (pattern: string) => `arn:aws:iam::123456789012:role/${pattern}`;
    for (const statement of statements) {
      const iam = actionsOf(statement).filter((action) => action.startsWith("iam:"));
      if (iam.length === 0) continue;
      if (statement.Sid === "ServiceLinkedRoles") {
        expect(statement.Resource).toEqual(role("aws-service-role/*"));
        expect(statement.Condition).toEqual({ StringEquals: { "iam:AWSServiceName": ["ecs.amazonaws.com", "ecs.application-autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com"] } });
      } else {
        expect(statement.Resource, statement.Sid).toEqual(SERVICE_ROLE_NAME_PATTERNS.map(role));
      }
    }
    const all = statements.flatMap(actionsOf);
    for (const forbidden of ["iam:AttachRolePolicy", "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:CreateUser", "iam:CreateOpenIDConnectProvider", "iam:DeleteRolePermissionsBoundary", "sts:AssumeRole", "kms:Decrypt"]) expect(all).not.toContain(forbidden);
    // No service-wide wildcard: only the read-only Describe families carry a *.
    expect(all.filter((action) => action.includes("*"))).toEqual(["ec2:Describe*", "elasticloadbalancing:Describe*"]);
    // Nothing of IAM, S3 or STS on "*".
    const anywhere = statements.filter((statement) => statement.Resource === "*").flatMap(actionsOf);
    expect(anywhere.filter((action) => /^(iam|s3|sts|kms):/.test(action))).toEqual([]);
  });

  it("names every role and bucket the service stacks create, and passes roles only to the services they trust", () => {
    const resources = templates.flatMap((template) => template.resources);
    const roles = resources.filter((resource) => resource.Type === "AWS::IAM::Role");
    const matches = (name: string, pattern: string) => new RegExp(`^${pattern.replace("*", ".*")}$`).test(name);
    for (const resource of roles) {
      // A role without RoleName gets CloudFormation's <stack name>-<logical id>-<suffix>, i.e. HonoService-<env>-...
      const name = (resource.Properties!.RoleName as string | undefined) ?? `${serviceStackName("staging")}-Role-ABC`;
      expect(SERVICE_ROLE_NAME_PATTERNS.some((pattern) => matches(name, pattern)), name).toBe(true);
    }
    for (const bucket of resources.filter((resource) => resource.Type === "AWS::S3::Bucket")) expect(bucket.Properties?.BucketName, "CloudFormation names it").toBeUndefined();
    expect(matches(`${serviceStackName("production").toLowerCase()}-accesslogs1234-abcd`, SERVICE_BUCKET_NAME_PATTERN)).toBe(true);
    const trusted = [
      ...new Set(
        roles.flatMap((resource) => (resource.Properties!.AssumeRolePolicyDocument as { Statement: { Principal: { Service: string } }[] }).Statement.map((statement) => statement.Principal.Service)),
      ),
    ].sort();
    const passRole = policyOf(Template.fromStack(identity())).find((statement) => statement.Sid === "PassServiceRoles")!;
    expect(passRole.Condition).toEqual({ StringEquals: { "iam:PassedToService": trusted } });
    expect(trusted).toEqual(["ecs-tasks.amazonaws.com", "ecs.amazonaws.com", "lambda.amazonaws.com", "vpc-flow-logs.amazonaws.com"]);
  });

  it("limits Lambda to the functions CloudFormation names for the service stacks, their code to the bootstrap's assets bucket", () => {
    const functions = templates.flatMap((template) => template.resources).filter((resource) => resource.Type === "AWS::Lambda::Function");
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      // No FunctionName: CloudFormation's <stack name>-<logical id, truncated>-<suffix>.
      expect(fn.Properties?.FunctionName, "CloudFormation names it").toBeUndefined();
      expect(fn.Properties?.Code).toEqual({ S3Bucket: { "Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-eu-west-1" }, S3Key: expect.stringMatching(/^[0-9a-f]{64}\.zip$/) as unknown });
    }
    expect(`${serviceStackName("production")}-CustomVpcRestrictDefaultSG-Ab12Cd34Ef56`.startsWith(SERVICE_FUNCTION_NAME_PATTERN.replace("*", ""))).toBe(true);
    // Every custom resource is served by one of those functions (its ServiceToken), which CloudFormation invokes.
    const custom = templates.flatMap((template) => template.resources).filter((resource) => resource.Type.startsWith("Custom::"));
    expect(custom.length).toBeGreaterThan(0);
    for (const resource of custom) expect(resource.Properties?.ServiceToken).toEqual({ "Fn::GetAtt": [expect.stringMatching(/Handler/), "Arn"] });
    const statements = policyOf(Template.fromStack(identity()));
    const lambda = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith("lambda:")));
    expect(lambda.map((statement) => [statement.Sid, statement.Resource])).toEqual([["ServiceFunctions", `arn:aws:lambda:eu-west-1:123456789012:function:${SERVICE_FUNCTION_NAME_PATTERN}`]]);
    expect(actionsOf(lambda[0]!)).toContain("lambda:InvokeFunction");
    const assets = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith("s3:") && statement.Sid !== "ServiceBuckets"));
    expect(assets).toEqual([{ Sid: "BootstrapAssets", Effect: "Allow", Action: ASSET_READ_ACTIONS, Resource: "arn:aws:s3:::cdk-hnb659fds-assets-123456789012-eu-west-1/*" }]);
  });

  it("grants nothing for the identity stack's own types: a provision cannot change the trust root", () => {
    const identityTypes = typesIn(Object.values(Template.fromStack(identity()).toJSON().Resources as Record<string, Resource>));
    expect(identityTypes).toEqual(["AWS::CDK::Metadata", "AWS::IAM::ManagedPolicy", "AWS::IAM::OIDCProvider", "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::Signer::SigningProfile"]);
    for (const type of ["AWS::IAM::ManagedPolicy", "AWS::IAM::OIDCProvider", "AWS::Signer::SigningProfile"]) expect(EXECUTION_PERMISSIONS).not.toHaveProperty([type]);
    // Its roles and policies share types with the service stacks', but not their names (GithubActionsEcrIdentity-...).
    expect(SERVICE_ROLE_NAME_PATTERNS.some((pattern) => "GithubActionsEcrIdentity-PlanRole-ABC".startsWith(pattern.replace("*", "")))).toBe(false);
    // And it is deployed with the caller's credentials, not through the bootstrap roles and their execution role.
    const stack = identity();
    const artifact = (stack.node.root as App).synth().getStackByName(stack.stackName);
    expect([artifact.assumeRoleArn, artifact.cloudFormationExecutionRoleArn]).toEqual([undefined, undefined]);
    expect(Template.fromStack(stack).toJSON()).not.toHaveProperty(["Parameters", "BootstrapVersion"]);
    // (a service stack goes through both bootstrap roles)
    const service = new ServiceStack(cdkApp(), serviceStackName("staging"), { settings: validateEnvironment("staging", staging, DEFAULTS), env: { region: "eu-west-1" } });
    const serviceArtifact = (service.node.root as App).synth().getStackByName(service.stackName);
    expect(serviceArtifact.cloudFormationExecutionRoleArn).toContain("cdk-hnb659fds-cfn-exec-role-");
  });
});

// moto's CloudFormation creates the identity stack (its IAM model validates each policy document as IAM would parse it:
// moto 5.2.1, moto/iam/policy_validation.py), then the roles and the policy are read back through IAM (the AWS CLI).
const motoMissing = motoUnavailableReason();
describe.skipIf(motoMissing)("the identity stack, created by moto's CloudFormation", () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterAll(() => moto?.stop());

  const iam = (...args: string[]) => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: MOTO_REGION };
    const result = spawnSync("aws", ["--endpoint-url", moto.url, "--output", "json", "iam", ...args], { encoding: "utf8", env });
    if (result.status !== 0) throw new Error(`aws iam ${args.join(" ")}: ${result.stderr}`);
    return JSON.parse(result.stdout) as Record<string, Record<string, unknown>>;
  };

  it("creates the roles and the execution policy, as synthesized", async () => {
    const stack = identity();
    const synthesized = Template.fromStack(stack).toJSON() as Parameters<typeof templateForMoto>[0];
    const { template, skipped } = templateForMoto(synthesized, motoCloudFormationTypes());
    // moto 5.2.1 has no CloudFormation model for these three: left out (references to them become placeholders), the
    // roles and the policies are created.
    expect(Object.keys(skipped.resources).sort()).toEqual(["AWS::CDK::Metadata", "AWS::IAM::OIDCProvider", "AWS::Signer::SigningProfile"]);
    // moto validates every policy document: the placeholder of the signing profile's ARN becomes an ARN of its form.
    const profileId = skipped.resources["AWS::Signer::SigningProfile"]![0]!;
    const valid = JSON.parse(JSON.stringify(template).replaceAll(`"moto-skipped:${profileId}.Arn"`, '"arn:aws:signer:eu-west-1:123456789012:/signing-profiles/moto"')) as typeof template;
    const created = await createStackInMoto(moto.url, "GithubActionsEcrIdentity", valid, {});
    expect(created.status).toBe("CREATE_COMPLETE");

    const policyArns = created.outputs.CloudFormationExecutionPolicyArn!.split(",");
    expect(policyArns).toHaveLength(2);
    const stored = policyArns.flatMap((policyArn) => {
      const { Policy } = iam("get-policy", "--policy-arn", policyArn);
      const { PolicyVersion } = iam("get-policy-version", "--policy-arn", policyArn, "--version-id", String(Policy!.DefaultVersionId));
      return ((typeof PolicyVersion!.Document === "string" ? JSON.parse(decodeURIComponent(PolicyVersion!.Document)) : PolicyVersion!.Document) as { Statement: Statement[] }).Statement;
    });
    expect(stored.map((statement) => statement.Sid)).toEqual(["ServiceResources", "ServiceBuckets", "ServiceFunctions", "BootstrapAssets", "ServiceRoles", "BoundedServiceRoles", "PassServiceRoles", "ServiceLinkedRoles"]);
    expect(stored.find((statement) => statement.Sid === "ServiceRoles")!.Resource).toEqual(SERVICE_ROLE_NAME_PATTERNS.map((pattern) => `arn:aws:iam::123456789012:role/${pattern}`));

    const roleName = (output: string) => created.outputs[output]!.split("/").at(-1)!;
    const plan = iam("get-role", "--role-name", roleName("PlanRoleArn")).Role!;
    const trust = (typeof plan.AssumeRolePolicyDocument === "string" ? JSON.parse(decodeURIComponent(plan.AssumeRolePolicyDocument)) : plan.AssumeRolePolicyDocument) as { Statement: Statement[] };
    expect(trust.Statement[0]!.Condition).toEqual({
      StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": ["repo:acme@1111/shop@2222:pull_request"], "token.actions.githubusercontent.com:repository_id": "2222" },
      StringLike: { "token.actions.githubusercontent.com:job_workflow_ref": ["acme/shop/.github/workflows/ci.yml@refs/pull/*/merge"] },
    });
    for (const output of ["ProvisionRoleStagingArn", "ProvisionRoleProductionArn"]) {
      const policies = iam("list-role-policies", "--role-name", roleName(output)) as unknown as { PolicyNames: string[] };
      expect(policies.PolicyNames, output).toHaveLength(1);
      const attached = iam("list-attached-role-policies", "--role-name", roleName(output)) as unknown as { AttachedPolicies: unknown[] };
      expect(attached.AttachedPolicies, output).toEqual([]);
    }
  }, 120_000);
});
