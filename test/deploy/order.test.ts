// Releases only go forward (dagger/src/deploy/order.ts): the rule on its own, then deploy and rollback with mocked
// ECS/ECR clients: an older release refused before anything changes, --allow-older, the freeze a rollback leaves on
// the service, a newer release lifting it.
import { DescribeImagesCommand } from "@aws-sdk/client-ecr";
import { ListTagsForResourceCommand, RegisterTaskDefinitionCommand, TagResourceCommand, UntagResourceCommand, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import { deployRelease, rollbackRelease } from "../../dagger/src/deploy/deploy.js";
import { DeployError } from "../../dagger/src/deploy/errors.js";
import { checkReleaseOrder, checkRollbackTarget, freezeTag, frozenAgainst, ROLLED_BACK_FROM_TAG } from "../../dagger/src/deploy/order.js";
import {
  deployment,
  ecr,
  ecs,
  NEW_COMMIT,
  NEW_DIGEST,
  NEW_PUSHED,
  OLD_COMMIT,
  OLD_DIGEST,
  OLD_PUSHED,
  rollbackRollout,
  rollout,
  service,
  SERVICE_ARN,
  target,
  TD2,
  testRuntime,
  useMockedDeploy,
} from "../helpers/ecs-mocks.js";

const OLD = { digest: OLD_DIGEST, pushedAt: OLD_PUSHED };
const NEW = { digest: NEW_DIGEST, pushedAt: NEW_PUSHED };
const NEWEST = { digest: `sha256:${"c".repeat(64)}`, pushedAt: new Date("2026-11-30T12:00:00Z") };

describe("the order rule", () => {
  it("lets a newer release through, and refuses an older one naming both push times", () => {
    expect(checkReleaseOrder("staging", NEW, OLD, undefined, undefined)).toEqual({ lines: [], liftsFreeze: false });
    expect(() => checkReleaseOrder("staging", OLD, NEW, undefined, undefined)).toThrow(
      `${OLD_DIGEST} was pushed 2026-11-30T10:00:00.000Z, before the release staging runs (${NEW_DIGEST}, pushed 2026-11-30T11:00:00.000Z). Deploys only move forward`,
    );
    expect(() => checkReleaseOrder("staging", OLD, NEW, undefined, undefined)).toThrow(DeployError);
  });

  it("fails closed when the running release's push time is unknown (ECR no longer has it)", () => {
    expect(() => checkReleaseOrder("staging", NEW, { digest: OLD_DIGEST }, undefined, undefined)).toThrow("pushed at an unknown time (no longer in ECR)");
  });

  it("after a rollback refuses the release rolled back from and every older one, and lifts the freeze for a newer one", () => {
    expect(() => checkReleaseOrder("staging", NEW, OLD, NEW, undefined)).toThrow(`staging was rolled back from ${NEW_DIGEST} (pushed 2026-11-30T11:00:00.000Z); this is that release`);
    expect(() => checkReleaseOrder("staging", OLD, OLD, NEW, undefined)).toThrow("not after it");
    expect(checkReleaseOrder("staging", NEWEST, OLD, NEW, undefined)).toEqual({ lines: [`newer than ${NEW_DIGEST}, which staging was rolled back from: the freeze is lifted once it serves`], liftsFreeze: true });
  });

  it("--allow-older overrides either, and the reason is in the report", () => {
    expect(checkReleaseOrder("staging", OLD, NEW, undefined, "the newer release corrupts carts")).toEqual({
      lines: [`deployed although ${OLD_DIGEST} was pushed 2026-11-30T10:00:00.000Z, before the release staging runs (${NEW_DIGEST}, pushed 2026-11-30T11:00:00.000Z), because: the newer release corrupts carts`],
      liftsFreeze: false,
    });
    // Let through, but not lifting the freeze: the release rolled back from stays refused afterwards.
    const through = checkReleaseOrder("staging", NEW, OLD, NEW, "fixed by a config change");
    expect(through.lines[0]).toMatch(/^deployed although staging was rolled back from .*, because: fixed by a config change$/);
    expect(through.liftsFreeze).toBe(false);
    expect(checkReleaseOrder("staging", OLD, NEW, NEW, "going back two releases").liftsFreeze).toBe(false);
  });

  it("a rollback may not return to the release rolled back from, or a later one", () => {
    expect(() => checkRollbackTarget("staging", NEW, NEW)).toThrow(`the rollback target ${NEW_DIGEST} (pushed 2026-11-30T11:00:00.000Z) is the release staging was rolled back from, or later`);
    expect(() => checkRollbackTarget("staging", NEWEST, NEW)).toThrow(DeployError);
    expect(() => checkRollbackTarget("staging", OLD, NEW)).not.toThrow();
    expect(() => checkRollbackTarget("staging", NEW, undefined)).not.toThrow();
  });

  it("the freeze tag round-trips, and a value without a time is a freeze of unknown time", () => {
    expect(freezeTag(NEW)).toEqual({ key: ROLLED_BACK_FROM_TAG, value: `${NEW_DIGEST}@2026-11-30T11:00:00.000Z` });
    expect(frozenAgainst([{ key: "other", value: "x" }, freezeTag(NEW)])).toEqual(NEW);
    expect(frozenAgainst([freezeTag({ digest: NEW_DIGEST })])).toEqual({ digest: NEW_DIGEST });
    expect(frozenAgainst([])).toBeUndefined();
  });
});

describe("deploy and rollback keep releases going forward (mocked ECS/ECR)", () => {
  const MINUTE = 60_000;
  const options = { timeoutMs: 20 * MINUTE, checks: 2, severity: "CRITICAL" as const };
  const mocked = useMockedDeploy();

  /** The environment runs the old release (TD1, OLD_DIGEST pushed at OLD_PUSHED); a deploy of TD2 completes. */
  const completes = () => rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
  /** The release to deploy, as ECR received it the day before the running one. */
  const pushedTheDayBefore = () =>
    ecr.on(DescribeImagesCommand, { imageIds: [{ imageTag: NEW_COMMIT }] }).resolves({ imageDetails: [{ imageDigest: NEW_DIGEST, imageTags: [NEW_COMMIT], imagePushedAt: new Date("2026-11-29T10:00:00Z") }] });
  const changes = () => ecs.commandCalls(RegisterTaskDefinitionCommand).length + ecs.commandCalls(UpdateServiceCommand).length;

  it("refuses a release ECR received before the running one, before anything changes", async () => {
    pushedTheDayBefore();
    completes();
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("older");
    expect(error.message).toContain("before the release staging runs");
    expect(error.message).toContain('pass --allow-older="<why this release>"');
    expect(changes()).toBe(0);
  });

  it("--allow-older deploys it and reports the reason", async () => {
    pushedTheDayBefore();
    completes();
    const report = await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, { ...options, allowOlder: "hotfix of the older line" });
    expect(report.checks?.[0]).toMatch(/^deployed although .*, because: hotfix of the older line$/);
    expect(changes()).toBe(2);
  });

  it("rollback freezes the service against the release it leaves, before it moves the service", async () => {
    rollbackRollout();
    mocked.server.answers = [OLD_COMMIT];
    const runtime = testRuntime();
    await rollbackRelease(runtime, target, options);
    const tagged = ecs.commandCalls(TagResourceCommand);
    expect(tagged.map((call) => call.args[0].input)).toEqual([{ resourceArn: SERVICE_ARN, tags: [freezeTag(NEW)] }]);
    const order = ecs.calls().map((call) => call.args[0].constructor.name);
    expect(order.indexOf("TagResourceCommand")).toBeLessThan(order.indexOf("UpdateServiceCommand"));
    expect(runtime.lines).toContain(`staging: frozen against ${NEW_DIGEST}: deploy refuses it and older releases until a newer one is deployed`);
  });

  it("a second rollback keeps the freeze against the later release", async () => {
    // Frozen against a release newer than the one running now; the rollback leaves NEW (older than that freeze).
    ecs.on(ListTagsForResourceCommand).resolves({ tags: [freezeTag(NEWEST)] });
    rollbackRollout();
    mocked.server.answers = [OLD_COMMIT];
    await rollbackRelease(testRuntime(), target, options);
    expect(ecs.commandCalls(TagResourceCommand)[0]!.args[0].input.tags).toEqual([freezeTag(NEWEST)]);
  });

  it("a deploy queued behind a rollback cannot put the rolled-back release back", async () => {
    ecs.on(ListTagsForResourceCommand).resolves({ tags: [freezeTag(NEW)] });
    completes();
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("older");
    expect(error.message).toContain(`staging was rolled back from ${NEW_DIGEST}`);
    expect(changes()).toBe(0);
    expect(ecs.commandCalls(UntagResourceCommand)).toHaveLength(0);
  });

  it("--allow-older past a freeze deploys but keeps the freeze", async () => {
    ecs.on(ListTagsForResourceCommand).resolves({ tags: [freezeTag(NEW)] });
    completes();
    await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, { ...options, allowOlder: "config fix, same image" });
    expect(changes()).toBe(2);
    expect(ecs.commandCalls(UntagResourceCommand)).toHaveLength(0);
  });

  it("a rollback to the release it is frozen against is refused before anything changes", async () => {
    // Frozen against OLD (the rollback target, TD1's image): e.g. a stack update left TD1 as the newest older revision.
    ecs.on(ListTagsForResourceCommand).resolves({ tags: [freezeTag(OLD)] });
    rollbackRollout();
    const error = (await rollbackRelease(testRuntime(), target, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("older");
    expect(error.message).toContain(`the rollback target ${OLD_DIGEST}`);
    expect(changes()).toBe(0);
    expect(ecs.commandCalls(TagResourceCommand)).toHaveLength(0);
  });

  it("a release newer than the one rolled back from deploys, and lifts the freeze once it serves", async () => {
    ecs.on(ListTagsForResourceCommand).resolves({ tags: [freezeTag(OLD)] });
    completes();
    const report = await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options);
    expect(report.checks?.[0]).toBe(`newer than ${OLD_DIGEST}, which staging was rolled back from: the freeze is lifted once it serves`);
    expect(ecs.commandCalls(UntagResourceCommand).map((call) => call.args[0].input)).toEqual([{ resourceArn: SERVICE_ARN, tagKeys: [ROLLED_BACK_FROM_TAG] }]);
    const order = ecs.calls().map((call) => call.args[0].constructor.name);
    expect(order.lastIndexOf("UpdateServiceCommand")).toBeLessThan(order.indexOf("UntagResourceCommand"));
  });
});
