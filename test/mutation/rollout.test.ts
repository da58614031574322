// dagger/src/deploy/rollout.ts on its own, with a scripted ECS (what DescribeServices and DescribeServiceDeployments
// answer at each poll) and a fake clock: when following a rollout keeps waiting, succeeds, fails, and what it prints.
import type { Deployment, Service, ServiceDeployment } from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import { DeployError } from "../../dagger/src/deploy/errors.js";
import { bakeMinutes, followRollout, progressLine, shortId, type RolloutWatch } from "../../dagger/src/deploy/rollout.js";

const TD1 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/app:1";
const TD2 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/app:2";
const SD_ARN = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/cluster/web/sd-42";
const POLL = 15_000;

const dep = (taskDefinition: string, status: string, extra: Partial<Deployment> = {}): Deployment => ({ taskDefinition, status, rolloutState: "COMPLETED", desiredCount: 2, runningCount: 2, pendingCount: 0, failedTasks: 0, ...extra });
/** What ECS reports right after UpdateService once the new tasks run: the new revision PRIMARY, the old one ACTIVE. */
const NEW_PRIMARY: Service = { deployments: [dep(TD2, "PRIMARY", { rolloutState: "IN_PROGRESS" }), dep(TD1, "ACTIVE")] };
const sd = (status: ServiceDeployment["status"], extra: Partial<ServiceDeployment> = {}): ServiceDeployment => ({ serviceDeploymentArn: SD_ARN, status, ...extra });

interface Script {
  services: Service[];
  deployments: (ServiceDeployment | undefined)[];
  stoppedReasons?: string[];
  timeoutMs?: number;
}

/** A watch that answers the script's entries poll by poll (the last one forever), on a clock that only sleeps move. */
function scripted(script: Script) {
  let clock = 1_000_000;
  let polls = 0;
  const state = { lines: [] as string[], sleeps: [] as number[], stoppedAsked: 0 };
  const pick = <T>(list: T[], index: number): T => list[Math.min(index, list.length - 1)]!;
  const watch: RolloutWatch = {
    describe: () => Promise.resolve(pick(script.services, polls)),
    serviceDeployment: () => Promise.resolve(pick(script.deployments, polls++)),
    stoppedReasons: () => (state.stoppedAsked++, Promise.resolve(script.stoppedReasons ?? [])),
    now: () => clock,
    sleep: (ms) => ((clock += ms), state.sleeps.push(ms), Promise.resolve()),
    log: (line) => void state.lines.push(line),
    pollMs: POLL,
    timeoutMs: script.timeoutMs ?? 60 * 60_000,
  };
  return { watch, state, polls: () => polls };
}

async function failureOf(promise: Promise<unknown>): Promise<DeployError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DeployError);
  return error as DeployError;
}

describe("followRollout: when it keeps waiting", () => {
  it("keeps waiting while the new revision is PRIMARY but the service deployment is still IN_PROGRESS (right after UpdateService)", async () => {
    const { watch, state, polls } = scripted({ services: [NEW_PRIMARY], deployments: [sd("PENDING"), sd("IN_PROGRESS"), sd("IN_PROGRESS", { lifecycleStage: "BAKE_TIME" }), sd("SUCCESSFUL")] });
    const outcome = await followRollout(watch, TD2, TD1, new Set());
    expect(polls()).toBe(4);
    expect(state.sleeps).toEqual([POLL, POLL, POLL]);
    expect(outcome).toEqual({ serviceDeployment: sd("SUCCESSFUL"), elapsedMs: 3 * POLL });
  });

  it("keeps waiting while ECS does not list the service deployment yet", async () => {
    const { watch, polls } = scripted({ services: [NEW_PRIMARY], deployments: [undefined, undefined, sd("SUCCESSFUL")] });
    expect((await followRollout(watch, TD2, TD1, new Set())).elapsedMs).toBe(2 * POLL);
    expect(polls()).toBe(3);
  });

  it.each(["PENDING", "IN_PROGRESS"] as const)("does not take a rollback for an ongoing %s deployment", async (status) => {
    const { watch, state } = scripted({ services: [NEW_PRIMARY], deployments: [sd(status), sd("SUCCESSFUL")] });
    await followRollout(watch, TD2, TD1, new Set());
    expect(state.stoppedAsked).toBe(0);
  });
});

describe("followRollout: success only when the PRIMARY deployment runs the new revision", () => {
  it("a SUCCESSFUL service deployment while another revision is PRIMARY fails: another deployment took over", async () => {
    const { watch } = scripted({ services: [{ deployments: [dep(TD1, "PRIMARY"), dep(TD2, "ACTIVE")] }], deployments: [sd("SUCCESSFUL")] });
    const error = await failureOf(followRollout(watch, TD2, TD1, new Set()));
    expect(error.failure).toBe("in-progress");
    expect(error.message).toContain(`PRIMARY deployment runs ${TD1}`);
    expect(error.message).toContain("sd-42");
  });

  it("a SUCCESSFUL service deployment with no PRIMARY deployment fails, saying nothing runs", async () => {
    const { watch } = scripted({ services: [{ deployments: [dep(TD2, "ACTIVE")] }], deployments: [sd("SUCCESSFUL")] });
    const error = await failureOf(followRollout(watch, TD2, TD1, new Set()));
    expect(error.failure).toBe("in-progress");
    expect(error.message).toContain("runs nothing");
  });
});

describe("followRollout: a rollback or a stop fails, naming its cause", () => {
  it.each(["STOP_REQUESTED", "STOPPED"] as const)("%s: stopped, with the status, stage and reason", async (status) => {
    const { watch, state } = scripted({ services: [NEW_PRIMARY], deployments: [sd("IN_PROGRESS"), sd(status, { lifecycleStage: "SCALE_UP", statusReason: "stopped by a user" })] });
    const error = await failureOf(followRollout(watch, TD2, TD1, new Set()));
    expect(error.failure).toBe("stopped");
    expect(error.message).toContain(`is ${status} (stage SCALE_UP): stopped by a user`);
    expect(state.stoppedAsked).toBe(0);
  });

  it.each(["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"] as const)(
    "%s with no alarm: the circuit breaker, with the stopped tasks' reasons and where the service goes back to",
    async (status) => {
      const rollback = sd(status, { statusReason: "tasks failed to start", deploymentCircuitBreaker: { status: "TRIGGERED", failureCount: 3, threshold: 3 } });
      const { watch, state } = scripted({ services: [NEW_PRIMARY], deployments: [rollback], stoppedReasons: ["Essential container exited", "OOM"] });
      const error = await failureOf(followRollout(watch, TD2, TD1, new Set()));
      expect(error.failure).toBe("circuit-breaker");
      expect(error.message).toContain("deployment circuit breaker, 3 failed task(s)");
      expect(error.message).toContain("tasks failed to start");
      expect(error.message).toContain("stopped tasks: Essential container exited; OOM");
      expect(error.message).toContain(`goes back to ${TD1}`);
      expect(error.message).not.toContain("(stage");
      expect(state.stoppedAsked).toBe(1);
    },
  );

  it("a circuit breaker without a failure count or stopped tasks says just that", async () => {
    const { watch } = scripted({ services: [NEW_PRIMARY], deployments: [sd("ROLLBACK_SUCCESSFUL", { statusReason: "x" })] });
    const error = await failureOf(followRollout(watch, TD2, TD1, new Set()));
    expect(error.message).toContain("(deployment circuit breaker):");
    expect(error.message).not.toContain("stopped tasks");
  });

  it.each([
    ["a triggered alarm's name", { alarms: { status: "TRIGGERED" as const, triggeredAlarmNames: ["web-5xx", "web-latency"] } }, "a deployment alarm fired: web-5xx, web-latency"],
    ["the alarms' TRIGGERED status alone", { alarms: { status: "TRIGGERED" as const } }, "(a deployment alarm fired):"],
    ["a named alarm whatever the status says", { alarms: { status: "MONITORING" as const, triggeredAlarmNames: ["web-5xx"] } }, "a deployment alarm fired: web-5xx"],
    ["a reason that speaks of an alarm", { statusReason: "CloudWatch ALARM web-5xx went off" }, "(a deployment alarm fired):"],
  ])("a rollback with %s: the deployment alarm, and no stopped tasks asked for", async (_name, extra, cause) => {
    const { watch, state } = scripted({ services: [NEW_PRIMARY], deployments: [sd("ROLLBACK_IN_PROGRESS", { statusReason: "rolled back", ...extra })], stoppedReasons: ["should not be asked"] });
    const error = await failureOf(followRollout(watch, TD2, TD1, new Set()));
    expect(error.failure).toBe("deployment-alarm");
    expect(error.message).toContain(cause);
    expect(state.stoppedAsked).toBe(0);
    expect(error.message).not.toContain("should not be asked");
  });

  it("the alarms' MONITORING status without names is not an alarm", async () => {
    const { watch } = scripted({ services: [NEW_PRIMARY], deployments: [sd("ROLLBACK_IN_PROGRESS", { statusReason: "tasks failed", alarms: { status: "MONITORING", triggeredAlarmNames: [] } })] });
    expect((await failureOf(followRollout(watch, TD2, TD1, new Set()))).failure).toBe("circuit-breaker");
  });

  it("the reason: the status reason, else the rollback's, else the newest service event about a rollback, else none given", async () => {
    const reasonOf = async (deployment: ServiceDeployment, events?: Service["events"]) => {
      const { watch } = scripted({ services: [{ ...NEW_PRIMARY, ...(events ? { events } : {}) }], deployments: [deployment] });
      return (await failureOf(followRollout(watch, TD2, TD1, new Set()))).message;
    };
    expect(await reasonOf(sd("ROLLBACK_FAILED", { statusReason: "own reason", rollback: { reason: "rollback reason" } }))).toContain("): own reason;");
    expect(await reasonOf(sd("ROLLBACK_FAILED", { rollback: { reason: "rollback reason" } }))).toContain("): rollback reason;");
    const events = [
      { id: "3", message: "(service web) has started 1 tasks" },
      { id: "2", message: "(service web) deployment ecs-svc/1 deployment failed: tasks failed to start. Rolling back" },
      { id: "1", message: "(service web) circuit breaker tripped earlier" },
    ];
    expect(await reasonOf(sd("ROLLBACK_FAILED"), events)).toContain("): (service web) deployment ecs-svc/1 deployment failed: tasks failed to start. Rolling back;");
    expect(await reasonOf(sd("ROLLBACK_FAILED"), [{ id: "9", message: "(service web) rolled back to app:1" }])).toContain("): (service web) rolled back to app:1;");
    expect(await reasonOf(sd("ROLLBACK_FAILED"), [{ id: "9", message: "(service web) rollback done" }])).toContain("): (service web) rollback done;");
    expect(await reasonOf(sd("ROLLBACK_FAILED"), [{ id: "9", message: "(service web) circuit breaker: 3 tasks failed" }])).toContain("): (service web) circuit breaker: 3 tasks failed;");
    expect(await reasonOf(sd("ROLLBACK_FAILED"), [{ id: "9", message: "(service web) has started 2 tasks" }, { id: "8" }])).toContain("): no reason given;");
    expect(await reasonOf(sd("ROLLBACK_FAILED"), undefined)).toContain("): no reason given;");
  });
});

describe("followRollout: the timeout", () => {
  it("fails once the allowance has passed, in whole minutes, saying ECS carries on", async () => {
    const { watch, state } = scripted({ services: [NEW_PRIMARY], deployments: [sd("IN_PROGRESS")], timeoutMs: 4 * POLL });
    const error = await failureOf(followRollout(watch, TD2, TD1, new Set()));
    expect(error.failure).toBe("timeout");
    // Polls at 0, 1, 2, 3 and 4 poll intervals: the one at exactly the allowance fails.
    expect(state.sleeps).toEqual([POLL, POLL, POLL, POLL]);
    expect(error.message).toContain("within 1 min");
    expect(error.message).toContain("ECS carries on");
    expect(error.message).toContain("service deployment sd-42: IN_PROGRESS");
  });
});

describe("followRollout: what it prints", () => {
  it("prints each service event once, oldest first, across polls and calls; events without an id are skipped", async () => {
    const at = (id: string, message: string) => ({ id, message, createdAt: new Date(Number(id) * 1000) });
    // ECS lists events newest first.
    const first: Service = { ...NEW_PRIMARY, events: [at("3", "third"), at("2", "second"), at("1", "first")] };
    const second: Service = { ...NEW_PRIMARY, events: [{ id: "5" }, at("4", "fourth"), at("3", "third"), { message: "no id" }, at("1", "first")] };
    const seen = new Set(["1"]);
    const { watch, state } = scripted({ services: [first, second], deployments: [sd("IN_PROGRESS"), sd("SUCCESSFUL")] });
    await followRollout(watch, TD2, TD1, seen);
    const events = state.lines.filter((line) => line.startsWith("event "));
    expect(events).toEqual([`event ${new Date(2000).toISOString()}: second`, `event ${new Date(3000).toISOString()}: third`, `event ${new Date(4000).toISOString()}: fourth`, "event : "]);
    expect([...seen].sort()).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("prints the progress line when it changes, not at every poll", async () => {
    const { watch, state } = scripted({ services: [NEW_PRIMARY], deployments: [sd("IN_PROGRESS"), sd("IN_PROGRESS"), sd("IN_PROGRESS", { lifecycleStage: "BAKE_TIME" }), sd("SUCCESSFUL")] });
    await followRollout(watch, TD2, TD1, new Set());
    expect(state.lines).toEqual([
      "service deployment sd-42: IN_PROGRESS, running 2 of 2, pending 0, failed 0",
      "service deployment sd-42: IN_PROGRESS, stage BAKE_TIME, running 2 of 2, pending 0, failed 0",
      "service deployment sd-42: SUCCESSFUL, running 2 of 2, pending 0, failed 0",
    ]);
  });

  it("counts the new revision's tasks, wherever ECS lists its deployment", async () => {
    const service: Service = { deployments: [dep(TD1, "ACTIVE", { runningCount: 2 }), dep(TD2, "PRIMARY", { runningCount: 1, desiredCount: 2, rolloutState: "IN_PROGRESS" })] };
    const { watch, state } = scripted({ services: [service], deployments: [sd("SUCCESSFUL")] });
    await followRollout(watch, TD2, TD1, new Set());
    expect(state.lines).toEqual(["service deployment sd-42: SUCCESSFUL, running 1 of 2, pending 0, failed 0"]);
  });

  it("progressLine: counts default to 0, a deployment without tasks yet and one not listed say so", () => {
    expect(progressLine(undefined, undefined)).toBe("service deployment: not listed by ECS yet, no tasks of it yet");
    expect(progressLine(sd("PENDING"), {})).toBe("service deployment sd-42: PENDING, running 0 of 0, pending 0, failed 0");
    expect(progressLine({}, dep(TD2, "PRIMARY", { runningCount: 1, desiredCount: 3, pendingCount: 2, failedTasks: 4 }))).toBe("service deployment ?: ?, running 1 of 3, pending 2, failed 4");
  });

  it("shortId: the last part of the ARN, ? without one", () => {
    expect(shortId(SD_ARN)).toBe("sd-42");
    expect(shortId(undefined)).toBe("?");
  });
});

describe("bakeMinutes: how long ECS bakes a deployment of the service", () => {
  it.each([
    ["no deployment configuration", {}, 0],
    ["no strategy", { deploymentConfiguration: { bakeTimeInMinutes: 9 } }, 0],
    ["ROLLING", { deploymentConfiguration: { strategy: "ROLLING" as const, bakeTimeInMinutes: 9 } }, 0],
    ["BLUE_GREEN", { deploymentConfiguration: { strategy: "BLUE_GREEN" as const, bakeTimeInMinutes: 10 } }, 10],
    ["BLUE_GREEN without a bake time", { deploymentConfiguration: { strategy: "BLUE_GREEN" as const } }, 0],
    ["CANARY", { deploymentConfiguration: { strategy: "CANARY" as const, bakeTimeInMinutes: 10, canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 5 } } }, 15],
    ["CANARY without its bake", { deploymentConfiguration: { strategy: "CANARY" as const, bakeTimeInMinutes: 10 } }, 10],
    ["LINEAR, 25% steps: 3 bakes between steps", { deploymentConfiguration: { strategy: "LINEAR" as const, bakeTimeInMinutes: 10, linearConfiguration: { stepPercent: 25, stepBakeTimeInMinutes: 2 } } }, 16],
    ["LINEAR, 30% steps: 4 steps, 3 bakes between", { deploymentConfiguration: { strategy: "LINEAR" as const, bakeTimeInMinutes: 1, linearConfiguration: { stepPercent: 30, stepBakeTimeInMinutes: 2 } } }, 7],
    ["LINEAR without a step bake", { deploymentConfiguration: { strategy: "LINEAR" as const, bakeTimeInMinutes: 3, linearConfiguration: { stepPercent: 25 } } }, 3],
    ["LINEAR without steps", { deploymentConfiguration: { strategy: "LINEAR" as const, bakeTimeInMinutes: 3, linearConfiguration: { stepBakeTimeInMinutes: 2 } } }, 3],
    ["a canary bake on a LINEAR service is not counted", { deploymentConfiguration: { strategy: "LINEAR" as const, bakeTimeInMinutes: 3, canaryConfiguration: { canaryBakeTimeInMinutes: 50 } } }, 3],
    ["linear steps on a BLUE_GREEN service are not counted", { deploymentConfiguration: { strategy: "BLUE_GREEN" as const, bakeTimeInMinutes: 4, linearConfiguration: { stepPercent: 25, stepBakeTimeInMinutes: 2 } } }, 4],
    ["linear step bakes on a CANARY service are not counted", { deploymentConfiguration: { strategy: "CANARY" as const, linearConfiguration: { stepPercent: 10, stepBakeTimeInMinutes: 50 } } }, 0],
  ])("%s: %i min", (_name, service: Service, minutes) => {
    expect(bakeMinutes(service)).toBe(minutes);
  });
});
