/**
 * The roles `cdk bootstrap` creates, which the plan and provision roles may assume (and nothing else): the single source
 * for their policies, the tests and the README's table.
 *
 * Role names as the bootstrap template builds them (aws-cdk 2.1148.1, lib/api/bootstrap/bootstrap-template.yaml,
 * `RoleName: cdk-${Qualifier}-<kind>-role-${AWS::AccountId}-${AWS::Region}`). Each trusts its own account
 * (`Principal: AWS: Ref AWS::AccountId`), so an identity policy allowing sts:AssumeRole on it is all a role in the account
 * needs. The CLI passes no session tags unless a synthesizer asks for them (`deployRoleAdditionalOptions`, none here), so
 * sts:TagSession is not granted.
 */
import type { Stack } from "aws-cdk-lib";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";

/** The bootstrap roles by what the CLI does with them. */
export type BootstrapRoleKind = "lookup" | "deploy" | "file-publishing";

/**
 * What each pipeline role may assume: a plan (cdk diff, from a pull request) reads through the lookup role only; a
 * provision (cdk deploy, from a GitHub environment) uploads the template (file-publishing), runs the change set
 * (deploy, which hands CloudFormation the execution role) and reads (lookup).
 */
export const ASSUMABLE_BOOTSTRAP_ROLES = { plan: ["lookup"], provision: ["deploy", "file-publishing", "lookup"] } as const satisfies Record<string, readonly BootstrapRoleKind[]>;

/** The only action the plan and provision roles have. */
export const ASSUME_ROLE_ACTIONS = ["sts:AssumeRole"];

/** The bootstrap role name of `kind` (tokens for the account and region when the stack's are unresolved). */
export function bootstrapRoleName(stack: Stack, qualifier: string, kind: BootstrapRoleKind): string {
  return `cdk-${qualifier}-${kind}-role-${stack.account}-${stack.region}`;
}

/**
 * The bootstrap's assets bucket (`cdk-${Qualifier}-assets-${AWS::AccountId}-${AWS::Region}`, the template's
 * StagingBucket default name), where `cdk deploy` uploads file assets such as a Lambda's code.
 */
export function bootstrapAssetsBucketName(stack: Stack, qualifier: string): string {
  return `cdk-${qualifier}-assets-${stack.account}-${stack.region}`;
}

/** The ARN of the bootstrap role of `kind` in `stack`'s account and region. */
export function bootstrapRoleArn(stack: Stack, qualifier: string, kind: BootstrapRoleKind): string {
  return stack.formatArn({ service: "iam", region: "", resource: "role", resourceName: bootstrapRoleName(stack, qualifier, kind) });
}

/** The one statement of a pipeline role: sts:AssumeRole on exactly these bootstrap roles. */
export function assumeBootstrapRoles(stack: Stack, qualifier: string, kinds: readonly BootstrapRoleKind[]): PolicyStatement {
  return new PolicyStatement({ effect: Effect.ALLOW, actions: ASSUME_ROLE_ACTIONS, resources: kinds.map((kind) => bootstrapRoleArn(stack, qualifier, kind)) });
}
