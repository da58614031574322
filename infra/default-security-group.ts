/**
 * The new VPC's default security group, closed. A VPC CloudFormation creates gets a default group that admits all
 * traffic from itself and lets all traffic out; nothing in the stack uses it (the ALB, the tasks and the endpoints have
 * their own groups), but anything launched into the VPC without a group lands in it. CDK's Vpc closes it with a custom
 * resource (`restrictDefaultSecurityGroup`, the default under the recommended feature flag
 * `@aws-cdk/aws-ec2:restrictDefaultSecurityGroup`): a Lambda that revokes both default rules at create and puts them
 * back at delete (aws-cdk-lib 2.276.0, custom-resource-handlers/dist/aws-ec2/restrict-default-security-group-handler/
 * index.js; aws/aws-cdk PR #25297). There is no CloudFormation property for it, hence the Lambda. The stack asks for
 * it explicitly, so it does not hang on cdk.json. An imported VPC's default group is its owner's and left alone.
 *
 * CDK builds that provider's role and function as plain CfnResources (aws-cdk-lib 2.276.0, core/lib/custom-resource-
 * provider/custom-resource-provider-base.js), out of cdk-nag's sight (its rules match typed classes such as CfnRole),
 * and gives the role the managed policy AWSLambdaBasicExecutionRole: logs:CreateLogGroup/CreateLogStream/PutLogEvents
 * on every log group of the account, the service's own (whose metric filters drive alarms) included. Its log group,
 * created by Lambda on first write, had no retention and outlived the stack. `confineProviderLogs` replaces both.
 */
import { ArnFormat, CfnResource, CustomResourceProviderBase, type Stack } from "aws-cdk-lib";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";

/** The construct id of the custom-resource provider CDK adds to the stack (one per stack, whatever the VPC count). */
export const RESTRICT_DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider";

/** The construct id of the provider's log group (a child of the stack). */
export const RESTRICT_DEFAULT_SG_LOGS = "RestrictDefaultSecurityGroupLogs";

/** The provider (its role and Lambda are CfnResources), or one clear error if the Vpc has not added it yet. */
function providerResources(stack: Stack): { provider: CustomResourceProviderBase; role: CfnResource; handler: CfnResource } {
  const provider = stack.node.tryFindChild(RESTRICT_DEFAULT_SG_PROVIDER);
  const role = provider?.node.tryFindChild("Role");
  const handler = provider?.node.tryFindChild("Handler");
  if (!(provider instanceof CustomResourceProviderBase) || !(role instanceof CfnResource) || !(handler instanceof CfnResource)) {
    throw new Error(`${stack.stackName}: no ${RESTRICT_DEFAULT_SG_PROVIDER} (with its Role and Handler) in the stack: the Vpc must be constructed with restrictDefaultSecurityGroup: true first`);
  }
  return { provider, role, handler };
}

/**
 * Drops the DependsOn CDK puts on the provider's Lambda toward its role: the Lambda's `Role: Fn::GetAtt` already orders
 * the two (at create and at delete), and cfn-lint flags the duplicate (W3005). Call it after the Vpc is constructed.
 */
export function dropRedundantProviderDependency(stack: Stack): void {
  providerResources(stack).handler.addDeletionOverride("DependsOn");
}

/**
 * Gives the provider's Lambda a log group of the stack's own, kept `retentionDays` (the environment's log retention)
 * and with the removal policy of the stack's other log groups (CDK's default for a LogGroup: retained, so a deleted
 * stack's last records stay readable until they expire), and lets its role write there only: the managed policy is
 * deleted, and an inline statement (the provider's `addToRolePolicy`) allows logs:CreateLogStream and
 * logs:PutLogEvents on that group's streams (the group exists, so no logs:CreateLogGroup). `LoggingConfig.LogGroup`
 * takes the group's name (the AWS::Lambda::Function schema in cfn-lint); its `Ref` orders the group before the Lambda,
 * hence before the custom resource that calls it, and after both at delete (the handler logs its delete call too).
 * Returns the log group. Call it after the Vpc is constructed.
 */
export function confineProviderLogs(stack: Stack, retentionDays: number): LogGroup {
  const { provider, role, handler } = providerResources(stack);
  const logs = new LogGroup(stack, RESTRICT_DEFAULT_SG_LOGS, { retention: retentionDays as RetentionDays });
  handler.addPropertyOverride("LoggingConfig.LogGroup", logs.logGroupName);
  role.addPropertyDeletionOverride("ManagedPolicyArns");
  // The group's streams, `<group ARN>:*`, built from its name: in AWS its `Fn::GetAtt Arn` already ends in `:*`.
  const streams = stack.formatArn({ service: "logs", resource: "log-group", resourceName: `${logs.logGroupName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  provider.addToRolePolicy({ Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: streams });
  return logs;
}
