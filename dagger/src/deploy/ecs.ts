/**
 * The ECS, ELBv2 and ECR calls a deploy makes (and its CloudFormation client: ./deploy.ts reads the stack's status), each failing with one line (../aws-errors.ts). Plain TypeScript over the
 * AWS SDK; deploy.ts decides what to do with them.
 */
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import type { ECRClient } from "@aws-sdk/client-ecr";
import {
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  ListTagsForResourceCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type ServiceDeployment,
  type ServiceDeploymentBrief,
  type ServiceDeploymentStatus,
  type Tag,
  type Task,
  type TaskDefinition,
} from "@aws-sdk/client-ecs";
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { AwsError, awsCall, type CallContext } from "../aws-errors.js";
import { createEcrClient, MAX_ATTEMPTS, type AwsCredentials } from "../ecr/registry.js";
import { describeStack } from "../infra/accounts.js";
import { APP_NAME, clusterName, CONTAINER_NAME, ECS_SERVICE_NAME, serviceStackName } from "./names.js";
import { DeployError } from "./errors.js";
import type { TargetState, VerifyRuntime } from "./verify.js";

/** The clients a deploy uses. */
export interface DeployClients {
  ecs: ECSClient;
  elb: ElasticLoadBalancingV2Client;
  ecr: ECRClient;
  /** Only to see whether the environment's stack is being updated (deploy refuses then). */
  cloudformation: CloudFormationClient;
}

/** Clients for `region`. Honour AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL (the tests' emulator). */
export function createDeployClients(region: string, credentials: AwsCredentials): DeployClients {
  return {
    ecs: new ECSClient({ region, credentials, maxAttempts: MAX_ATTEMPTS }),
    elb: new ElasticLoadBalancingV2Client({ region, credentials, maxAttempts: MAX_ATTEMPTS }),
    ecr: createEcrClient(region, credentials),
    cloudformation: new CloudFormationClient({ region, credentials, maxAttempts: MAX_ATTEMPTS }),
  };
}

/**
 * Refuses while CloudFormation is changing the environment's stack (any *_IN_PROGRESS status: `provision` is running,
 * or a stack update rolls back): CloudFormation's UpdateService and this deploy's would race for the service.
 */
export async function refuseStackUpdate(clients: DeployClients, target: ServiceTarget): Promise<void> {
  const stack = await describeStack(clients.cloudformation, target.region, serviceStackName(target.environment));
  if (stack?.status.endsWith("_IN_PROGRESS")) {
    throw new DeployError("in-progress", `stack ${stack.name} is ${stack.status}: CloudFormation is changing ${target.environment} (provision?). Wait for it to end before deploying; nothing was changed`);
  }
}

/** The AWS clients plus the clock, sleep, fetch and progress output. */
export interface DeployRuntime extends VerifyRuntime {
  clients: DeployClients;
}

/** The real clock, sleep and fetch; progress lines to stderr (the Dagger call's progress output). */
export function realRuntime(clients: DeployClients): DeployRuntime {
  return {
    clients,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log: (line) => console.error(line),
    fetch: globalThis.fetch,
    pollMs: 10_000,
  };
}

/** An image as the task definition names it: registry host, repository and digest. */
interface ImageReference {
  registry: string;
  repository: string;
  digest?: string;
}

/** The registry, repository and digest (when it names one) of an image reference as a task definition holds it. */
export function parseImage(image: string): ImageReference {
  const match = /^([^/]+)\/([^@:]+)(?:@(sha256:[a-f0-9]{64})|:[^@]+)?$/.exec(image);
  if (!match) throw new DeployError("image-missing", `the running task definition names an image this pipeline cannot read: ${image}`);
  const [, registry = "", repository = "", digest] = match;
  return { registry, repository, ...(digest ? { digest } : {}) };
}

/** One environment's service, as the runtime stack names it. */
export interface ServiceTarget {
  environment: string;
  region: string;
  cluster: string;
  service: string;
  container: string;
}

export function serviceTarget(environment: string, region: string): ServiceTarget {
  return { environment, region, cluster: clusterName(environment), service: ECS_SERVICE_NAME, container: CONTAINER_NAME };
}

/** Tags `deploy` puts on each task definition revision it registers: the release, and the revision it replaced. */
export const RELEASE_TAG = `${APP_NAME}:release`;
export const PREVIOUS_TAG = `${APP_NAME}:previous-task-definition`;

function context(target: ServiceTarget): CallContext {
  return {
    region: target.region,
    resource: `service "${target.service}" in cluster "${target.cluster}"`,
    whenMissing: `deploy the runtime stack first: npx cdk deploy ${serviceStackName(target.environment)} (README, "Where it runs")`,
  };
}

/** The service, with its deployments and events. A missing or deleted service fails, pointing at the stack. */
export async function describeService(clients: DeployClients, target: ServiceTarget): Promise<Service> {
  const response = await awsCall("ecs:DescribeServices", context(target), () => clients.ecs.send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] })));
  const service = response.services?.[0];
  if (!service || service.status !== "ACTIVE") {
    const reason = response.failures?.[0]?.reason ?? service?.status ?? "MISSING";
    throw new AwsError(`ECS has no active ${context(target).resource} in ${target.region} (${reason}): ${context(target).whenMissing}`);
  }
  return service;
}

/** A task definition revision and its tags. */
export interface Revision {
  taskDefinition: TaskDefinition;
  tags: Tag[];
}

export async function describeRevision(clients: DeployClients, target: ServiceTarget, arn: string): Promise<Revision> {
  const response = await awsCall("ecs:DescribeTaskDefinition", context(target), () => clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ["TAGS"] })));
  if (!response.taskDefinition) throw new AwsError(`ECS returned no task definition for ${arn}`);
  return { taskDefinition: response.taskDefinition, tags: response.tags ?? [] };
}

/** The image of the service's container in a revision. */
export function containerImage(revision: TaskDefinition, container: string): string {
  const definition = revision.containerDefinitions?.find((candidate) => candidate.name === container);
  if (!definition?.image) throw new AwsError(`task definition ${revision.taskDefinitionArn} has no container named "${container}": it was not made by the runtime stack`);
  return definition.image;
}

/** The value of tag `key`, if any. */
export const tagValue = (tags: Tag[], key: string): string | undefined => tags.find((tag) => tag.key === key)?.value;

/**
 * Registers a new revision of `current`'s family that differs from it only in the service container's image (and in
 * the two deploy tags). Everything DescribeTaskDefinition returns that RegisterTaskDefinition accepts is carried over.
 */
export async function registerRevisionWithImage(clients: DeployClients, target: ServiceTarget, current: Revision, image: string, release: string): Promise<TaskDefinition> {
  const input = registrationInput(current, target.container, image, release);
  const response = await awsCall("ecs:RegisterTaskDefinition", context(target), () => clients.ecs.send(new RegisterTaskDefinitionCommand(input)));
  if (!response.taskDefinition?.taskDefinitionArn) throw new AwsError("ECS registered a task definition but returned no ARN");
  return response.taskDefinition;
}

/** The RegisterTaskDefinition input that copies `current` with `image` in `container` (exported for the tests). */
export function registrationInput(current: Revision, container: string, image: string, release: string): RegisterTaskDefinitionCommandInput {
  const definition = current.taskDefinition;
  containerImage(definition, container); // fails when the container is missing
  const carried = {
    family: definition.family,
    taskRoleArn: definition.taskRoleArn,
    executionRoleArn: definition.executionRoleArn,
    networkMode: definition.networkMode,
    volumes: definition.volumes,
    placementConstraints: definition.placementConstraints,
    requiresCompatibilities: definition.requiresCompatibilities,
    cpu: definition.cpu,
    memory: definition.memory,
    pidMode: definition.pidMode,
    ipcMode: definition.ipcMode,
    proxyConfiguration: definition.proxyConfiguration,
    inferenceAccelerators: definition.inferenceAccelerators,
    ephemeralStorage: definition.ephemeralStorage,
    runtimePlatform: definition.runtimePlatform,
    enableFaultInjection: definition.enableFaultInjection,
  };
  // Only the deploy's own tags: the release and the revision it replaces. Nothing is copied from `current`: its `aws:`
  // tags (aws:cloudformation:stack-name, ... on the stack's revision) are reserved, and RegisterTaskDefinition refuses
  // a request that sets one (ECS API reference, Tag: "You can't edit or delete tag keys or values with this prefix"),
  // and a copied tag would also need ecs:TagResource for keys the deploy role was never meant to write.
  const tags = [
    { key: RELEASE_TAG, value: release },
    { key: PREVIOUS_TAG, value: definition.taskDefinitionArn! },
  ];
  return {
    ...(Object.fromEntries(Object.entries(carried).filter(([, value]) => value !== undefined && !(Array.isArray(value) && value.length === 0))) as Partial<RegisterTaskDefinitionCommandInput>),
    family: definition.family!,
    containerDefinitions: definition.containerDefinitions!.map((candidate) => (candidate.name === container ? { ...candidate, image } : candidate)),
    tags,
  };
}

/** The service's own tags (where a rollback leaves its freeze). */
export async function serviceTags(clients: DeployClients, target: ServiceTarget, serviceArn: string): Promise<Tag[]> {
  const response = await awsCall("ecs:ListTagsForResource", context(target), () => clients.ecs.send(new ListTagsForResourceCommand({ resourceArn: serviceArn })));
  return response.tags ?? [];
}

/** Sets `tags` on the service. */
export async function tagService(clients: DeployClients, target: ServiceTarget, serviceArn: string, tags: Tag[]): Promise<void> {
  await awsCall("ecs:TagResource", context(target), () => clients.ecs.send(new TagResourceCommand({ resourceArn: serviceArn, tags })));
}

/** Removes the tags `keys` from the service. */
export async function untagService(clients: DeployClients, target: ServiceTarget, serviceArn: string, keys: string[]): Promise<void> {
  await awsCall("ecs:UntagResource", context(target), () => clients.ecs.send(new UntagResourceCommand({ resourceArn: serviceArn, tagKeys: keys })));
}

/** Points the service at `taskDefinitionArn`; resolves with the service as ECS answered (its new PRIMARY deployment). */
export async function updateService(clients: DeployClients, target: ServiceTarget, taskDefinitionArn: string): Promise<Service> {
  const response = await awsCall("ecs:UpdateService", context(target), () =>
    clients.ecs.send(new UpdateServiceCommand({ cluster: target.cluster, service: target.service, taskDefinition: taskDefinitionArn })),
  );
  if (!response.service) throw new AwsError("ECS updated the service but returned no service");
  return response.service;
}

/**
 * The service's tasks of one revision, RUNNING or STOPPED: every page of ListTasks (100 ARNs at most per page,
 * nextToken), described 100 at a time (DescribeTasks takes at most 100; ECS API reference).
 */
export async function tasksOf(clients: DeployClients, target: ServiceTarget, taskDefinitionArn: string, desiredStatus: "RUNNING" | "STOPPED"): Promise<Task[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const token = nextToken;
    const page = await awsCall("ecs:ListTasks", context(target), () =>
      clients.ecs.send(new ListTasksCommand({ cluster: target.cluster, serviceName: target.service, desiredStatus, ...(token ? { nextToken: token } : {}) })),
    );
    arns.push(...(page.taskArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const tasks: Task[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const batch = arns.slice(i, i + 100);
    const described = await awsCall("ecs:DescribeTasks", context(target), () => clients.ecs.send(new DescribeTasksCommand({ cluster: target.cluster, tasks: batch })));
    tasks.push(...(described.tasks ?? []));
  }
  return tasks.filter((task) => task.taskDefinitionArn === taskDefinitionArn);
}

/**
 * The service's service deployments created after `since` (all of them when omitted), newest first, optionally only
 * those in `statuses` (ListServiceDeployments, every page; ECS keeps 90 days of them).
 */
export async function listServiceDeployments(clients: DeployClients, target: ServiceTarget, filter: { statuses?: ServiceDeploymentStatus[]; since?: Date } = {}): Promise<ServiceDeploymentBrief[]> {
  const briefs: ServiceDeploymentBrief[] = [];
  let nextToken: string | undefined;
  do {
    const token = nextToken;
    const page = await awsCall("ecs:ListServiceDeployments", context(target), () =>
      clients.ecs.send(
        new ListServiceDeploymentsCommand({
          cluster: target.cluster,
          service: target.service,
          ...(filter.statuses ? { status: filter.statuses } : {}),
          ...(filter.since ? { createdAt: { after: filter.since } } : {}),
          ...(token ? { nextToken: token } : {}),
        }),
      ),
    );
    briefs.push(...(page?.serviceDeployments ?? []));
    nextToken = page?.nextToken;
  } while (nextToken);
  return briefs.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
}

/** One service deployment with its lifecycle stage, rollback and alarms (DescribeServiceDeployments). */
export async function describeServiceDeployment(clients: DeployClients, target: ServiceTarget, arn: string): Promise<ServiceDeployment | undefined> {
  const response = await awsCall("ecs:DescribeServiceDeployments", context(target), () => clients.ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] })));
  return response?.serviceDeployments?.[0];
}

/** A task's private IP (awsvpc: its network interface), as the target group knows it. */
export function taskAddress(task: Task): string | undefined {
  for (const attachment of task.attachments ?? []) {
    const ip = attachment.details?.find((detail) => detail.name === "privateIPv4Address")?.value;
    if (ip) return ip;
  }
  return undefined;
}

/** Each target of the target groups: its IP, state and reason. */
export async function targetHealth(clients: DeployClients, target: ServiceTarget, targetGroupArns: string[]): Promise<TargetState[]> {
  const health: TargetState[] = [];
  for (const arn of targetGroupArns) {
    const response = await awsCall("elasticloadbalancing:DescribeTargetHealth", { region: target.region, resource: `target group ${arn}` }, () =>
      clients.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })),
    );
    for (const description of response.TargetHealthDescriptions ?? []) {
      health.push({ ip: description.Target?.Id ?? "?", state: description.TargetHealth?.State ?? "unknown", ...(description.TargetHealth?.Reason ? { reason: description.TargetHealth.Reason } : {}) });
    }
  }
  return health;
}

/** The target groups the service is registered with (and the alternate ones of a blue/green service). */
export function serviceTargetGroups(service: Service): string[] {
  const arns = (service.loadBalancers ?? []).flatMap((balancer) => [balancer.targetGroupArn, balancer.advancedConfiguration?.alternateTargetGroupArn]);
  return [...new Set(arns.filter((arn): arn is string => Boolean(arn)))];
}

/** The load balancer's URL in front of `targetGroupArns`: https when it has an HTTPS listener, else http. */
export async function loadBalancerUrl(clients: DeployClients, target: ServiceTarget, targetGroupArns: string[]): Promise<{ url: string; https: boolean }> {
  const where = { region: target.region, resource: `the load balancer of ${context(target).resource}` };
  const groups = await awsCall("elasticloadbalancing:DescribeTargetGroups", where, () => clients.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: targetGroupArns })));
  const loadBalancerArn = groups.TargetGroups?.flatMap((group) => group.LoadBalancerArns ?? [])[0];
  if (!loadBalancerArn) throw new AwsError(`no load balancer in front of ${context(target).resource}: its target groups are not attached to one`);
  const balancers = await awsCall("elasticloadbalancing:DescribeLoadBalancers", where, () => clients.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [loadBalancerArn] })));
  const listeners = await awsCall("elasticloadbalancing:DescribeListeners", where, () => clients.elb.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn })));
  const https = (listeners.Listeners ?? []).some((listener) => listener.Protocol === "HTTPS");
  return { url: `${https ? "https" : "http"}://${balancers.LoadBalancers?.[0]?.DNSName ?? "?"}`, https };
}

/** A target group the production listener rule forwards to: its weight and how many of its targets are healthy. */
export interface TrafficShare {
  targetGroupArn: string;
  weight: number;
  healthy: number;
}

/**
 * Where the production listener rule of a blue/green service sends traffic (DescribeRules: the forward action's
 * weighted target groups, which ECS rewrites at each deployment and a stack update can reset, aws/aws-cdk#36649), with
 * each target group's healthy targets (DescribeTargetHealth).
 */
export async function productionTraffic(clients: DeployClients, target: ServiceTarget, ruleArn: string): Promise<TrafficShare[]> {
  const where = { region: target.region, resource: `listener rule ${ruleArn}` };
  const response = await awsCall("elasticloadbalancing:DescribeRules", where, () => clients.elb.send(new DescribeRulesCommand({ RuleArns: [ruleArn] })));
  const forward = response?.Rules?.[0]?.Actions?.find((action) => action.Type === "forward");
  const groups = forward?.ForwardConfig?.TargetGroups?.map((group) => ({ arn: group.TargetGroupArn ?? "?", weight: group.Weight ?? 1 })) ?? (forward?.TargetGroupArn ? [{ arn: forward.TargetGroupArn, weight: 1 }] : []);
  const shares: TrafficShare[] = [];
  for (const group of groups) {
    const healthy = (await targetHealth(clients, target, [group.arn])).filter((state) => state.state === "healthy").length;
    shares.push({ targetGroupArn: group.arn, weight: group.weight, healthy });
  }
  return shares;
}
