// The service roles' permissions boundary (infra/permissions-boundary.ts): every role of every service stack variant
// carries it, every action of every role's statements is within it (and it holds none no role uses), and the execution
// policy lets CloudFormation create or widen a role only with it, and never touch the boundary itself.
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { serviceStackName } from "../dagger/src/deploy/names.js";
import { readIdentitySettings } from "../infra/config.js";
import { ENVIRONMENTS, validateEnvironment, type EnvironmentConfig } from "../infra/environments.js";
import { BOUNDED_ROLE_ACTIONS } from "../infra/execution-policy.js";
import { GithubActionsIdentityStack } from "../infra/github-actions-identity-stack.js";
import { BOUNDARY_IMAGE_PULL_ACTIONS, boundaryActions, PERMISSIONS_BOUNDARY_NAME } from "../infra/permissions-boundary.js";
import { ServiceStack } from "../infra/service-stack.js";
import { cdkApp } from "./helpers/cdk-app.js";

const DEFAULTS = { region: "eu-west-1", ecrRepository: "shop/web" };
const staging = ENVIRONMENTS.staging!;
/** Each environment (production: blue/green, the traffic-shift role), and variants with the optional roles (flow logs). */
const VARIANTS: [string, string, EnvironmentConfig][] = [
  ...Object.entries(ENVIRONMENTS).map(([name, config]): [string, string, EnvironmentConfig] => [name, name, config]),
  ["staging with flow logs and access logs", "staging", { ...staging, accessLogRetentionDays: 7, flowLogRetentionDays: 7 }],
  ["staging in an existing VPC", "staging", {
    ...staging,
    network: { existingVpcId: "vpc-0123456789abcdef0", availabilityZones: ["eu-west-1a", "eu-west-1b"], publicSubnetIds: ["subnet-0000000000000000a", "subnet-0000000000000000b"], privateSubnetIds: ["subnet-0000000000000000c", "subnet-0000000000000000d"] },
  }],
];
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
type Resource = { Type: string; Properties?: Record<string, unknown> };
const templates = VARIANTS.map(([what, name, config]) => {
  const settings = validateEnvironment(name, config, DEFAULTS);
  const stack = new ServiceStack(cdkApp(), serviceStackName(name), { settings, env: { region: settings.region } });
  return { what, stack, resources: Template.fromStack(stack).toJSON().Resources as Record<string, Resource> };
});
const actionsOf = (statement: Statement) => [statement.Action].flat();
/** The actions of AWS managed policies a service stack attaches (AWSLambdaBasicExecutionRole: CDK's provider role). */
const MANAGED_POLICY_ACTIONS: Record<string, string[]> = {
  "service-role/AWSLambdaBasicExecutionRole": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
};

/** Every action each role of `resources` is given: inline `Policies`, AWS::IAM::Policy attached to it, managed policies. */
function roleActions(resources: Record<string, Resource>): Map<string, string[]> {
  const byRole = new Map<string, string[]>();
  const add = (role: string, statements: Statement[]) => byRole.set(role, [...(byRole.get(role) ?? []), ...statements.flatMap(actionsOf)]);
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== "AWS::IAM::Role") continue;
    byRole.set(id, []);
    for (const policy of (resource.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]) add(id, policy.PolicyDocument.Statement);
    for (const arn of (resource.Properties?.ManagedPolicyArns ?? []) as unknown[]) {
      const name = JSON.stringify(arn).match(/:iam::aws:policy\/([^"]+)"/)?.[1];
      if (!name || !MANAGED_POLICY_ACTIONS[name]) throw new Error(`${id}: managed policy ${JSON.stringify(arn)} has no entry in MANAGED_POLICY_ACTIONS`);
      byRole.set(id, [...byRole.get(id)!, ...MANAGED_POLICY_ACTIONS[name]]);
    }
  }
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== "AWS::IAM::Policy") continue;
    for (const role of resource.Properties!.Roles as { Ref: string }[]) {
      expect(byRole.has(role.Ref), `${id} is attached to ${JSON.stringify(role)}, a role of this stack`).toBe(true);
      add(role.Ref, (resource.Properties!.PolicyDocument as { Statement: Statement[] }).Statement);
    }
  }
  return byRole;
}

const identity = () => {
  const context: Record<string, string> = { githubRepository: "acme/shop", githubOwnerId: "1111", githubRepositoryId: "2222", region: "eu-west-1", ecrRepository: "shop/web" };
  return new GithubActionsIdentityStack(cdkApp(), "Identity", { settings: readIdentitySettings((key) => context[key]), environments: Object.keys(ENVIRONMENTS), env: { account: "123456789012", region: "eu-west-1" } });
};
const managedPolicy = (template: Template, idPrefix: string) => {
  const [entry] = Object.entries(template.findResources("AWS::IAM::ManagedPolicy")).filter(([id]) => id.startsWith(idPrefix));
  return (entry![1] as { Properties: { ManagedPolicyName?: string; PolicyDocument: { Statement: Statement[] } } }).Properties;
};

describe("the service roles' permissions boundary", () => {
  it("is on every role of every service stack, CDK's custom-resource provider role included", () => {
    let providerRoles = 0;
    for (const { what, stack, resources } of templates) {
      const arn = stack.resolve(stack.formatArn({ service: "iam", region: "", resource: "policy", resourceName: PERMISSIONS_BOUNDARY_NAME })) as unknown;
      const roles = Object.entries(resources).filter(([, resource]) => resource.Type === "AWS::IAM::Role");
      expect(roles.length, what).toBeGreaterThanOrEqual(2);
      for (const [id, role] of roles) {
        expect(role.Properties?.PermissionsBoundary, `${what}: ${id}`).toEqual(arn);
        if (id.startsWith("CustomVpcRestrictDefaultSG")) providerRoles++;
      }
      expect(JSON.stringify(arn)).toContain(`:policy/${PERMISSIONS_BOUNDARY_NAME}`);
      // No user and no role CDK could add out of the aspect's sight (a nested stack's or another type's).
      expect(Object.values(resources).filter((resource) => /^AWS::IAM::(User|Group)$|^AWS::CloudFormation::Stack$/.test(resource.Type)), what).toEqual([]);
    }
    expect(providerRoles, "the default security group's provider role is among those checked").toBeGreaterThan(0);
  });

  it("contains every action of every role of every service stack, and nothing no role uses", () => {
    const allowed = boundaryActions();
    const used = new Set<string>();
    for (const { what, resources } of templates) {
      for (const [role, actions] of roleActions(resources)) {
        for (const action of actions) {
          expect(allowed, `${what}: ${role} is given ${action}`).toContain(action);
          used.add(action);
        }
      }
    }
    expect([...used].sort()).toEqual(allowed);
    expect(allowed.filter((action) => action.includes("*") || /^(iam|sts|kms|s3|lambda):/.test(action))).toEqual([]);
  });

  it("is the identity stack's managed policy under its fixed name: the image pull on the repository only", () => {
    const template = Template.fromStack(identity());
    const boundary = managedPolicy(template, "ServicePermissionsBoundary");
    expect(boundary.ManagedPolicyName).toBe(PERMISSIONS_BOUNDARY_NAME);
    const [pull, rest] = boundary.PolicyDocument.Statement;
    expect(pull).toEqual({ Sid: "ImagePull", Effect: "Allow", Action: BOUNDARY_IMAGE_PULL_ACTIONS, Resource: "arn:aws:ecr:*:123456789012:repository/shop/web" });
    expect([...actionsOf(pull!), ...actionsOf(rest!)].sort()).toEqual(boundaryActions());
    expect(boundary.PolicyDocument.Statement.every((statement) => statement.Effect === "Allow" && !statement.Condition)).toBe(true);
  });
});

describe("the execution policy and the boundary", () => {
  const template = Template.fromStack(identity());
  const statements = ["CloudFormationExecutionPolicy", "CloudFormationExecutionRolesPolicy"].flatMap((prefix) => managedPolicy(template, prefix).PolicyDocument.Statement);
  const boundaryArn = `arn:aws:iam::123456789012:policy/${PERMISSIONS_BOUNDARY_NAME}`;

  it("creates a role, writes its policies or sets its boundary only with the boundary", () => {
    const bounded = statements.filter((statement) => actionsOf(statement).some((action) => BOUNDED_ROLE_ACTIONS.includes(action)));
    expect(bounded.map((statement) => statement.Sid)).toEqual(["BoundedServiceRoles"]);
    expect(actionsOf(bounded[0]!).sort()).toEqual(["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"]);
    expect(bounded[0]!.Condition).toEqual({ StringEquals: { "iam:PermissionsBoundary": boundaryArn } });
    // The unconditioned IAM statement holds none of them (an Allow elsewhere would make the condition moot).
    const all = statements.flatMap((statement) => (statement.Sid === "BoundedServiceRoles" ? [] : actionsOf(statement)));
    for (const action of [...BOUNDED_ROLE_ACTIONS, "iam:*", "iam:DeleteRolePermissionsBoundary"]) expect(all, action).not.toContain(action);
    expect(statements.flatMap(actionsOf)).not.toContain("iam:DeleteRolePermissionsBoundary");
  });

  it("cannot change the boundary policy: no IAM policy action, nothing on policy ARNs", () => {
    const all = statements.flatMap(actionsOf);
    for (const action of ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:TagPolicy"]) expect(all).not.toContain(action);
    expect(all.filter((action) => /^iam:.*Policy(Version)?$/.test(action) && !/Role/.test(action))).toEqual([]);
    expect(JSON.stringify(statements.map((statement) => statement.Resource))).not.toContain(":policy/");
    // The identity stack outputs the boundary's ARN, which is what the service stacks build from its name.
    const output = template.findOutputs("PermissionsBoundaryArn").PermissionsBoundaryArn as { Value: { Ref: string } };
    expect(output.Value.Ref).toMatch(/^ServicePermissionsBoundary/);
  });
});
