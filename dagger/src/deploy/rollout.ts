/**
 * Following an ECS deployment to its end through the service-deployment API (ECS API reference: ServiceDeployment,
 * ListServiceDeployments, DescribeServiceDeployments; Developer Guide, "View service history using Amazon ECS service
 * deployments"). A deployment's `rolloutState` is documented for rolling deployments only; an ECS-native blue/green
 * (or linear, canary) deployment goes through lifecycle stages (scale-up, test and production traffic shift,
 * BAKE_TIME, clean-up) and stays IN_PROGRESS until the bake is over, while the deployment alarms can still roll it
 * back. So a rollout succeeds only when its service deployment is SUCCESSFUL and the service's PRIMARY deployment runs
 * the new revision; ROLLBACK_* and STOP* fail naming the reason. ECS's "services stable" waiter is not used: it also
 * succeeds after a circuit-breaker rollback.
 */
import type { Deployment, Service, ServiceDeployment, ServiceDeploymentStatus } from "@aws-sdk/client-ecs";
import { DeployError } from "./errors.js";

/** What following a deployment needs: the service and its service deployment as ECS describes them now, a clock, output. */
export interface RolloutWatch {
  describe: () => Promise<Service>;
  /** The service deployment the update started (DescribeServiceDeployments); undefined while ECS does not list it yet. */
  serviceDeployment: () => Promise<ServiceDeployment | undefined>;
  /** Reasons the deployment's stopped tasks give (asked for only when the circuit breaker tripped). */
  stoppedReasons: () => Promise<string[]>;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
  pollMs: number;
  timeoutMs: number;
}

/** How the deployment ended. */
export interface RolloutOutcome {
  serviceDeployment: ServiceDeployment;
  /** Milliseconds from the update to SUCCESSFUL. */
  elapsedMs: number;
}

/** Statuses of a service deployment that has ended or is ending without the new revision serving. */
const FAILED_STATUSES: ServiceDeploymentStatus[] = ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOP_REQUESTED", "STOPPED"];
/** Statuses of a service deployment still under way (the developer guide's "Pending" and "Ongoing" stages). */
export const ONGOING_STATUSES: ServiceDeploymentStatus[] = ["PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"];

const counts = (deployment: Deployment | undefined): string =>
  deployment ? `running ${deployment.runningCount ?? 0} of ${deployment.desiredCount ?? 0}, pending ${deployment.pendingCount ?? 0}, failed ${deployment.failedTasks ?? 0}` : "no tasks of it yet";

/** The last part of a service deployment ARN (`.../service-deployment/<cluster>/<service>/<id>`). */
export const shortId = (arn: string | undefined): string => arn?.split("/").pop() ?? "?";

/** One progress line: the service deployment's status and lifecycle stage, and the new revision's tasks. */
export function progressLine(serviceDeployment: ServiceDeployment | undefined, ours: Deployment | undefined): string {
  if (!serviceDeployment) return `service deployment: not listed by ECS yet, ${counts(ours)}`;
  const stage = serviceDeployment.lifecycleStage ? `, stage ${serviceDeployment.lifecycleStage}` : "";
  return `service deployment ${shortId(serviceDeployment.serviceDeploymentArn)}: ${serviceDeployment.status ?? "?"}${stage}, ${counts(ours)}`;
}

/**
 * Waits until the service deployment that moves the service to `taskDefinitionArn` ends. Success only when it is
 * SUCCESSFUL and the PRIMARY deployment runs `taskDefinitionArn`; a rollback or a stop fails naming the cause (a
 * deployment alarm with its name, the circuit breaker with the stopped tasks' reasons). `from` is the revision ECS goes
 * back to. Past `timeoutMs` it fails, saying that ECS carries on.
 */
export async function followRollout(watch: RolloutWatch, taskDefinitionArn: string, from: string, seenEventIds: Set<string>): Promise<RolloutOutcome> {
  const started = watch.now();
  let lastProgress = "";
  for (;;) {
    const service = await watch.describe();
    const events = (service.events ?? []).filter((event) => event.id && !seenEventIds.has(event.id)).reverse();
    for (const event of events) {
      seenEventIds.add(event.id!);
      watch.log(`event ${event.createdAt?.toISOString() ?? ""}: ${event.message ?? ""}`);
    }
    const deployments = service.deployments ?? [];
    const ours = deployments.find((deployment) => deployment.taskDefinition === taskDefinitionArn);
    const primary = deployments.find((deployment) => deployment.status === "PRIMARY");
    const serviceDeployment = await watch.serviceDeployment();
    const progress = progressLine(serviceDeployment, ours);
    if (progress !== lastProgress) watch.log(progress);
    lastProgress = progress;

    const status = serviceDeployment?.status;
    if (status === "SUCCESSFUL") {
      if (primary?.taskDefinition === taskDefinitionArn) return { serviceDeployment: serviceDeployment!, elapsedMs: watch.now() - started };
      throw new DeployError("in-progress", `ECS reports service deployment ${shortId(serviceDeployment!.serviceDeploymentArn)} SUCCESSFUL, but the PRIMARY deployment runs ${primary?.taskDefinition ?? "nothing"}: another deployment took over`);
    }
    if (status !== undefined && FAILED_STATUSES.includes(status)) throw await failure(watch, serviceDeployment!, service, from);
    if (watch.now() - started >= watch.timeoutMs) {
      throw new DeployError(
        "timeout",
        `the rollout did not finish within ${Math.round(watch.timeoutMs / 60_000)} min: ${progress}. ` +
          "ECS carries on with it (and rolls it back if the circuit breaker or an alarm trips): follow it with the status function",
      );
    }
    await watch.sleep(watch.pollMs);
  }
}

/** The error for a service deployment ECS rolled back or stopped, naming why. */
async function failure(watch: RolloutWatch, serviceDeployment: ServiceDeployment, service: Service, from: string): Promise<DeployError> {
  const status = serviceDeployment.status!;
  const reason = serviceDeployment.statusReason ?? serviceDeployment.rollback?.reason ?? latestRollbackEvent(service) ?? "no reason given";
  const where = `service deployment ${shortId(serviceDeployment.serviceDeploymentArn)} is ${status}${serviceDeployment.lifecycleStage ? ` (stage ${serviceDeployment.lifecycleStage})` : ""}`;
  if (status === "STOP_REQUESTED" || status === "STOPPED") {
    return new DeployError("stopped", `ECS stopped the deployment: ${where}: ${reason}; the release does not serve`);
  }
  const alarms = serviceDeployment.alarms?.triggeredAlarmNames ?? [];
  const alarm = alarms.length > 0 || serviceDeployment.alarms?.status === "TRIGGERED" || /alarm/i.test(reason);
  const stopped = alarm ? [] : await watch.stoppedReasons();
  const cause = alarm ? `a deployment alarm fired${alarms.length > 0 ? `: ${alarms.join(", ")}` : ""}` : `deployment circuit breaker${serviceDeployment.deploymentCircuitBreaker?.failureCount ? `, ${serviceDeployment.deploymentCircuitBreaker.failureCount} failed task(s)` : ""}`;
  return new DeployError(
    alarm ? "deployment-alarm" : "circuit-breaker",
    `ECS rolled the release back (${cause}): ${reason}; ${where}` + `${stopped.length > 0 ? `; stopped tasks: ${stopped.join("; ")}` : ""}; the service goes back to ${from}`,
  );
}

/** The rollout's allowance when no timeout is given, on top of the bake time the service is configured with. */
export const DEFAULT_ROLLOUT_MINUTES = 20;

/**
 * Minutes ECS keeps a deployment of `service` in its bake stages: `bakeTimeInMinutes` (BLUE_GREEN, and after the last
 * step of CANARY/LINEAR), plus the canary's bake or each linear step's bake (ECS API reference, DeploymentConfiguration,
 * CanaryConfiguration, LinearConfiguration). 0 for a rolling deployment.
 */
export function bakeMinutes(service: Service): number {
  const configuration = service.deploymentConfiguration;
  if (!configuration?.strategy || configuration.strategy === "ROLLING") return 0;
  const linear = configuration.linearConfiguration;
  const steps = configuration.strategy === "LINEAR" && linear?.stepPercent ? Math.ceil(100 / linear.stepPercent) - 1 : 0;
  const stepBakes = configuration.strategy === "CANARY" ? (configuration.canaryConfiguration?.canaryBakeTimeInMinutes ?? 0) : steps * (linear?.stepBakeTimeInMinutes ?? 0);
  return (configuration.bakeTimeInMinutes ?? 0) + stepBakes;
}

/** The newest service event that speaks of a rollback, if any. */
function latestRollbackEvent(service: Service): string | undefined {
  return service.events?.find((event) => /roll(ed|ing)? ?back|circuit breaker|alarm/i.test(event.message ?? ""))?.message;
}
