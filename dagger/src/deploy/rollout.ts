/**
 * Following an ECS deployment to its end. ECS's own "services stable" waiter also succeeds when the circuit breaker
 * has rolled the release back, so this reads the deployment itself: its `rolloutState`, and which task definition the
 * PRIMARY deployment runs.
 */
import type { Deployment, Service } from "@aws-sdk/client-ecs";
import { DeployError } from "./errors.js";

/** What following a deployment needs: the service as ECS describes it now, a clock, and somewhere to print progress. */
export interface RolloutWatch {
  describe: () => Promise<Service>;
  /** Reasons the deployment's stopped tasks give (asked for only when it failed). */
  stoppedReasons: () => Promise<string[]>;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
  pollMs: number;
  timeoutMs: number;
}

/** How the deployment ended. */
export interface RolloutOutcome {
  deployment: Deployment;
  /** Milliseconds from the update to COMPLETED. */
  elapsedMs: number;
}

const counts = (deployment: Deployment): string =>
  `running ${deployment.runningCount ?? 0} of ${deployment.desiredCount ?? 0}, pending ${deployment.pendingCount ?? 0}, failed ${deployment.failedTasks ?? 0}`;

/**
 * Waits until the deployment `deploymentId` (to `taskDefinitionArn`) ends. Success only when its rolloutState is
 * COMPLETED and the PRIMARY deployment runs `taskDefinitionArn`. A FAILED rollout, or a PRIMARY deployment that runs
 * another revision (ECS rolled back), fails naming the cause: the circuit breaker (with the stopped tasks' reasons) or a
 * deployment alarm. Past `timeoutMs` it fails, saying that ECS carries on.
 */
export async function followRollout(watch: RolloutWatch, deploymentId: string, taskDefinitionArn: string, seenEventIds: Set<string>): Promise<RolloutOutcome> {
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
    const ours = deployments.find((deployment) => deployment.id === deploymentId);
    const primary = deployments.find((deployment) => deployment.status === "PRIMARY");
    if (ours) {
      const progress = `deployment ${deploymentId}: ${ours.rolloutState ?? "?"}, ${counts(ours)}`;
      if (progress !== lastProgress) watch.log(progress);
      lastProgress = progress;
    }
    if (ours?.rolloutState === "COMPLETED" && primary?.taskDefinition === taskDefinitionArn) return { deployment: ours, elapsedMs: watch.now() - started };
    const rolledBack = primary !== undefined && primary.taskDefinition !== taskDefinitionArn;
    if (ours?.rolloutState === "FAILED" || rolledBack || (!ours && primary?.id !== deploymentId)) {
      const reason = ours?.rolloutStateReason ?? latestRollbackEvent(service) ?? "the deployment is gone";
      const alarm = /alarm/i.test(reason);
      const stopped = alarm ? [] : await watch.stoppedReasons();
      throw new DeployError(
        alarm ? "deployment-alarm" : "circuit-breaker",
        `ECS rolled the release back (${alarm ? "a deployment alarm fired" : "deployment circuit breaker"}): ${reason}` +
          `${stopped.length > 0 ? `; stopped tasks: ${stopped.join("; ")}` : ""}; the service runs ${primary?.taskDefinition ?? "?"} again`,
      );
    }
    if (watch.now() - started >= watch.timeoutMs) {
      throw new DeployError(
        "timeout",
        `the rollout did not finish within ${Math.round(watch.timeoutMs / 60_000)} min: deployment ${deploymentId} is ${ours?.rolloutState ?? "?"} (${ours ? counts(ours) : "not listed"}). ` +
          "ECS carries on with it (and rolls it back if the circuit breaker or an alarm trips): follow it with the status function",
      );
    }
    await watch.sleep(watch.pollMs);
  }
}

/** The newest service event that speaks of a rollback, if any. */
function latestRollbackEvent(service: Service): string | undefined {
  return service.events?.find((event) => /roll(ed|ing)? ?back|circuit breaker|alarm/i.test(event.message ?? ""))?.message;
}
