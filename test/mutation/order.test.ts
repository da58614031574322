// dagger/src/deploy/order.ts on its own: the freeze tag's round trip, and the order rule at its edges (same push time,
// unknown push times failing closed, the running release itself, --allow-older).
import { describe, expect, it } from "vitest";
import { DeployError } from "../../dagger/src/deploy/errors.js";
import { checkReleaseOrder, checkRollbackTarget, freezeTag, frozenAgainst, ROLLED_BACK_FROM_TAG, type PushedImage } from "../../dagger/src/deploy/order.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const at = (c: string, iso?: string): PushedImage => ({ digest: digest(c), ...(iso ? { pushedAt: new Date(iso) } : {}) });
const OLD = at("a", "2026-11-30T10:00:00.000Z");
const MID = at("b", "2026-11-30T11:00:00.000Z");
const NEW = at("c", "2026-11-30T12:00:00.000Z");
const MID_TWIN = at("d", "2026-11-30T11:00:00.000Z");

function older(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).failure).toBe("older");
    return (error as Error).message;
  }
  throw new Error("expected DeployError older");
}

describe("the freeze tag", () => {
  it("round-trips the digest and push time", () => {
    const tag = freezeTag(MID);
    expect(tag).toEqual({ key: ROLLED_BACK_FROM_TAG, value: `${MID.digest}@2026-11-30T11:00:00.000Z` });
    expect(frozenAgainst([{ key: "other", value: "x@y" }, tag])).toEqual(MID);
  });

  it("an unknown push time is written as such and read back without one", () => {
    const tag = freezeTag({ digest: MID.digest });
    expect(tag.value).toBe(`${MID.digest}@unknown`);
    expect(frozenAgainst([tag])).toEqual({ digest: MID.digest });
  });

  it("no tag: not frozen; a tag without a time: the digest alone", () => {
    expect(frozenAgainst([{ key: "other", value: `${MID.digest}@2026-11-30T11:00:00.000Z` }])).toBeUndefined();
    expect(frozenAgainst([])).toBeUndefined();
    expect(frozenAgainst([{ key: ROLLED_BACK_FROM_TAG, value: MID.digest }])).toEqual({ digest: MID.digest });
    expect(frozenAgainst([{ key: ROLLED_BACK_FROM_TAG, value: "" }])).toEqual({ digest: "" });
  });
});

describe("checkReleaseOrder without a freeze", () => {
  it("a newer release, or the one running again, goes ahead with nothing to report", () => {
    expect(checkReleaseOrder("prod", NEW, MID, undefined, undefined)).toEqual({ lines: [], liftsFreeze: false });
    expect(checkReleaseOrder("prod", MID, MID, undefined, undefined)).toEqual({ lines: [], liftsFreeze: false });
  });

  it("the running release again goes ahead even when ECR no longer knows its push time", () => {
    expect(checkReleaseOrder("prod", at("b"), at("b"), undefined, undefined)).toEqual({ lines: [], liftsFreeze: false });
  });

  it("another release pushed at the same time as the running one goes ahead (only earlier is older)", () => {
    expect(checkReleaseOrder("prod", MID_TWIN, MID, undefined, undefined).lines).toEqual([]);
  });

  it("an older release is refused, naming both releases and their push times", () => {
    const message = older(() => checkReleaseOrder("prod", OLD, MID, undefined, undefined));
    expect(message).toContain(`${OLD.digest} was pushed 2026-11-30T10:00:00.000Z, before the release prod runs (${MID.digest}, pushed 2026-11-30T11:00:00.000Z)`);
    expect(message).toContain("nothing was changed");
    expect(message).toContain("--allow-older=");
  });

  it("an unknown push time, of either release, fails closed", () => {
    expect(older(() => checkReleaseOrder("prod", at("c"), MID, undefined, undefined))).toContain("at an unknown time (no longer in ECR)");
    expect(older(() => checkReleaseOrder("prod", NEW, at("b"), undefined, undefined))).toContain("at an unknown time");
  });

  it("--allow-older lets an older release through and reports why", () => {
    expect(checkReleaseOrder("prod", OLD, MID, undefined, "hotfix of #12")).toEqual({ lines: [`deployed although ${OLD.digest} was pushed 2026-11-30T10:00:00.000Z, before the release prod runs (${MID.digest}, pushed 2026-11-30T11:00:00.000Z), because: hotfix of #12`], liftsFreeze: false });
  });
});

describe("checkReleaseOrder after a rollback", () => {
  it("the release rolled back from is refused, saying it is that release", () => {
    expect(older(() => checkReleaseOrder("prod", MID, OLD, MID, undefined))).toContain(`prod was rolled back from ${MID.digest} (pushed 2026-11-30T11:00:00.000Z); this is that release`);
  });

  it("a release pushed at the same time or before it is refused too, even one newer than what runs", () => {
    expect(older(() => checkReleaseOrder("prod", MID_TWIN, OLD, MID, undefined))).toContain(`${MID_TWIN.digest} was pushed 2026-11-30T11:00:00.000Z, not after it`);
    expect(older(() => checkReleaseOrder("prod", at("e", "2026-11-30T10:30:00.000Z"), OLD, MID, undefined))).toContain("not after it");
  });

  it("an unknown push time, of the candidate or the frozen release, fails closed", () => {
    expect(older(() => checkReleaseOrder("prod", at("c"), OLD, MID, undefined))).toContain("rolled back from");
    expect(older(() => checkReleaseOrder("prod", NEW, OLD, at("b"), undefined))).toContain("rolled back from");
  });

  it("a newer release goes ahead and lifts the freeze once it serves", () => {
    expect(checkReleaseOrder("prod", NEW, OLD, MID, undefined)).toEqual({ lines: [`newer than ${MID.digest}, which prod was rolled back from: the freeze is lifted once it serves`], liftsFreeze: true });
  });

  it("--allow-older lets the frozen release through but never lifts the freeze", () => {
    const verdict = checkReleaseOrder("prod", MID, OLD, MID, "the fix was in the config");
    expect(verdict.liftsFreeze).toBe(false);
    expect(verdict.lines).toEqual([`deployed although prod was rolled back from ${MID.digest} (pushed 2026-11-30T11:00:00.000Z); this is that release, because: the fix was in the config`]);
  });

  it("the freeze is checked first: one problem reported, not the running-release one as well", () => {
    const message = older(() => checkReleaseOrder("prod", OLD, MID, NEW, undefined));
    expect(message).toContain("rolled back from");
    expect(message).not.toContain("before the release prod runs");
  });
});

describe("checkRollbackTarget", () => {
  it("not frozen, or a target older than the release rolled back from: allowed", () => {
    expect(() => checkRollbackTarget("prod", MID, undefined)).not.toThrow();
    expect(() => checkRollbackTarget("prod", OLD, MID)).not.toThrow();
  });

  it("the release rolled back from, one pushed at the same time, or a later one: refused, naming both", () => {
    const message = older(() => checkRollbackTarget("prod", MID, MID));
    expect(message).toContain(`the rollback target ${MID.digest} (pushed 2026-11-30T11:00:00.000Z) is the release prod was rolled back from, or later (${MID.digest}, pushed 2026-11-30T11:00:00.000Z)`);
    older(() => checkRollbackTarget("prod", MID_TWIN, MID));
    older(() => checkRollbackTarget("prod", NEW, MID));
  });

  it("unknown push times fail closed", () => {
    older(() => checkRollbackTarget("prod", at("a"), MID));
    older(() => checkRollbackTarget("prod", OLD, at("b")));
  });
});
