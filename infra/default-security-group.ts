/**
 * The new VPC's default security group, closed. A VPC CloudFormation creates gets a default group that admits all
 * traffic from itself and lets all traffic out; nothing in the stack uses it (the ALB, the tasks and the endpoints have
 * their own groups), but anything launched into the VPC without a group lands in it. CDK's Vpc closes it with a custom
 * resource (`restrictDefaultSecurityGroup`, the default under the recommended feature flag
 * `@aws-cdk/aws-ec2:restrictDefaultSecurityGroup`): a Lambda that revokes both default rules at create and puts them
 * back at delete (aws-cdk-lib 2.276.0, custom-resource-handlers/dist/aws-ec2/restrict-default-security-group-handler/
 * index.js; aws/aws-cdk PR #25297). There is no CloudFormation property for it, hence the Lambda. The stack asks for
 * it explicitly, so it does not hang on cdk.json. An imported VPC's default group is its owner's and left alone.
 */
import { CfnResource, type Stack } from "aws-cdk-lib";

/** The construct id of the custom-resource provider CDK adds to the stack (one per stack, whatever the VPC count). */
export const RESTRICT_DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider";

/**
 * Drops the DependsOn CDK puts on the provider's Lambda toward its role: the Lambda's `Role: Fn::GetAtt` already orders
 * the two (at create and at delete), and cfn-lint flags the duplicate (W3005). Call it after the Vpc is constructed.
 */
export function dropRedundantProviderDependency(stack: Stack): void {
  const handler = stack.node.tryFindChild(RESTRICT_DEFAULT_SG_PROVIDER)?.node.tryFindChild("Handler");
  if (!(handler instanceof CfnResource)) {
    throw new Error(`${stack.stackName}: no ${RESTRICT_DEFAULT_SG_PROVIDER}/Handler in the stack: the Vpc must be constructed with restrictDefaultSecurityGroup: true first`);
  }
  handler.addDeletionOverride("DependsOn");
}
