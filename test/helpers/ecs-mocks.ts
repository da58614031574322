/**
 * An ECS service, its revisions, its release in ECR and its load balancer as mocked AWS clients answer them
 * (aws-sdk-client-mock: every client of these classes, the pipeline's own included), and a loopback /version server.
 * For what moto cannot show: rollouts that progress, fail or roll back.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { BatchGetImageCommand, DescribeImageScanFindingsCommand, DescribeImagesCommand, DescribeImageSigningStatusCommand, ECRClient, GetSigningConfigurationCommand, PutImageCommand } from "@aws-sdk/client-ecr";
import {
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  ListTagsForResourceCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type Deployment,
  type DeploymentRolloutState,
  type Service,
  type ServiceDeployment,
} from "@aws-sdk/client-ecs";
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import type { DeployRuntime } from "../../dagger/src/deploy/deploy.js";
import { createDeployClients, PREVIOUS_TAG, RELEASE_TAG, serviceTarget } from "../../dagger/src/deploy/ecs.js";
import { FAKE_CREDENTIALS } from "./moto.js";

export const ecs = mockClient(ECSClient);
export const elb = mockClient(ElasticLoadBalancingV2Client);
export const ecr = mockClient(ECRClient);
/** CloudFormation (DescribeStacks: deploy's stack check; provision and bootstrap answer more: ./provision-mocks.ts). */
export const cloudformation = mockClient(CloudFormationClient);

export const REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
export const OLD_COMMIT = "1111111111111111111111111111111111111111";
export const NEW_COMMIT = "2222222222222222222222222222222222222222";
export const OLD_DIGEST = `sha256:${"a".repeat(64)}`;
export const NEW_DIGEST = `sha256:${"b".repeat(64)}`;
export const TD1 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/hono-ecr-service-staging:1";
export const TD2 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/hono-ecr-service-staging:2";
export const SERVICE_ARN = "arn:aws:ecs:eu-west-1:123456789012:service/hono-ecr-service-staging/web";
/** When ECR received each release: the old one first. */
export const OLD_PUSHED = new Date("2026-11-30T10:00:00Z");
export const NEW_PUSHED = new Date("2026-11-30T11:00:00Z");
/** What `cdk deploy --parameters ImageDigest=...` registered after TD2: the same image, without the deploy's tags. */
export const TD3 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/hono-ecr-service-staging:3";
const TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef";
const LB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef";
export const target = serviceTarget("staging", "eu-west-1");
export const SIGNING_PROFILE = "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/hono_ecr_service";

/** A loopback server answering GET /version with `answers` in turn, then the last one forever. */
export interface VersionServer {
  /** host:port, what the mocked load balancer's DNS name says. */
  address: string;
  answers: string[];
  requests: number;
  close: () => void;
}

export async function startVersionServer(): Promise<VersionServer> {
  const state: VersionServer = { address: "", answers: [NEW_COMMIT], requests: 0, close: () => undefined };
  const server = http.createServer((_request, response) => {
    const commit = state.answers[Math.min(state.requests, state.answers.length - 1)];
    state.requests++;
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: "hono-ecr-service", commit }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => server.close();
  return state;
}

export const deployment = (id: string, taskDefinition: string, status: string, rolloutState: DeploymentRolloutState, extra: Partial<Deployment> = {}): Deployment => ({
  id,
  taskDefinition,
  status,
  rolloutState,
  desiredCount: 2,
  runningCount: rolloutState === "COMPLETED" ? 2 : 0,
  pendingCount: 0,
  failedTasks: 0,
  createdAt: new Date(0),
  ...extra,
});
export const service = (deployments: Deployment[], events: { id: string; message: string }[] = [], extra: Partial<Service> = {}): { services: Service[] } => ({
  services: [
    {
      serviceName: "web",
      serviceArn: SERVICE_ARN,
      status: "ACTIVE",
      desiredCount: 2,
      runningCount: deployments.filter((d) => d.status === "PRIMARY").reduce((sum, d) => sum + (d.runningCount ?? 0), 0),
      pendingCount: 0,
      deployments,
      loadBalancers: [{ targetGroupArn: TG, containerName: "service", containerPort: 8080 }],
      events: events.map((event) => ({ ...event, createdAt: new Date(0) })),
      ...extra,
    },
  ],
});
export const STEADY = service([deployment("ecs-svc/old", TD1, "PRIMARY", "COMPLETED")], [{ id: "e0", message: "(service web) has reached a steady state." }]);

export function revision(arn: string, digest: string, tags: { key: string; value: string }[] = [], architecture = "ARM64") {
  return {
    taskDefinition: {
      taskDefinitionArn: arn,
      family: "hono-ecr-service-staging",
      status: "ACTIVE" as const,
      revision: Number(arn.split(":").pop()),
      networkMode: "awsvpc" as const,
      cpu: "256",
      memory: "512",
      requiresCompatibilities: ["FARGATE" as const],
      runtimePlatform: { cpuArchitecture: architecture as "ARM64", operatingSystemFamily: "LINUX" as const },
      executionRoleArn: "arn:aws:iam::123456789012:role/hono-ecr-service-staging-execution",
      taskRoleArn: "arn:aws:iam::123456789012:role/hono-ecr-service-staging-task",
      containerDefinitions: [{ name: "service", image: `${REGISTRY}/hono-ecr-service@${digest}`, essential: true, user: "1000:1000", readonlyRootFilesystem: true, environment: [{ name: "PORT", value: "8080" }] }],
      compatibilities: ["EC2" as const, "FARGATE" as const],
      registeredAt: new Date(0),
    },
    tags,
  };
}
export const INDEX = (platforms: string[]) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: platforms.map((platform, i) => ({ digest: `sha256:${String(i).repeat(64)}`, platform: { os: platform.split("/")[0], architecture: platform.split("/")[1] } })),
  });

/** The answers every deploy gets before it changes anything: the running service, its revision, the release in ECR, the load balancer. */
export function baseAnswers(address: string): void {
  ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: TD1 }).resolves(revision(TD1, OLD_DIGEST));
  ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: TD2 }).resolves(revision(TD2, NEW_DIGEST, [{ key: RELEASE_TAG, value: NEW_COMMIT }, { key: PREVIOUS_TAG, value: TD1 }]));
  ecr.on(DescribeImagesCommand, { imageIds: [{ imageTag: NEW_COMMIT }] }).resolves({ imageDetails: [{ imageDigest: NEW_DIGEST, imageTags: [NEW_COMMIT, "latest"], imagePushedAt: NEW_PUSHED }] });
  ecr.on(DescribeImagesCommand, { imageIds: [{ imageDigest: NEW_DIGEST }] }).resolves({ imageDetails: [{ imageDigest: NEW_DIGEST, imageTags: [NEW_COMMIT, "latest"], imagePushedAt: NEW_PUSHED }] });
  ecr.on(DescribeImagesCommand, { imageIds: [{ imageDigest: OLD_DIGEST }] }).resolves({ imageDetails: [{ imageDigest: OLD_DIGEST, imageTags: [OLD_COMMIT], imagePushedAt: OLD_PUSHED }] });
  // The environment's stack stands and CloudFormation is not changing it.
  cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: "HonoService-staging", StackStatus: "UPDATE_COMPLETE", CreationTime: new Date(0) }] });
  // The service carries no freeze (a rollback's tag) unless a test says so.
  ecs.on(ListTagsForResourceCommand).resolves({ tags: [] });
  // ECR's scan of the platform image: complete, nothing serious; the release signed by the pipeline's profile.
  ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "COMPLETE" }, imageScanFindings: { findingSeverityCounts: { LOW: 2 }, findings: [] } });
  ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: SIGNING_PROFILE }] });
  // The registry's signing configuration, as setup-registry writes it: this repository signed with the profile.
  ecr.on(GetSigningConfigurationCommand).resolves({ signingConfiguration: { rules: [{ signingProfileArn: SIGNING_PROFILE, repositoryFilters: [{ filter: "hono-ecr-service", filterType: "WILDCARD_MATCH" }] }] } });
  ecr.on(BatchGetImageCommand).resolves({ images: [{ imageManifest: INDEX(["linux/amd64", "linux/arm64"]), registryId: "123456789012" }] });
  // Re-tagging (deployed-<env>, rollback-<env>): PutImage of a stored manifest.
  ecr.on(PutImageCommand).resolves({});
  elb.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ TargetGroupArn: TG, LoadBalancerArns: [LB] }] });
  elb.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ LoadBalancerArn: LB, DNSName: address }] });
  elb.on(DescribeListenersCommand).resolves({ Listeners: [{ Port: 80, Protocol: "HTTP" }] });
  ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD2 } });
  ecs.on(UpdateServiceCommand).callsFake(() => ({
    service: { ...service([deployment("ecs-svc/new", TD2, "PRIMARY", "IN_PROGRESS"), deployment("ecs-svc/old", TD1, "ACTIVE", "COMPLETED")]).services[0], currentServiceDeployment: SD_ARN },
  }));
  // No service deployment under way before the update (the race check); the rollout's own is SD_ARN.
  ecs.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [] });
  ecs.on(ListTasksCommand, { desiredStatus: "STOPPED" }).resolves({ taskArns: [] });
  ecs.on(ListTasksCommand, { desiredStatus: "RUNNING" }).resolves({ taskArns: ["arn:aws:ecs:eu-west-1:123456789012:task/c/t1", "arn:aws:ecs:eu-west-1:123456789012:task/c/t2"] });
  ecs.on(DescribeTasksCommand).resolves({
    tasks: ["10.0.1.5", "10.0.2.6"].map((ip, i) => ({ taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/c/t${i + 1}`, taskDefinitionArn: TD2, attachments: [{ details: [{ name: "privateIPv4Address", value: ip }] }] })),
  });
  elb.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: ["10.0.1.5", "10.0.2.6"].map((ip) => ({ Target: { Id: ip, Port: 8080 }, TargetHealth: { State: "healthy" } })) });
}

/** The service deployment the mocked UpdateService starts (ECS API reference, Service.currentServiceDeployment). */
export const SD_ARN = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/hono-ecr-service-staging/web/sd-new";

/**
 * The service deployment of a rolling deployment as ECS reports it beside DescribeServices' deployments: ROLLBACK_IN_PROGRESS
 * once a deployment FAILED (with its reason), SUCCESSFUL once the PRIMARY one alone is COMPLETED, else IN_PROGRESS.
 */
export function rollingServiceDeployment(answer: ReturnType<typeof service>): ServiceDeployment {
  const deployments = answer.services[0]!.deployments ?? [];
  const failed = deployments.find((d) => d.rolloutState === "FAILED");
  const primary = deployments.find((d) => d.status === "PRIMARY");
  const status = failed ? "ROLLBACK_IN_PROGRESS" : primary?.rolloutState === "COMPLETED" && deployments.length === 1 ? "SUCCESSFUL" : "IN_PROGRESS";
  return { serviceDeploymentArn: SD_ARN, status, ...(failed?.rolloutStateReason ? { statusReason: failed.rolloutStateReason } : {}) };
}

/**
 * DescribeServices answers in turn: the steady service first (what deploy finds), then `afterUpdate`, the last one
 * repeating; DescribeServiceDeployments answers `serviceDeployments` in turn (the last repeating) or, without them, the
 * rolling deployment's state derived from the last DescribeServices answer.
 */
export function rollout(...afterUpdate: ReturnType<typeof service>[]): void {
  rolloutWith([], ...afterUpdate);
}
export function rolloutWith(serviceDeployments: ServiceDeployment[], ...afterUpdate: ReturnType<typeof service>[]): void {
  let call = 0;
  let sdCall = 0;
  const answers = [STEADY, ...afterUpdate];
  let last = STEADY;
  ecs.on(DescribeServicesCommand).callsFake(() => (last = answers[Math.min(call++, answers.length - 1)]!));
  ecs.on(DescribeServiceDeploymentsCommand).callsFake(() => ({
    serviceDeployments: [serviceDeployments.length > 0 ? { serviceDeploymentArn: SD_ARN, ...serviceDeployments[Math.min(sdCall++, serviceDeployments.length - 1)] } : rollingServiceDeployment(last)],
  }));
}

/** The environment tags PutImage put, in order, as `tag -> digest` (deploy-aware retention). */
export const retagged = (): string[] =>
  ecr.commandCalls(PutImageCommand).map((call) => `${call.args[0].input.imageTag} -> ${call.args[0].input.imageDigest}`);

/** A runtime with a fake clock: sleeping moves it on; progress lines are kept. */
export function testRuntime(): DeployRuntime & { lines: string[]; clock: { now: number } } {
  const clock = { now: 0 };
  const lines: string[] = [];
  return {
    clients: createDeployClients("eu-west-1", FAKE_CREDENTIALS),
    now: () => clock.now,
    sleep: (ms) => {
      clock.now += ms;
      return Promise.resolve();
    },
    log: (line) => lines.push(line),
    fetch: globalThis.fetch,
    pollMs: 10_000,
    lines,
    clock,
  };
}

/**
 * A rollback from TD2 (running, what deploy registered) to TD1: the service runs TD2, then TD1 after the update; the
 * service deployment UpdateService starts ends SUCCESSFUL; TD1's task answers at 10.0.1.5.
 */
export function rollbackRollout(): void {
  rollsBackToTD1(deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED"), [deployment("ecs-svc/back", TD1, "PRIMARY", "IN_PROGRESS"), deployment("ecs-svc/new", TD2, "ACTIVE", "COMPLETED")]);
}

/**
 * A service running `running` whose update to TD1 succeeds: DescribeServices answers it, then TD1 steady; UpdateService
 * answers `updated` and names the service deployment, which ends SUCCESSFUL; TD1's task answers at 10.0.1.5.
 */
function rollsBackToTD1(running: Deployment, updated: Deployment[]): void {
  let call = 0;
  const answers = [service([running]), service([deployment("ecs-svc/back", TD1, "PRIMARY", "COMPLETED")])];
  ecs.on(DescribeServicesCommand).callsFake(() => answers[Math.min(call++, answers.length - 1)]);
  ecs.on(UpdateServiceCommand).callsFake(() => ({ service: { ...service(updated).services[0], currentServiceDeployment: SD_ARN } }));
  ecs.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: SD_ARN, status: "SUCCESSFUL" }] });
  ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: "t", taskDefinitionArn: TD1, attachments: [{ details: [{ name: "privateIPv4Address", value: "10.0.1.5" }] }] }] });
}

/**
 * The hooks of a mocked-deploy test file: one /version server for the file; before each test its answers reset to
 * the new commit and baseAnswers in place; after each, every mocked client reset. Returns the server (set once started).
 */
export function useMockedDeploy(): { server: VersionServer } {
  const state = { server: undefined as unknown as VersionServer };
  beforeAll(async () => {
    state.server = await startVersionServer();
  });
  afterAll(() => state.server.close());
  beforeEach(() => {
    state.server.answers = [NEW_COMMIT];
    state.server.requests = 0;
    baseAnswers(state.server.address);
  });
  afterEach(() => {
    ecs.reset();
    elb.reset();
    ecr.reset();
    cloudformation.reset();
  });
  return state;
}

/**
 * After a stack update: the service runs TD3 (NEW_DIGEST, untagged, registered by CloudFormation); TD2 ran the same
 * image, TD1 (untagged too, the stack's first) ran OLD_DIGEST, whose release ECR's tags name. ListTaskDefinitions
 * answers the family's ACTIVE revisions newest first over two pages; the rollback to TD1 ends SUCCESSFUL.
 */
export function afterStackUpdate(): void {
  ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: TD3 }).resolves(revision(TD3, NEW_DIGEST));
  ecs.on(ListTaskDefinitionsCommand).callsFake((input: { nextToken?: string }) => (input.nextToken ? { taskDefinitionArns: [TD1] } : { taskDefinitionArns: [TD3, TD2], nextToken: "page-2" }));
  rollsBackToTD1(deployment("ecs-svc/stack", TD3, "PRIMARY", "COMPLETED"), [deployment("ecs-svc/back", TD1, "PRIMARY", "COMPLETED")]);
}

/** The blue/green service's two target groups and its production listener rule. */
export const BLUE_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/blue/0123456789abcdef";
export const GREEN_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/green/fedcba9876543210";
export const PRODUCTION_RULE = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/web/0123456789abcdef/0123456789abcdef/0123456789abcdef";

/**
 * A blue/green service running TD2 whose production listener rule forwards with `weights` (blue, green), the tasks
 * registered (healthy) in the `healthy` target group only.
 */
export function blueGreen(weights: [number, number], healthy: "blue" | "green"): { blue: string; green: string } {
  const loadBalancers = [{ targetGroupArn: BLUE_TG, containerName: "service", containerPort: 8080, advancedConfiguration: { alternateTargetGroupArn: GREEN_TG, productionListenerRule: PRODUCTION_RULE, roleArn: "arn:aws:iam::123456789012:role/shift" } }];
  ecs.on(DescribeServicesCommand).resolves(service([deployment("ecs-svc/green", TD2, "PRIMARY", "COMPLETED")], [], { loadBalancers }));
  elb.on(DescribeRulesCommand).resolves({ Rules: [{ RuleArn: PRODUCTION_RULE, Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: BLUE_TG, Weight: weights[0] }, { TargetGroupArn: GREEN_TG, Weight: weights[1] }] } }] }] });
  const registered = { TargetHealthDescriptions: [{ Target: { Id: "10.0.1.5" }, TargetHealth: { State: "healthy" as const } }] };
  elb.on(DescribeTargetHealthCommand, { TargetGroupArn: BLUE_TG }).resolves(healthy === "blue" ? registered : { TargetHealthDescriptions: [] });
  elb.on(DescribeTargetHealthCommand, { TargetGroupArn: GREEN_TG }).resolves(healthy === "green" ? registered : { TargetHealthDescriptions: [] });
  return { blue: BLUE_TG, green: GREEN_TG };
}

/**
 * A blue/green service whose production listener rule a stack update reset to 100/0 while the tasks are registered in
 * the other target group: all traffic goes to a group without a healthy target (aws/aws-cdk#36649).
 */
export const strandedBlueGreen = (): { blue: string; green: string } => blueGreen([100, 0], "green");
