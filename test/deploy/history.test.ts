// Rollback and status after a stack update: `cdk deploy --parameters ImageDigest=...` registers a revision without the
// deploy's tags. status finds its release from ECR's tags of its image; rollback falls back to the newest older ACTIVE
// revision that ran a release (mocked ECS, ELB and ECR clients).
import { DescribeTaskDefinitionCommand, ListTaskDefinitionsCommand, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import { rollbackRelease } from "../../dagger/src/deploy/deploy.js";
import type { DeployError } from "../../dagger/src/deploy/errors.js";
import { PREVIOUS_TAG } from "../../dagger/src/deploy/ecs.js";
import { formatStatus, serviceStatus } from "../../dagger/src/deploy/status.js";
import { strandedBlueGreen, afterStackUpdate, ecs, NEW_COMMIT, NEW_DIGEST, OLD_COMMIT, revision, target, TD1, TD2, TD3, testRuntime, useMockedDeploy } from "../helpers/ecs-mocks.js";

const mocked = useMockedDeploy();
const options = { checks: 1, severity: "CRITICAL" as const };

describe("after a stack update registered the running revision", () => {
  it("status names its release from ECR's tags of the image its digest names", async () => {
    afterStackUpdate();
    const report = await serviceStatus(testRuntime(), target);
    expect(report).toMatchObject({ taskDefinition: TD3, commit: NEW_COMMIT, digest: NEW_DIGEST });
  });

  it("rollback goes to the newest older ACTIVE revision that ran another release (ListTaskDefinitions, every page)", async () => {
    afterStackUpdate();
    mocked.server.answers = [OLD_COMMIT];
    const runtime = testRuntime();
    const report = await rollbackRelease(runtime, target, options);
    expect(report).toMatchObject({ commit: OLD_COMMIT, taskDefinition: TD1, previousTaskDefinition: TD3 });
    // TD2 runs the image TD3 runs: skipped. TD1's release comes from ECR (it has no release tag).
    expect(ecs.commandCalls(UpdateServiceCommand)[0]!.args[0].input.taskDefinition).toBe(TD1);
    expect(runtime.lines).toContain(`staging: rollback target ${TD1} (the newest older ACTIVE revision that ran a release (none recorded: a stack update registered the running one))`);
    expect(ecs.commandCalls(ListTaskDefinitionsCommand).map((call) => call.args[0].input)).toEqual([
      { familyPrefix: "hono-ecr-service-staging", status: "ACTIVE", sort: "DESC" },
      { familyPrefix: "hono-ecr-service-staging", status: "ACTIVE", sort: "DESC", nextToken: "page-2" },
    ]);
  });

  it("a recorded previous revision that is INACTIVE falls back too; nothing older that ran a release is refused", async () => {
    const recordedInactive = () => {
      afterStackUpdate();
      const inactive = revision(TD2, `sha256:${"d".repeat(64)}`);
      ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: TD3 }).resolves(revision(TD3, NEW_DIGEST, [{ key: PREVIOUS_TAG, value: TD2 }]));
      ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: TD2 }).resolves({ ...inactive, taskDefinition: { ...inactive.taskDefinition, status: "INACTIVE" } });
    };
    recordedInactive();
    mocked.server.answers = [OLD_COMMIT];
    await expect(rollbackRelease(testRuntime(), target, options)).resolves.toMatchObject({ taskDefinition: TD1 });

    recordedInactive();
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [TD3, TD2] });
    const error = (await rollbackRelease(testRuntime(), target, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("no-previous");
    expect(error.message).toBe(
      `staging runs ${TD3}, and no earlier ACTIVE revision of hono-ecr-service-staging ran another release; the recorded previous revision ${TD2} is INACTIVE or names no other image by digest. Deploy an earlier release instead (--commit=<sha> --allow-older="<why>": deploy refuses an older release without it)`,
    );
  });
});

describe("status after a stack update of a blue/green environment", () => {
  it("shows where the production rule sends traffic, with each group's healthy targets, and warns when it strands traffic", async () => {
    const { blue, green } = strandedBlueGreen();
    const report = await serviceStatus(testRuntime(), target);
    expect(report.traffic).toEqual([
      { targetGroupArn: blue, weight: 100, healthy: 0 },
      { targetGroupArn: green, weight: 0, healthy: 1 },
    ]);
    expect(report.warning).toBe(
      "production traffic goes to blue, which has no healthy target: a stack update may have reset the listener rule's weights (aws/aws-cdk#36649); deploy again or correct the weights",
    );
    const text = formatStatus(report);
    expect(text).toContain("  traffic:         blue weight 100, 0 healthy target(s)");
    expect(text).toContain("  WARNING:         production traffic goes to blue");
  });
});
