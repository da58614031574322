/**
 * What each environment's deploy role may do: the calls `dagger call aws ... deploy | rollback | status` make
 * (test/deploy/deploy-mocked.test.ts records them and fails when this list and the code drift apart), each on the
 * narrowest resource IAM allows. The single source for the identity stack's deploy roles and the README's table.
 */
import type { Stack } from "aws-cdk-lib";
import { ArnFormat } from "aws-cdk-lib";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { clusterName, ECS_SERVICE_NAME, executionRoleName, serviceStackName, taskFamily, taskRoleName } from "../dagger/src/deploy/names.js";

/** On the environment's ECS service: read it (deployments, events) and point it at a revision. */
export const SERVICE_ACTIONS = ["ecs:DescribeServices", "ecs:UpdateService"];
/**
 * Follow each deployment through the service-deployment API and refuse to race one under way: ListServiceDeployments
 * (resource: the service) and DescribeServiceDeployments (the service and its service deployments,
 * `service-deployment/<cluster>/<service>/*`), per the Service Authorization Reference for Amazon ECS.
 */
export const SERVICE_DEPLOYMENT_ACTIONS = ["ecs:ListServiceDeployments", "ecs:DescribeServiceDeployments"];
/**
 * Read the running revision and register the next one, and list the family's ACTIVE revisions (rollback's fallback after
 * a stack update): ECS has no resource-level permissions for these three.
 */
export const TASK_DEFINITION_ACTIONS = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:ListTaskDefinitions"];
/** Tag a revision as it is registered (release, previous revision): only the environment's family, only on create. */
export const TAG_ON_CREATE_ACTIONS = ["ecs:TagResource"];
/** On the environment's ECS service: read, set and lift the freeze a rollback leaves (dagger/src/deploy/order.ts). */
export const SERVICE_TAG_ACTIONS = ["ecs:ListTagsForResource", "ecs:TagResource", "ecs:UntagResource"];
/** The service's tasks: list them (condition: the environment's cluster) and describe them (the cluster's tasks). */
export const LIST_TASKS_ACTIONS = ["ecs:ListTasks"];
export const DESCRIBE_TASKS_ACTIONS = ["ecs:DescribeTasks"];
/**
 * Target health, the load balancer's address and (status, blue/green) the production rule's weights: Elastic Load
 * Balancing's Describe actions take no resource.
 */
export const LOAD_BALANCER_READ_ACTIONS = [
  "elasticloadbalancing:DescribeTargetGroups",
  "elasticloadbalancing:DescribeTargetHealth",
  "elasticloadbalancing:DescribeLoadBalancers",
  "elasticloadbalancing:DescribeListeners",
  "elasticloadbalancing:DescribeRules",
];
/** Find the release in the repository, read its manifest (platforms), ECR's scan of it and its signing status. */
export const IMAGE_READ_ACTIONS = ["ecr:DescribeImages", "ecr:BatchGetImage", "ecr:DescribeImageScanFindings", "ecr:DescribeImageSigningStatus"];
/**
 * Move the environment's ECR tags (deployed-<env>, rollback-<env>, with their platform tags) onto a stored manifest
 * read with BatchGetImage: re-tagging, as the ECR User Guide's "Retagging an image" does it. Only on the repository,
 * and without the layer-upload actions a push needs; IAM has no condition key on the image tag PutImage writes (Service
 * Authorization Reference, Amazon ECR), so this is as narrow as IAM allows.
 */
export const RETAG_ACTIONS = ["ecr:PutImage"];
/** Which signing profile signs the repository: the registry's signing configuration (registry-wide: on "*"). */
export const SIGNING_CONFIGURATION_ACTIONS = ["ecr:GetSigningConfiguration"];
/**
 * With enhanced scanning, ECR answers DescribeImageScanFindings from Amazon Inspector with the caller's identity, which
 * then also needs these two (AWS: "IAM permissions required for enhanced scanning"); Inspector's list actions take no
 * resource.
 */
export const ENHANCED_SCAN_ACTIONS = ["inspector2:ListFindings", "inspector2:ListCoverage"];
/** See whether the environment's stack is being changed (deploy refuses while it is *_IN_PROGRESS): on that stack only. */
export const STACK_READ_ACTIONS = ["cloudformation:DescribeStacks"];
/** Hand the environment's two task roles to ECS with a new revision. */
export const PASS_ROLE_ACTIONS = ["iam:PassRole"];

/** Every action a deploy role has, as the API calls name them, each once. */
export const DEPLOY_ACTIONS = [
  ...new Set([
    ...SERVICE_ACTIONS,
    ...SERVICE_TAG_ACTIONS,
    ...SERVICE_DEPLOYMENT_ACTIONS,
    ...TASK_DEFINITION_ACTIONS,
    ...TAG_ON_CREATE_ACTIONS,
    ...LIST_TASKS_ACTIONS,
    ...DESCRIBE_TASKS_ACTIONS,
    ...LOAD_BALANCER_READ_ACTIONS,
    ...IMAGE_READ_ACTIONS,
    ...RETAG_ACTIONS,
    ...SIGNING_CONFIGURATION_ACTIONS,
    ...ENHANCED_SCAN_ACTIONS,
    ...PASS_ROLE_ACTIONS,
    ...STACK_READ_ACTIONS,
  ]),
];

/** The policy statements of `environment`'s deploy role in `stack`'s account and region. */
export function deployStatements(stack: Stack, environment: string, ecrRepository: string): PolicyStatement[] {
  const arn = (service: string, resource: string, resourceName: string) => stack.formatArn({ service, resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  const cluster = clusterName(environment);
  const clusterArn = arn("ecs", "cluster", cluster);
  const statement = (actions: string[], resources: string[], conditions?: Record<string, Record<string, unknown>>) =>
    new PolicyStatement({ effect: Effect.ALLOW, actions, resources, ...(conditions ? { conditions } : {}) });
  return [
    statement([...SERVICE_ACTIONS, ...SERVICE_TAG_ACTIONS], [arn("ecs", "service", `${cluster}/${ECS_SERVICE_NAME}`)]),
    statement(SERVICE_DEPLOYMENT_ACTIONS, [arn("ecs", "service", `${cluster}/${ECS_SERVICE_NAME}`), arn("ecs", "service-deployment", `${cluster}/${ECS_SERVICE_NAME}/*`)]),
    statement(TASK_DEFINITION_ACTIONS, ["*"]),
    statement(TAG_ON_CREATE_ACTIONS, [stack.formatArn({ service: "ecs", resource: "task-definition", resourceName: `${taskFamily(environment)}:*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })], {
      StringEquals: { "ecs:CreateAction": "RegisterTaskDefinition" },
    }),
    statement(LIST_TASKS_ACTIONS, ["*"], { ArnEquals: { "ecs:cluster": clusterArn } }),
    statement(DESCRIBE_TASKS_ACTIONS, [arn("ecs", "task", `${cluster}/*`)]),
    statement(LOAD_BALANCER_READ_ACTIONS, ["*"]),
    statement([...IMAGE_READ_ACTIONS, ...RETAG_ACTIONS], [stack.formatArn({ service: "ecr", resource: "repository", resourceName: ecrRepository })]),
    statement([...SIGNING_CONFIGURATION_ACTIONS, ...ENHANCED_SCAN_ACTIONS], ["*"]),
    statement(STACK_READ_ACTIONS, [arn("cloudformation", "stack", `${serviceStackName(environment)}/*`)]),
    statement(
      PASS_ROLE_ACTIONS,
      [taskRoleName(environment), executionRoleName(environment)].map((name) => stack.formatArn({ service: "iam", region: "", resource: "role", resourceName: name })),
      { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
    ),
  ];
}
