/**
 * The CloudFormation execution policy of the service stacks (`cdk bootstrap --cloudformation-execution-policies`): what
 * CloudFormation may do while it creates, updates and deletes a `HonoService-<env>` stack. `cdk deploy` asks
 * CloudFormation to act with the bootstrap's execution role, not with the caller's role, so this policy (not the
 * provision role, which may only assume the bootstrap roles) is the boundary of what a change merged to main can do to
 * the account. Without it, `cdk bootstrap` attaches AdministratorAccess.
 *
 * One entry per CloudFormation resource type the service stacks contain: the calls of that type's create, read, update
 * and delete handlers. test/infra-execution-policy.test.ts synthesizes every service stack (each environment, and
 * variants turning on every optional resource) and fails when a type in a template has no entry, or an entry names a
 * type no template contains (nothing is granted "just in case").
 *
 * Sources: the `handlers.*.permissions` of CloudFormation's resource schemas where the schema is public
 * (aws-cloudformation/aws-cloudformation-resource-providers-logs @5cc1716, aws-logs-loggroup.json and
 * aws-logs-metricfilter.json; -sns @73bd30e, aws-sns-topic.json, aws-sns-topicpolicy.json, aws-sns-subscription.json);
 * for the others the API calls each handler makes as the service's API reference names them, not checked against the
 * CloudFormation registry here (no AWS account). A missing action shows on the first `cdk deploy` as the resource's
 * CREATE_FAILED / UPDATE_FAILED "... is not authorized to perform: ACTION": it belongs in its type's entry below.
 *
 * Within reason, the resources: IAM (the one service whose grants could widen themselves) only on the service stacks'
 * roles by name (`hono-ecr-service-*`, and the `HonoService-*` names CloudFormation generates), PassRole only to the
 * three services the stacks hand roles to, service-linked roles only for the three services that need one, S3 only on
 * the stacks' buckets. Everything else on "*": most of these create calls take no resource-level permission before the
 * resource exists (ec2:CreateVpc, elasticloadbalancing:CreateTargetGroup, cloudwatch:PutDashboard), and the names are
 * CloudFormation's. Not granted: anything on the identity stack's roles, the OIDC provider, the bootstrap roles
 * (`cdk-*`), KMS, or another stack's IAM: a provision can never touch the trust root (the identity stack is deployed with
 * the caller's own credentials by `bootstrap`, never through these roles).
 */
import { ArnFormat, type Stack } from "aws-cdk-lib";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { APP_NAME, serviceStackName } from "../dagger/src/deploy/names.js";
import { bootstrapAssetsBucketName } from "./cdk-bootstrap-roles.js";

/** What reading a Lambda's code from the bootstrap's assets bucket takes (the object, by version when versioned). */
export const ASSET_READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"];
import { permissionsBoundaryArn } from "./permissions-boundary.js";

/** What one resource type needs. */
export interface TypePermissions {
  /** The handlers' API calls (IAM actions); IAM and S3 ones are scoped by name below, the rest granted on "*". */
  actions: string[];
  /** Services this type hands one of the stacks' roles to (iam:PassRole, conditioned on iam:PassedToService). */
  passRoleTo?: string[];
  /** Services whose service-linked role the first create of this type makes (iam:CreateServiceLinkedRole). */
  serviceLinkedRoles?: string[];
  /** Reads its code from the `cdk bootstrap` assets bucket (s3:GetObject, s3:GetObjectVersion on its objects only). */
  readsAssets?: boolean;
}

const tags = (prefix: string) => [`${prefix}:TagResource`, `${prefix}:UntagResource`, `${prefix}:ListTagsForResource`];
const EC2_TAGS = ["ec2:CreateTags", "ec2:DeleteTags"];
const ELB_TAGS = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"];
/** Elastic Load Balancing's Describe calls: read-only, no resource-level permissions; every ELBv2 handler reads with them. */
const ELB_READ = ["elasticloadbalancing:Describe*"];
/** The EC2 reads the VPC handlers (and ELBv2's subnet and security group checks) make: read-only. */
const EC2_READ = ["ec2:Describe*"];
const IAM_ROLE_READ = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListRoleTags"];

/** By CloudFormation resource type: every type the service stacks contain, nothing else. */
export const EXECUTION_PERMISSIONS: Record<string, TypePermissions> = {
  // CloudFormation's own bookkeeping (the CDK version metadata): no API call.
  "AWS::CDK::Metadata": { actions: [] },
  "AWS::EC2::VPC": { actions: ["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", ...EC2_TAGS, ...EC2_READ] },
  "AWS::EC2::Subnet": { actions: ["ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute", ...EC2_TAGS, ...EC2_READ] },
  "AWS::EC2::RouteTable": { actions: ["ec2:CreateRouteTable", "ec2:DeleteRouteTable", ...EC2_TAGS, ...EC2_READ] },
  "AWS::EC2::SubnetRouteTableAssociation": { actions: ["ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:ReplaceRouteTableAssociation", ...EC2_READ] },
  "AWS::EC2::Route": { actions: ["ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute", ...EC2_READ] },
  "AWS::EC2::InternetGateway": { actions: ["ec2:CreateInternetGateway", "ec2:DeleteInternetGateway", ...EC2_TAGS, ...EC2_READ] },
  "AWS::EC2::VPCGatewayAttachment": { actions: ["ec2:AttachInternetGateway", "ec2:DetachInternetGateway", ...EC2_READ] },
  "AWS::EC2::EIP": { actions: ["ec2:AllocateAddress", "ec2:ReleaseAddress", ...EC2_TAGS, ...EC2_READ] },
  "AWS::EC2::NatGateway": { actions: ["ec2:CreateNatGateway", "ec2:DeleteNatGateway", ...EC2_TAGS, ...EC2_READ] },
  "AWS::EC2::SecurityGroup": {
    actions: [
      "ec2:CreateSecurityGroup",
      "ec2:DeleteSecurityGroup",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:ModifySecurityGroupRules",
      ...EC2_TAGS,
      ...EC2_READ,
    ],
  },
  "AWS::EC2::SecurityGroupIngress": { actions: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:UpdateSecurityGroupRuleDescriptionsIngress", ...EC2_READ] },
  "AWS::EC2::SecurityGroupEgress": { actions: ["ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress", ...EC2_READ] },
  // Interface endpoints with private DNS associate the VPC with the endpoint service's private hosted zone.
  "AWS::EC2::VPCEndpoint": { actions: ["ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint", "route53:AssociateVPCWithHostedZone", ...EC2_TAGS, ...EC2_READ] },
  // Delivery to CloudWatch Logs with a role CloudFormation hands to the flow-logs service.
  "AWS::EC2::FlowLog": { actions: ["ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "logs:CreateLogDelivery", "logs:DeleteLogDelivery", ...EC2_TAGS, ...EC2_READ], passRoleTo: ["vpc-flow-logs.amazonaws.com"] },
  "AWS::ECS::Cluster": {
    actions: ["ecs:CreateCluster", "ecs:DeleteCluster", "ecs:UpdateCluster", "ecs:UpdateClusterSettings", "ecs:PutClusterCapacityProviders", "ecs:DescribeClusters", ...tags("ecs")],
    serviceLinkedRoles: ["ecs.amazonaws.com"],
  },
  "AWS::ECS::TaskDefinition": {
    actions: ["ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:DeleteTaskDefinitions", "ecs:DescribeTaskDefinition", ...tags("ecs")],
    passRoleTo: ["ecs-tasks.amazonaws.com"],
  },
  // Blue/green, canary and linear: the service's infrastructure role (TrafficShiftRole) goes to ECS; CloudFormation
  // follows the service deployment until it settles.
  "AWS::ECS::Service": {
    actions: [
      "ecs:CreateService",
      "ecs:UpdateService",
      "ecs:DeleteService",
      "ecs:DescribeServices",
      "ecs:ListServiceDeployments",
      "ecs:DescribeServiceDeployments",
      ...tags("ecs"),
      ...ELB_READ,
      ...EC2_READ,
    ],
    passRoleTo: ["ecs.amazonaws.com"],
    serviceLinkedRoles: ["ecs.amazonaws.com"],
  },
  "AWS::ElasticLoadBalancingV2::LoadBalancer": {
    actions: [
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:SetIpAddressType",
      ...ELB_TAGS,
      ...ELB_READ,
      ...EC2_READ,
    ],
    serviceLinkedRoles: ["elasticloadbalancing.amazonaws.com"],
  },
  "AWS::ElasticLoadBalancingV2::TargetGroup": {
    actions: ["elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes", ...ELB_TAGS, ...ELB_READ],
  },
  "AWS::ElasticLoadBalancingV2::Listener": {
    actions: [
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:RemoveListenerCertificates",
      ...ELB_TAGS,
      ...ELB_READ,
    ],
  },
  "AWS::ElasticLoadBalancingV2::ListenerRule": {
    actions: ["elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities", ...ELB_TAGS, ...ELB_READ],
  },
  // Registering an ECS service as a scalable target: Application Auto Scaling checks the caller may describe and update
  // the service (Application Auto Scaling User Guide, "Permissions for ECS"), and makes its service-linked role.
  "AWS::ApplicationAutoScaling::ScalableTarget": {
    actions: [
      "application-autoscaling:RegisterScalableTarget",
      "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:DescribeScalableTargets",
      ...tags("application-autoscaling"),
      "ecs:DescribeServices",
      "ecs:UpdateService",
    ],
    serviceLinkedRoles: ["ecs.application-autoscaling.amazonaws.com"],
  },
  // Target tracking creates and deletes its CloudWatch alarms with the caller's permissions.
  "AWS::ApplicationAutoScaling::ScalingPolicy": {
    actions: [
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:DescribeScalingPolicies",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:DeleteAlarms",
      "cloudwatch:DescribeAlarms",
    ],
  },
  "AWS::CloudWatch::Alarm": { actions: ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", ...tags("cloudwatch")] },
  "AWS::CloudWatch::Dashboard": { actions: ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard"] },
  // Schemas: aws-logs-loggroup.json, aws-logs-metricfilter.json (plus the newer tagging calls of TagResource).
  "AWS::Logs::LogGroup": {
    actions: ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:DescribeLogGroups", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagLogGroup", "logs:UntagLogGroup", "logs:ListTagsLogGroup", ...tags("logs")],
  },
  "AWS::Logs::MetricFilter": { actions: ["logs:PutMetricFilter", "logs:DeleteMetricFilter", "logs:DescribeMetricFilters"] },
  // Schemas: aws-sns-topic.json, aws-sns-topicpolicy.json, aws-sns-subscription.json (an e-mail subscription: none of
  // the schema's iam:* calls, which are for a Firehose subscription's role).
  "AWS::SNS::Topic": {
    actions: ["sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic", "sns:Subscribe", "sns:Unsubscribe", "sns:GetDataProtectionPolicy", "sns:PutDataProtectionPolicy", ...tags("sns")],
  },
  "AWS::SNS::TopicPolicy": { actions: ["sns:SetTopicAttributes", "sns:GetTopicAttributes"] },
  "AWS::SNS::Subscription": { actions: ["sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:GetTopicAttributes"] },
  // The ALB's access-log bucket (production).
  "AWS::S3::Bucket": {
    actions: [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:ListBucket",
      "s3:GetBucketLocation",
      "s3:PutEncryptionConfiguration",
      "s3:GetEncryptionConfiguration",
      "s3:PutLifecycleConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:PutBucketOwnershipControls",
      "s3:GetBucketOwnershipControls",
      "s3:PutBucketPublicAccessBlock",
      "s3:GetBucketPublicAccessBlock",
      "s3:PutBucketTagging",
      "s3:GetBucketTagging",
    ],
  },
  "AWS::S3::BucketPolicy": { actions: ["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"] },
  // The task, execution, traffic-shift and flow-log roles, with inline policies only (no managed policy is attached:
  // iam:AttachRolePolicy is not granted, so no AWS managed policy such as AdministratorAccess can be attached).
  // iam:PutRolePermissionsBoundary: CloudFormation sets the boundary on a role created before it (its update handler).
  "AWS::IAM::Role": {
    actions: ["iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary", ...IAM_ROLE_READ],
  },
  "AWS::IAM::Policy": { actions: ["iam:PutRolePolicy", "iam:DeleteRolePolicy", ...IAM_ROLE_READ] },
  // The Lambda of CDK's custom resource that closes the VPC's default security group (infra/default-security-group.ts):
  // code from the bootstrap's assets bucket (CreateFunction and UpdateFunctionCode read the object with the caller's
  // permissions; the bucket's KMS key lets any principal of the account decrypt through S3, aws/aws-cdk-cli
  // packages/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml, FileAssetsBucketEncryptionKey, so no kms:* here), its
  // role handed to Lambda. The create/read/update/delete handlers' calls of the resource schema
  // (AWS::Lambda::Function, `handlers.*.permissions`), less those for properties the function does not set (VpcConfig,
  // KmsKeyArn, Layers, ReservedConcurrentExecutions, CodeSigningConfigArn, FileSystemConfigs): not read from the schema
  // here (no copy could be fetched), a missing one shows as CREATE_FAILED on the first deploy. The handlers read the
  // function, its tags included, with GetFunction (no GetFunctionConfiguration or ListTags: the policy is within ~40
  // characters of IAM's 6,144 limit for a managed policy). Scoped to the stacks' function names below.
  "AWS::Lambda::Function": {
    actions: [
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:GetFunction",
      "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetFunctionRecursionConfig",
      "lambda:GetRuntimeManagementConfig",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
      "lambda:TagResource",
      "lambda:UntagResource",
    ],
    passRoleTo: ["lambda.amazonaws.com"],
    readsAssets: true,
  },
  // A custom resource: CloudFormation invokes its ServiceToken (that Lambda) at create, update and delete, with the
  // stack's role when it has one (the execution role), hence lambda:InvokeFunction on the stacks' functions.
  "Custom::VpcRestrictDefaultSG": { actions: ["lambda:InvokeFunction"] },
};

/**
 * The role names the service stacks create: CloudFormation's `<stack>-<logical id>-<suffix>`, and theirs by name. In
 * the order the policy renders them (`@aws-cdk/aws-iam:minimizePolicies`, cdk.json, sorts a statement's resources).
 */
export const SERVICE_ROLE_NAME_PATTERNS = [`${serviceStackName("")}*`, `${APP_NAME}-*`];
/**
 * The Lambda functions the service stacks create: CloudFormation names a function without FunctionName
 * `<stack name>-<logical id, truncated>-<suffix>` (64 characters at most), so `HonoService-<env>-...`.
 */
export const SERVICE_FUNCTION_NAME_PATTERN = `${serviceStackName("")}*`;
/** The buckets CloudFormation names for the service stacks (lower-cased stack name first). */
export const SERVICE_BUCKET_NAME_PATTERN = `${serviceStackName("").toLowerCase()}*`;

const unique = (values: string[]) => [...new Set(values)].sort();

/**
 * The IAM calls that give a role permissions or set its boundary: granted only with the condition that the role carries
 * the service roles' permissions boundary (./permissions-boundary.ts; the `iam:PermissionsBoundary` key is the boundary
 * in the request for CreateRole and PutRolePermissionsBoundary, the role's own for PutRolePolicy and AttachRolePolicy).
 * Without it, a template merged to main could create a role with any policy and pass it to a task: IAM does not check
 * that the creator holds what it writes. iam:DeleteRolePermissionsBoundary is never granted.
 */
export const BOUNDED_ROLE_ACTIONS = ["iam:AttachRolePolicy", "iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"];

/** The statement of the bounded IAM calls among `iam` (none: no statement), on `roles`. */
function boundedRoleStatements(stack: Stack, iam: string[], roles: string[]): PolicyStatement[] {
  const bounded = iam.filter((action) => BOUNDED_ROLE_ACTIONS.includes(action));
  if (bounded.length === 0) return [];
  return [new PolicyStatement({ sid: "BoundedServiceRoles", effect: Effect.ALLOW, actions: bounded, resources: roles, conditions: { StringEquals: { "iam:PermissionsBoundary": permissionsBoundaryArn(stack) } } })];
}

/** The statements about IAM (the service roles, their boundary, passing them, service-linked roles). */
export const IAM_STATEMENT_SIDS = ["ServiceRoles", "BoundedServiceRoles", "PassServiceRoles", "ServiceLinkedRoles"];

/**
 * The execution policy's statements as its two managed policies: the resources, then IAM. One managed policy may hold
 * 6,144 characters (IAM quotas), and both halves together are above it; `cdk bootstrap --cloudformation-execution-policies`
 * takes a comma-separated list.
 */
export function executionPolicyDocuments(statements: PolicyStatement[]): [PolicyStatement[], PolicyStatement[]] {
  const isIam = (statement: PolicyStatement) => IAM_STATEMENT_SIDS.includes(statement.sid ?? "");
  return [statements.filter((statement) => !isIam(statement)), statements.filter(isIam)];
}

/**
 * The execution policy's statements for the resource types `types` (normally: every key of EXECUTION_PERMISSIONS), in
 * the account and region of `stack`, whose `cdk bootstrap` has the qualifier `qualifier` (its assets bucket).
 */
export function executionPolicyStatements(stack: Stack, qualifier: string, types: string[] = Object.keys(EXECUTION_PERMISSIONS)): PolicyStatement[] {
  const entries = types.map((type) => {
    const entry = EXECUTION_PERMISSIONS[type];
    if (!entry) throw new Error(`no execution permissions for resource type ${type}: add its entry to infra/execution-policy.ts`);
    return entry;
  });
  const actions = unique(entries.flatMap((entry) => entry.actions));
  const roles = SERVICE_ROLE_NAME_PATTERNS.map((name) => stack.formatArn({ service: "iam", region: "", resource: "role", resourceName: name }));
  const statement = (sid: string, statementActions: string[], resources: string[], conditions?: Record<string, Record<string, unknown>>) =>
    new PolicyStatement({ sid, effect: Effect.ALLOW, actions: statementActions, resources, ...(conditions ? { conditions } : {}) });
  const passedTo = unique(entries.flatMap((entry) => entry.passRoleTo ?? []));
  const linkedTo = unique(entries.flatMap((entry) => entry.serviceLinkedRoles ?? []));
  const iam = actions.filter((action) => action.startsWith("iam:") && !BOUNDED_ROLE_ACTIONS.includes(action));
  const s3 = actions.filter((action) => action.startsWith("s3:"));
  const lambda = actions.filter((action) => action.startsWith("lambda:"));
  const rest = actions.filter((action) => !action.startsWith("iam:") && !s3.includes(action) && !lambda.includes(action));
  const functions = stack.formatArn({ service: "lambda", resource: "function", resourceName: SERVICE_FUNCTION_NAME_PATTERN, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return [
    ...(rest.length ? [statement("ServiceResources", rest, ["*"])] : []),
    ...(iam.length ? [statement("ServiceRoles", iam, roles)] : []),
    ...boundedRoleStatements(stack, actions, roles),
    ...(s3.length ? [statement("ServiceBuckets", s3, [`arn:${stack.partition}:s3:::${SERVICE_BUCKET_NAME_PATTERN}`])] : []),
    ...(lambda.length ? [statement("ServiceFunctions", lambda, [functions])] : []),
    ...(entries.some((entry) => entry.readsAssets) ? [statement("BootstrapAssets", ASSET_READ_ACTIONS, [`arn:${stack.partition}:s3:::${bootstrapAssetsBucketName(stack, qualifier)}/*`])] : []),
    ...(passedTo.length ? [statement("PassServiceRoles", ["iam:PassRole"], roles, { StringEquals: { "iam:PassedToService": passedTo } })] : []),
    ...(linkedTo.length
      ? [statement("ServiceLinkedRoles", ["iam:CreateServiceLinkedRole"], [stack.formatArn({ service: "iam", region: "", resource: "role", resourceName: "aws-service-role/*" })], { StringEquals: { "iam:AWSServiceName": linkedTo } })]
      : []),
  ];
}
