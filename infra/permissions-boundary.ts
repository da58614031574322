/**
 * The permissions boundary of every role the service stacks create: the most any such role may ever do, whatever
 * policies a template gives it. IAM does not require whoever creates a role or writes its policies to hold the
 * permissions it writes, so the CloudFormation execution role (./execution-policy.ts), which may create roles named
 * `hono-ecr-service-*` / `HonoService-*` and pass them to ECS, could otherwise make a role with `*:*` from any template
 * merged to main and hand it to a task. With this boundary, the execution policy lets it create a role, write its
 * policies or set its boundary only when the role carries this boundary (`iam:PermissionsBoundary`), and never remove
 * one; IAM then grants a role only what both its policies and the boundary allow (IAM User Guide, "Permissions
 * boundaries for IAM entities").
 *
 * The boundary is the union of what the service stacks' roles need, by role: the task role (nothing yet), the execution
 * role (pull the image, write the service's logs), the ECS infrastructure role that shifts traffic (blue/green, canary,
 * linear), the flow-log role, and the role of CDK's custom resource that closes the VPC's default security group
 * (./default-security-group.ts). test/infra-permissions-boundary.test.ts synthesizes every service stack variant and
 * fails when a role's statement holds an action the boundary lacks, or the boundary holds an action no role uses.
 *
 * The identity stack (deployed with the caller's own credentials, never through the execution role) creates it under a
 * fixed name, so each service stack names it by ARN without a cross-stack reference; the execution policy grants no
 * action on IAM policies, so no provision can change it.
 */
import type { Stack } from "aws-cdk-lib";
import { Effect, ManagedPolicy, PermissionsBoundary, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { APP_NAME } from "../dagger/src/deploy/names.js";

/** The boundary's managed policy name (fixed: the service stacks build its ARN from it). */
export const PERMISSIONS_BOUNDARY_NAME = `${APP_NAME}-boundary`;

/** ECR's image pull (the execution role): on the service's repository only. */
export const BOUNDARY_IMAGE_PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];

/**
 * The rest, by the role that needs it; on "*": the log groups, listeners and security groups are named by
 * CloudFormation, and the execution policy may already act on them directly (a role gains nothing it could not).
 */
export const BOUNDARY_ACTIONS: Record<string, string[]> = {
  // The execution role's registry login: no resource-level permission.
  "image pull login": ["ecr:GetAuthorizationToken"],
  // The execution role (the service's logs), the flow-log role (its group, DescribeLogStreams too), and the custom
  // resource's Lambda (its own log group, which the stack creates: infra/default-security-group.ts). No CreateLogGroup:
  // every log group is the stack's.
  logs: ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
  // ECS's infrastructure role: the ALB part of AmazonECSInfrastructureRolePolicyForLoadBalancers (infra/service-stack.ts).
  "traffic shift": [
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:RegisterTargets",
  ],
  // The default security group's custom resource: revoke its rules at create, put them back at delete.
  "default security group": ["ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"],
};

/** Every action the boundary allows. */
export const boundaryActions = (): string[] => [...BOUNDARY_IMAGE_PULL_ACTIONS, ...Object.values(BOUNDARY_ACTIONS).flat()].sort();

/** The boundary's ARN in `stack`'s account (the identity stack's policy, by its fixed name). */
export function permissionsBoundaryArn(stack: Stack): string {
  return stack.formatArn({ service: "iam", region: "", resource: "policy", resourceName: PERMISSIONS_BOUNDARY_NAME });
}

/** The boundary's statements: the image pull on `ecrRepository` (any region of the account), the rest on "*". */
export function boundaryStatements(stack: Stack, ecrRepository: string): PolicyStatement[] {
  const repository = stack.formatArn({ service: "ecr", region: "*", resource: "repository", resourceName: ecrRepository });
  return [
    new PolicyStatement({ sid: "ImagePull", effect: Effect.ALLOW, actions: BOUNDARY_IMAGE_PULL_ACTIONS, resources: [repository] }),
    new PolicyStatement({ sid: "ServiceRoles", effect: Effect.ALLOW, actions: Object.values(BOUNDARY_ACTIONS).flat().sort(), resources: ["*"] }),
  ];
}

/** Creates the boundary's managed policy in the identity stack `stack`. */
export function createPermissionsBoundary(stack: Stack, ecrRepository: string): ManagedPolicy {
  return new ManagedPolicy(stack, "ServicePermissionsBoundary", {
    managedPolicyName: PERMISSIONS_BOUNDARY_NAME,
    description: "Permissions boundary of every role of the HonoService-* stacks: the most such a role may do (infra/permissions-boundary.ts)",
    statements: boundaryStatements(stack, ecrRepository),
  });
}

/**
 * Sets the boundary on every role of the service stack `stack`: an aspect that overrides `PermissionsBoundary` on every
 * CfnResource of type AWS::IAM::Role, CDK's custom-resource provider role (a plain CfnResource) included (aws-cdk-lib
 * 2.276.0, aws-iam/lib/permissions-boundary.js: it matches `cfnResourceType`, not the CfnRole class).
 */
export function applyPermissionsBoundary(stack: Stack): void {
  PermissionsBoundary.of(stack).apply(ManagedPolicy.fromManagedPolicyArn(stack, "PermissionsBoundary", permissionsBoundaryArn(stack)));
}
