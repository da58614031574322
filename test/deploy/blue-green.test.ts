// deploy follows every deployment through the service-deployment API (ListServiceDeployments,
// DescribeServiceDeployments): a blue/green deployment through each lifecycle stage, a rollback during the bake, a stop,
// and rolloutState shown not to be relied on (mocked ECS, ELB and ECR clients, a fake clock).
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListServiceDeploymentsCommand,
  ListTasksCommand,
  UpdateServiceCommand,
  type ServiceDeployment,
  type ServiceDeploymentLifecycleStage,
} from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import { deployRelease } from "../../dagger/src/deploy/deploy.js";
import { tasksOf } from "../../dagger/src/deploy/ecs.js";
import { DeployError } from "../../dagger/src/deploy/errors.js";
import { bakeMinutes } from "../../dagger/src/deploy/rollout.js";
import {
  baseAnswers,
  deployment,
  ecs,
  NEW_COMMIT,
  NEW_DIGEST,
  OLD_DIGEST,
  retagged,
  rolloutWith,
  SD_ARN,
  service,
  STEADY,
  target,
  TD1,
  TD2,
  testRuntime,
  useMockedDeploy,
} from "../helpers/ecs-mocks.js";

const MINUTE = 60_000;
const options = { checks: 1, severity: "CRITICAL" as const };
const BLUE_GREEN = { deploymentConfiguration: { strategy: "BLUE_GREEN" as const, bakeTimeInMinutes: 10 } };
// The stages of an ECS-native blue/green deployment, in order (ECS API reference, ServiceDeployment.lifecycleStage).
const STAGES: ServiceDeploymentLifecycleStage[] = [
  "RECONCILE_SERVICE",
  "PRE_SCALE_UP",
  "SCALE_UP",
  "POST_SCALE_UP",
  "TEST_TRAFFIC_SHIFT",
  "POST_TEST_TRAFFIC_SHIFT",
  "PRODUCTION_TRAFFIC_SHIFT",
  "POST_PRODUCTION_TRAFFIC_SHIFT",
  "BAKE_TIME",
  "CLEAN_UP",
];
const inProgress = (lifecycleStage: ServiceDeploymentLifecycleStage): ServiceDeployment => ({ status: "IN_PROGRESS", lifecycleStage });
// Green runs the new revision as PRIMARY from the production traffic shift on; DescribeServices calls its rollout COMPLETED.
const GREEN_PRIMARY = service([deployment("ecs-svc/green", TD2, "PRIMARY", "COMPLETED", { runningCount: 2 }), deployment("ecs-svc/blue", TD1, "ACTIVE", "COMPLETED")], [], BLUE_GREEN);
const steadyBlueGreen = () => ({ services: [{ ...STEADY.services[0]!, ...BLUE_GREEN }] });

const mocked = useMockedDeploy();

/** DescribeServices: the steady blue/green service, then `after` repeating; DescribeServiceDeployments: `stages` in turn. */
function blueGreen(stages: ServiceDeployment[], after = GREEN_PRIMARY): void {
  rolloutWith(stages, after);
  let call = 0;
  ecs.on(DescribeServicesCommand).callsFake(() => (call++ === 0 ? steadyBlueGreen() : after));
}

describe("a blue/green deployment, followed through the service-deployment API", () => {
  it("goes through every lifecycle stage, BAKE_TIME included, and succeeds only on SUCCESSFUL; the default timeout covers the bake", async () => {
    // The bake lasts two polls here (the same line is printed once).
    const stages = [...STAGES.slice(0, -1), "BAKE_TIME" as const, "CLEAN_UP" as const];
    blueGreen([{ status: "PENDING" }, ...stages.map(inProgress), { status: "SUCCESSFUL", lifecycleStage: "CLEAN_UP" }]);
    const runtime = testRuntime();
    const report = await deployRelease(runtime, target, { commit: NEW_COMMIT }, options);
    expect(report).toMatchObject({ taskDefinition: TD2, unchanged: false });
    const progress = runtime.lines.filter((line) => line.startsWith("service deployment sd-new:"));
    expect(progress).toEqual([
      "service deployment sd-new: PENDING, running 2 of 2, pending 0, failed 0",
      ...STAGES.map((stage) => `service deployment sd-new: IN_PROGRESS, stage ${stage}, running 2 of 2, pending 0, failed 0`),
      "service deployment sd-new: SUCCESSFUL, stage CLEAN_UP, running 2 of 2, pending 0, failed 0",
    ]);
    // 20 minutes plus production's 10-minute bake, read from the service's deployment configuration.
    expect(runtime.lines).toContain(`staging: service deployment sd-new started: ${TD2} (${NEW_COMMIT}), timeout 30 min`);
    // Twelve polls: the bake is waited out, not cut short by rolloutState COMPLETED.
    expect(runtime.clock.now).toBeGreaterThanOrEqual(12 * 10_000);
  });

  it("rolloutState COMPLETED is not taken for success: a PRIMARY on the new revision waits out the bake, and times out if it lasts", async () => {
    blueGreen([inProgress("BAKE_TIME")]);
    const runtime = testRuntime();
    const error = (await deployRelease(runtime, target, { commit: NEW_COMMIT }, { ...options, timeoutMs: 15 * MINUTE }).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("timeout");
    expect(error.message).toContain("the rollout did not finish within 15 min: service deployment sd-new: IN_PROGRESS, stage BAKE_TIME, running 2 of 2");
    // And a PRIMARY on the new revision whose own rolloutState is IN_PROGRESS keeps waiting too, until SUCCESSFUL.
    ecs.reset();
    baseAnswers(mocked.server.address);
    const stillRolling = service([deployment("ecs-svc/green", TD2, "PRIMARY", "IN_PROGRESS", { runningCount: 2 }), deployment("ecs-svc/blue", TD1, "ACTIVE", "COMPLETED")], [], BLUE_GREEN);
    blueGreen([inProgress("SCALE_UP"), inProgress("PRODUCTION_TRAFFIC_SHIFT"), inProgress("BAKE_TIME"), { status: "SUCCESSFUL" }], stillRolling);
    const second = testRuntime();
    await expect(deployRelease(second, target, { commit: NEW_COMMIT }, options)).resolves.toMatchObject({ taskDefinition: TD2 });
    expect(second.lines.filter((line) => line.startsWith("service deployment sd-new:")).at(-1)).toBe("service deployment sd-new: SUCCESSFUL, running 2 of 2, pending 0, failed 0");
  });

  it("a rollback during the bake fails naming the alarm, and the ECR tags follow what runs again", async () => {
    blueGreen([
      inProgress("PRODUCTION_TRAFFIC_SHIFT"),
      inProgress("BAKE_TIME"),
      {
        status: "ROLLBACK_IN_PROGRESS",
        lifecycleStage: "BAKE_TIME",
        statusReason: "Service deployment rolled back because of a CloudWatch alarm in ALARM state.",
        alarms: { status: "TRIGGERED", alarmNames: ["hono-ecr-service production Target5xxRate"], triggeredAlarmNames: ["hono-ecr-service production Target5xxRate"] },
        rollback: { reason: "alarm", serviceRevisionArn: "arn:aws:ecs:eu-west-1:123456789012:service-revision/hono-ecr-service-staging/web/1" },
      },
    ]);
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error).toBeInstanceOf(DeployError);
    expect(error.failure).toBe("deployment-alarm");
    expect(error.message).toBe(
      "ECS rolled the release back (a deployment alarm fired: hono-ecr-service production Target5xxRate): Service deployment rolled back because of a CloudWatch alarm in ALARM state.; " +
        `service deployment sd-new is ROLLBACK_IN_PROGRESS (stage BAKE_TIME); the service goes back to ${TD1}`,
    );
    // No stopped tasks asked for (an alarm, not the circuit breaker); deployed-staging back on what runs.
    expect(ecs.commandCalls(ListTasksCommand).filter((call) => call.args[0].input.desiredStatus === "STOPPED")).toHaveLength(0);
    expect(retagged().filter((line) => line.startsWith("deployed-staging ->"))).toEqual([`deployed-staging -> ${NEW_DIGEST}`, `deployed-staging -> ${OLD_DIGEST}`]);
  });

  it("a stopped deployment fails naming the reason", async () => {
    blueGreen([inProgress("TEST_TRAFFIC_SHIFT"), { status: "STOPPED", statusReason: "Stopped by user request." }]);
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("stopped");
    expect(error.message).toBe("ECS stopped the deployment: service deployment sd-new is STOPPED: Stopped by user request.; the release does not serve");
  });

  it("finds the service deployment through ListServiceDeployments when UpdateService's answer does not name it", async () => {
    blueGreen([inProgress("BAKE_TIME"), { status: "SUCCESSFUL" }]);
    ecs.on(UpdateServiceCommand).resolves({ service: GREEN_PRIMARY.services[0] });
    ecs.on(ListServiceDeploymentsCommand).callsFake((input: { status?: string[] }) =>
      input.status ? { serviceDeployments: [] } : { serviceDeployments: [{ serviceDeploymentArn: SD_ARN, status: "IN_PROGRESS", createdAt: new Date() }] },
    );
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).resolves.toMatchObject({ taskDefinition: TD2 });
    const listed = ecs.commandCalls(ListServiceDeploymentsCommand).at(-1)!.args[0].input;
    expect(listed).toMatchObject({ cluster: "hono-ecr-service-staging", service: "web" });
    expect(listed.createdAt?.after).toBeInstanceOf(Date);
  });
});

describe("what deploy reads before it changes anything", () => {
  it("refuses while the service-deployment API lists one under way (a bake), although every rolloutState says COMPLETED", async () => {
    ecs.on(DescribeServicesCommand).resolves(GREEN_PRIMARY);
    ecs.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: SD_ARN, status: "IN_PROGRESS", createdAt: new Date(0) }] });
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("in-progress");
    expect(error.message).toBe("another deployment of staging is under way: service deployment sd-new (IN_PROGRESS, since 1970-01-01T00:00:00.000Z). Wait for it to end (status) before deploying; nothing was changed");
    expect(ecs.commandCalls(ListServiceDeploymentsCommand)[0]!.args[0].input.status).toEqual(["PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"]);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it("reads a non-PRIMARY deployment's own state: a finished ACTIVE one does not block, one IN_PROGRESS does", async () => {
    const lingering = service([deployment("ecs-svc/old", TD1, "PRIMARY", "COMPLETED"), deployment("ecs-svc/older", TD1, "ACTIVE", "COMPLETED")]);
    rolloutWith([{ status: "SUCCESSFUL" }], service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    let call = 0;
    ecs.on(DescribeServicesCommand).callsFake(() => (call++ === 0 ? lingering : service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")])));
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).resolves.toMatchObject({ taskDefinition: TD2 });

    ecs.on(DescribeServicesCommand).resolves(service([deployment("ecs-svc/old", TD1, "PRIMARY", "COMPLETED"), deployment("ecs-svc/draining", TD1, "ACTIVE", "IN_PROGRESS")]));
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.message).toMatch(/^another deployment of staging is under way: ecs-svc\/draining \(ACTIVE, IN_PROGRESS, /);
  });

  it("the bake each strategy adds to the default timeout (DeploymentConfiguration)", () => {
    const bake = (deploymentConfiguration: object) => bakeMinutes({ deploymentConfiguration });
    expect(bake({ strategy: "ROLLING" })).toBe(0);
    expect(bake({})).toBe(0);
    expect(bake({ strategy: "BLUE_GREEN", bakeTimeInMinutes: 10 })).toBe(10);
    expect(bake({ strategy: "CANARY", bakeTimeInMinutes: 5, canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 6 } })).toBe(11);
    // 25% steps: three bakes between four shifts, then the final bake.
    expect(bake({ strategy: "LINEAR", bakeTimeInMinutes: 5, linearConfiguration: { stepPercent: 25, stepBakeTimeInMinutes: 6 } })).toBe(23);
  });

  it("ListTasks is read to its last page and DescribeTasks asked 100 tasks at a time", async () => {
    const arns = Array.from({ length: 150 }, (_, i) => `arn:aws:ecs:eu-west-1:123456789012:task/c/t${i}`);
    ecs.on(ListTasksCommand).callsFake((input: { nextToken?: string }) => (input.nextToken ? { taskArns: arns.slice(100) } : { taskArns: arns.slice(0, 100), nextToken: "page-2" }));
    ecs.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({ tasks: input.tasks.map((taskArn) => ({ taskArn, taskDefinitionArn: TD2 })) }));
    const tasks = await tasksOf(testRuntime().clients, target, TD2, "RUNNING");
    expect(tasks).toHaveLength(150);
    expect(ecs.commandCalls(DescribeTasksCommand).map((call) => call.args[0].input.tasks!.length)).toEqual([100, 50]);
    expect(ecs.commandCalls(ListTasksCommand).map((call) => call.args[0].input.nextToken)).toEqual([undefined, "page-2"]);
  });
});
