// CDK's recommended feature flags in cdk.json (what `cdk init` writes for the installed CDK), and what they change in
// the templates that needed a decision: the default security group closed, the ECS deployment controller kept.
import { readFileSync } from "node:fs";
import path from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { CfnVPC, Vpc } from "aws-cdk-lib/aws-ec2";
import { NagRuleCompliance, rules } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { serviceStackName } from "../dagger/src/deploy/names.js";
import { confineProviderLogs, RESTRICT_DEFAULT_SG_LOGS } from "../infra/default-security-group.js";
import { ENVIRONMENTS, validateEnvironment } from "../infra/environments.js";
import { ServiceStack } from "../infra/service-stack.js";
import { CDK_JSON_CONTEXT, CDK_JSON_FLAGS, cdkApp } from "./helpers/cdk-app.js";
import { ROOT } from "./helpers/process.js";

const json = (file: string) => JSON.parse(readFileSync(path.join(ROOT, "node_modules", file), "utf8")) as Record<string, unknown>;
/** What aws-cdk-lib recommends for itself (the flags a new project gets). */
const RECOMMENDED = json("aws-cdk-lib/recommended-feature-flags.json");

describe("cdk.json: CDK's recommended feature flags", () => {
  it("holds every flag aws-cdk-lib recommends, with its recommended value (an upgrade that adds one fails here until reviewed)", () => {
    const version = json("aws-cdk-lib/package.json").version as string;
    expect(Object.keys(RECOMMENDED).length, `aws-cdk-lib ${version}`).toBeGreaterThan(80);
    const missing = Object.keys(RECOMMENDED).filter((flag) => !(flag in CDK_JSON_FLAGS));
    expect(missing, `flags aws-cdk-lib ${version} recommends and cdk.json lacks: review the template differences, then add them`).toEqual([]);
    for (const [flag, value] of Object.entries(RECOMMENDED)) expect(CDK_JSON_FLAGS[flag], flag).toEqual(value);
    // Nothing else: no flag set against its recommendation, none left over from an older CDK.
    expect(Object.keys(CDK_JSON_FLAGS).sort()).toEqual(Object.keys(RECOMMENDED).sort());
  });

  it("is what `cdk init` writes: the CLI's own copy of the flags, sorted, after the app's context", () => {
    // aws/aws-cdk-cli packages/aws-cdk/lib/commands/init/init.ts: applyFutureFlags() merges
    // currentlyRecommendedAwsCdkLibFlags() (lib/init-templates/.recommended-feature-flags.json, copied from aws-cdk-lib
    // at build time by packages/aws-cdk/generate.sh, keys sorted) into cdk.json's context.
    const cli = json("aws-cdk/lib/init-templates/.recommended-feature-flags.json");
    expect(cli).toEqual(RECOMMENDED);
    expect(Object.keys(CDK_JSON_CONTEXT)).toEqual(["ecrRepository", "branch", ...Object.keys(cli).sort()]);
  });
});

describe("the VPC's default security group", () => {
  const settings = validateEnvironment("staging", ENVIRONMENTS.staging!, { region: "eu-west-1", ecrRepository: "hono-ecr-service" });
  const stack = new ServiceStack(cdkApp(), serviceStackName("staging"), { settings, env: { region: settings.region } });
  const template = Template.fromStack(stack);
  const logGroupId = () => Object.keys(template.findResources("AWS::Logs::LogGroup")).find((id) => id.startsWith(RESTRICT_DEFAULT_SG_LOGS))!;
  // The group's streams (`<group ARN>:*`), built from its name (in AWS, the group's `Fn::GetAtt Arn` already ends in `:*`).
  const LOG_STATEMENT = (id: string) => ({
    Effect: "Allow",
    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
    Resource: { "Fn::Join": ["", ["arn:aws:logs:eu-west-1:", { Ref: "AWS::AccountId" }, ":log-group:", { Ref: id }, ":*"]] },
  });

  it("is closed by CDK's custom resource: its Lambda may revoke and restore rules of that group and no other", () => {
    const [vpcId] = Object.keys(template.findResources("AWS::EC2::VPC"));
    template.resourceCountIs("Custom::VpcRestrictDefaultSG", 1);
    template.hasResourceProperties("Custom::VpcRestrictDefaultSG", { DefaultSecurityGroupId: { "Fn::GetAtt": [vpcId, "DefaultSecurityGroup"] } });
    const [role] = Object.values(template.findResources("AWS::IAM::Role")).filter((resource) => JSON.stringify(resource).includes("ec2:RevokeSecurityGroupIngress")) as {
      Properties: { Policies: { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } }[] };
    }[];
    expect(role!.Properties.Policies.flatMap((policy) => policy.PolicyDocument.Statement)).toEqual([
      {
        Effect: "Allow",
        Action: ["ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"],
        Resource: [{ "Fn::Join": ["", ["arn:aws:ec2:eu-west-1:", { Ref: "AWS::AccountId" }, ":security-group/", { "Fn::GetAtt": [vpcId, "DefaultSecurityGroup"] }]] }],
      },
      LOG_STATEMENT(logGroupId()),
    ]);
    // The provider's Lambda depends on its role through Role: Fn::GetAtt only (no duplicate DependsOn for cfn-lint's W3005).
    const [lambda] = Object.values(template.findResources("AWS::Lambda::Function")) as { DependsOn?: unknown; Properties: { Role: unknown } }[];
    expect(lambda!.DependsOn).toBeUndefined();
    expect(lambda!.Properties.Role).toEqual({ "Fn::GetAtt": [expect.stringMatching(/^CustomVpcRestrictDefaultSGCustomResourceProviderRole/), "Arn"] });
  });

  it("logs to a log group of the stack's own, kept and retained like the service's, and may write to no other", () => {
    const id = logGroupId();
    expect((template.toJSON() as { Resources: Record<string, unknown> }).Resources[id]).toEqual({ Type: "AWS::Logs::LogGroup", Properties: { RetentionInDays: settings.logRetentionDays }, DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
    // The Lambda names the group (a Ref: CloudFormation creates the group first, so the custom resource's calls are logged).
    const [lambda] = Object.values(template.findResources("AWS::Lambda::Function")) as { Properties: { LoggingConfig?: unknown } }[];
    expect(lambda!.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: id } });
    // AWSLambdaBasicExecutionRole (logs:* on every log group) is gone: no role of the stack has a managed policy, and
    // every logs statement of any role or policy names one of the stack's own log groups (the provider's, on that
    // group's streams; the execution role's, on the service logs).
    const roles = Object.entries(template.findResources("AWS::IAM::Role")) as [string, { Properties: { ManagedPolicyArns?: unknown; Policies?: { PolicyDocument: { Statement: unknown[] } }[] } }][];
    for (const [roleId, role] of roles) expect(role.Properties.ManagedPolicyArns, roleId).toBeUndefined();
    const policies = Object.values(template.findResources("AWS::IAM::Policy")) as { Properties: { PolicyDocument: { Statement: unknown[] } } }[];
    const statements = [...roles.flatMap(([, role]) => role.Properties.Policies ?? []), ...policies.map((policy) => policy.Properties)].flatMap((policy) => policy.PolicyDocument.Statement) as { Action: string | string[]; Resource: unknown }[];
    const onLogs = statements.filter((statement) => ([] as string[]).concat(statement.Action).some((action) => action.startsWith("logs:")));
    expect(onLogs).toContainEqual(LOG_STATEMENT(id));
    const groups = Object.keys(template.findResources("AWS::Logs::LogGroup"));
    for (const statement of onLogs) expect(groups.some((group) => JSON.stringify(statement.Resource).includes(`"${group}"`)), JSON.stringify(statement)).toBe(true);
  });

  it("refuses a stack without the provider, naming what it needs", () => {
    const none = new Stack(cdkApp(), "NoVpc", { env: { region: "eu-west-1" } });
    expect(() => confineProviderLogs(none, 14)).toThrow("NoVpc: no Custom::VpcRestrictDefaultSGCustomResourceProvider (with its Role and Handler) in the stack: the Vpc must be constructed with restrictDefaultSecurityGroup: true first");
  });

  it("passes cdk-nag's VPCDefaultSecurityGroupClosed (NIST 800-53, HIPAA, PCI packs), which a VPC without it fails", () => {
    const vpcOf = (scope: Stack) => scope.node.findAll().find((construct): construct is CfnVPC => construct instanceof CfnVPC)!;
    expect(rules.vpc.VPCDefaultSecurityGroupClosed(vpcOf(stack))).toBe(NagRuleCompliance.COMPLIANT);
    const open = new Stack(cdkApp(), "Open", { env: { region: "eu-west-1" } });
    new Vpc(open, "Vpc", { restrictDefaultSecurityGroup: false });
    expect(rules.vpc.VPCDefaultSecurityGroupClosed(vpcOf(open))).toBe(NagRuleCompliance.NON_COMPLIANT);
  });

  it("is asked for by the stack itself, so a synth without cdk.json's flags closes it too", () => {
    const bare = new ServiceStack(new App(), serviceStackName("staging"), { settings, env: { region: settings.region } });
    Template.fromStack(bare).resourceCountIs("Custom::VpcRestrictDefaultSG", 1);
  });
});

describe("the ECS service under the flags", () => {
  it("keeps its explicit ECS deployment controller (the flag disableExplicitDeploymentControllerForCircuitBreaker would drop it)", () => {
    expect(CDK_JSON_FLAGS["@aws-cdk/aws-ecs:disableExplicitDeploymentControllerForCircuitBreaker"]).toBe(true);
    for (const name of Object.keys(ENVIRONMENTS)) {
      const settings = validateEnvironment(name, ENVIRONMENTS[name]!, { region: "eu-west-1", ecrRepository: "hono-ecr-service" });
      const template = Template.fromStack(new ServiceStack(cdkApp(), serviceStackName(name), { settings, env: { region: settings.region } }));
      template.hasResourceProperties("AWS::ECS::Service", { DeploymentController: { Type: "ECS" } });
    }
  });
});
