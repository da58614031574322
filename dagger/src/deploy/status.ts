/**
 * `status`: what runs in an environment now (the release from the revision's tag, or from ECR's tags of its image after a
 * stack update registered it), its deployments as DescribeServices lists them (each with its own
 * rolloutState) and its newest service deployment with its lifecycle stage (ListServiceDeployments,
 * DescribeServiceDeployments), for a person or as JSON.
 */
import {
  containerImage,
  describeRevision,
  describeService,
  describeServiceDeployment,
  listServiceDeployments,
  parseImage,
  productionTraffic,
  type DeployRuntime,
  type ServiceTarget,
  type TrafficShare,
} from "./ecs.js";
import { releaseOfRevision } from "./history.js";
import { shortId } from "./rollout.js";

/** What runs in an environment now. */
export interface StatusReport {
  environment: string;
  cluster: string;
  service: string;
  commit: string;
  image: string;
  digest?: string;
  taskDefinition: string;
  running: number;
  desired: number;
  pending: number;
  deployments: { id?: string; status?: string; taskDefinition?: string; rolloutState?: string; reason?: string; updatedAt?: string }[];
  /** Blue/green: the target groups the production listener rule forwards to, by weight, with their healthy targets. */
  traffic?: TrafficShare[];
  /** Set when production traffic goes to a target group without a healthy target (e.g. a stack update reset the weights). */
  warning?: string;
  /** The newest service deployment (the service-deployment API): its status, lifecycle stage and reason. */
  serviceDeployment?: { id: string; status?: string; lifecycleStage?: string; reason?: string; createdAt?: string };
  events: string[];
}

/** What runs in the environment now, and how its last deployments went. */
export async function serviceStatus(runtime: DeployRuntime, target: ServiceTarget): Promise<StatusReport> {
  const service = await describeService(runtime.clients, target);
  const primary = service.deployments?.find((deployment) => deployment.status === "PRIMARY");
  const revision = primary?.taskDefinition ? await describeRevision(runtime.clients, target, primary.taskDefinition) : undefined;
  const image = revision ? containerImage(revision.taskDefinition, target.container) : "?";
  const digest = revision ? parseImage(image).digest : undefined;
  const [newest] = await listServiceDeployments(runtime.clients, target);
  const rule = service.loadBalancers?.map((balancer) => balancer.advancedConfiguration?.productionListenerRule).find(Boolean);
  const traffic = rule ? await productionTraffic(runtime.clients, target, rule) : undefined;
  const stranded = traffic?.filter((share) => share.weight > 0 && share.healthy === 0) ?? [];
  const described = newest?.serviceDeploymentArn ? await describeServiceDeployment(runtime.clients, target, newest.serviceDeploymentArn) : undefined;
  return {
    environment: target.environment,
    cluster: target.cluster,
    service: target.service,
    commit: (revision && (await releaseOfRevision(runtime.clients, target, revision))) ?? "unknown (neither the revision's tags nor ECR's tags of its image name a release)",
    image,
    ...(digest ? { digest } : {}),
    taskDefinition: primary?.taskDefinition ?? "?",
    running: service.runningCount ?? 0,
    desired: service.desiredCount ?? 0,
    pending: service.pendingCount ?? 0,
    deployments: (service.deployments ?? []).map((deployment) => ({
      id: deployment.id,
      status: deployment.status,
      taskDefinition: deployment.taskDefinition,
      rolloutState: deployment.rolloutState,
      reason: deployment.rolloutStateReason,
      updatedAt: deployment.updatedAt?.toISOString(),
    })),
    ...(traffic ? { traffic } : {}),
    ...(stranded.length > 0
      ? { warning: `production traffic goes to ${stranded.map((share) => share.targetGroupArn.split("/").slice(-2, -1)[0]).join(", ")}, which has no healthy target: a stack update may have reset the listener rule's weights (aws/aws-cdk#36649); deploy again or correct the weights` }
      : {}),
    ...(described
      ? {
          serviceDeployment: {
            id: shortId(described.serviceDeploymentArn),
            ...(described.status ? { status: described.status } : {}),
            ...(described.lifecycleStage ? { lifecycleStage: described.lifecycleStage } : {}),
            ...(described.statusReason ? { reason: described.statusReason } : {}),
            ...(described.createdAt ? { createdAt: described.createdAt.toISOString() } : {}),
          },
        }
      : {}),
    events: (service.events ?? []).slice(0, 5).map((event) => `${event.createdAt?.toISOString() ?? ""} ${event.message ?? ""}`.trim()),
  };
}

/** A status report as a person reads it. */
export function formatStatus(report: StatusReport): string {
  return [
    `${report.environment}: service ${report.service} in cluster ${report.cluster}`,
    `  release:         ${report.commit}`,
    `  image:           ${report.image}`,
    `  task definition: ${report.taskDefinition}`,
    `  tasks:           ${report.running} running of ${report.desired} desired, ${report.pending} pending`,
    ...report.deployments.map((deployment) => `  deployment:      ${deployment.id} ${deployment.status} ${deployment.rolloutState ?? ""}${deployment.reason ? ` (${deployment.reason})` : ""} ${deployment.taskDefinition ?? ""}`),
    ...(report.traffic ?? []).map((share) => `  traffic:         ${share.targetGroupArn.split("/").slice(-2, -1)[0]} weight ${share.weight}, ${share.healthy} healthy target(s)`),
    ...(report.warning ? [`  WARNING:         ${report.warning}`] : []),
    ...(report.serviceDeployment
      ? [`  service deployment: ${report.serviceDeployment.id} ${report.serviceDeployment.status ?? "?"}${report.serviceDeployment.lifecycleStage ? ` stage ${report.serviceDeployment.lifecycleStage}` : ""}${report.serviceDeployment.reason ? ` (${report.serviceDeployment.reason})` : ""}`]
      : []),
    ...report.events.map((event) => `  event:           ${event}`),
  ].join("\n");
}

