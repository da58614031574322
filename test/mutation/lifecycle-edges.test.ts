// The lifecycle policy and its evaluator at their edges (dagger/src/ecr/lifecycle.ts, lifecycle-evaluator.ts): the
// rules' descriptions as ECR shows them, counts and ages exactly at the limit, the order of what expires, which rule
// expires an image, and what environments run.
import { describe, expect, it } from "vitest";
import { environmentReleases, evaluateLifecyclePolicy, selects, type RepositoryImage } from "../../dagger/src/ecr/lifecycle-evaluator.js";
import { LifecyclePolicyError, releaseLifecyclePolicy, samePolicy, validateLifecyclePolicy, type LifecyclePolicy, type LifecycleRule } from "../../dagger/src/ecr/lifecycle.js";

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date(Date.UTC(2026, 10, 30));
const image = (digest: string, daysAgo: number, tags: string[] = []): RepositoryImage => ({ digest, tags, pushedAt: new Date(NOW.getTime() - daysAgo * DAY) });
const rule = (rulePriority: number, selection: Partial<LifecycleRule["selection"]>): LifecycleRule => ({
  rulePriority,
  description: "a rule with a description long enough for the policy text minimum",
  selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 1, ...selection },
  action: { type: "expire" },
});
const expiries = (policy: LifecyclePolicy, images: RepositoryImage[]) => evaluateLifecyclePolicy(policy, images, NOW).map((e) => [e.image.digest, e.rulePriority]);

describe("releaseLifecyclePolicy: what ECR shows", () => {
  it("each rule's description says what it keeps", () => {
    expect(releaseLifecyclePolicy(2).rules.map((r) => r.description)).toEqual([
      "Keep the image latest points to",
      "Keep the platform images of latest",
      "Keep what each environment runs",
      "Keep what each environment would roll back to",
      "Keep the linux/amd64 images of the newest releases",
      "Keep the linux/arm64 images of the newest releases",
      "Keep the signatures of the newest releases",
      "Keep the 2 newest releases",
    ]);
    expect(releaseLifecyclePolicy(1).rules.at(-1)!.description).toBe("Keep the newest release");
  });

  it("every rule expires; the counts follow keep", () => {
    const policy = releaseLifecyclePolicy(1);
    expect(policy.rules.every((r) => r.action.type === "expire")).toBe(true);
    expect(policy.rules.map((r) => r.selection.countNumber)).toEqual([1, 2, 60, 60, 3, 3, 6, 3]);
    expect(policy.rules.every((r) => r.selection.countUnit === undefined)).toBe(true);
  });
});

describe("validateLifecyclePolicy at its edges", () => {
  it("priority 1 and countNumber 1 are allowed; a policy that is not an object of rules is refused", () => {
    const policy = { rules: [rule(1, { tagStatus: "untagged" })] };
    expect(validateLifecyclePolicy(policy)).toBe(policy);
    expect(() => validateLifecyclePolicy(null as unknown as LifecyclePolicy)).toThrow("invalid lifecycle policy: it must have at least one rule");
    expect(() => validateLifecyclePolicy({ rules: {} } as unknown as LifecyclePolicy)).toThrow("at least one rule");
  });

  it("a rule without a selection is refused, naming it", () => {
    expect(() => validateLifecyclePolicy({ rules: [{ rulePriority: 2, action: { type: "expire" } } as unknown as LifecycleRule] })).toThrow("rule 1 (priority 2): selection.tagStatus must be one of tagged, untagged, any");
  });

  it("a rule without an action is refused, naming the rule", () => {
    const noAction = { ...rule(3, { tagStatus: "untagged" }), action: undefined } as unknown as LifecycleRule;
    expect(() => validateLifecyclePolicy({ rules: [noAction] })).toThrow('invalid lifecycle policy: rule 1 (priority 3): action.type must be "expire"');
  });

  it("30,720 characters of policy text are allowed, one more is not; the error is a LifecyclePolicyError", () => {
    const sized = (length: number): LifecyclePolicy => {
      const base = { rules: [{ ...rule(1, { tagStatus: "untagged" }), description: "" }] };
      return { rules: [{ ...base.rules[0]!, description: "x".repeat(length - JSON.stringify(base).length) }] };
    };
    expect(JSON.stringify(sized(30_720))).toHaveLength(30_720);
    expect(() => validateLifecyclePolicy(sized(30_720))).not.toThrow();
    let error: unknown;
    try {
      validateLifecyclePolicy(sized(30_721));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LifecyclePolicyError);
    expect((error as Error).name).toBe("LifecyclePolicyError");
    expect((error as Error).message).toBe("invalid lifecycle policy: the policy text is 30721 characters; ECR accepts 100 to 30720");
  });

  it("a prefix list on an untagged rule is refused too", () => {
    expect(() => validateLifecyclePolicy({ rules: [rule(1, { tagStatus: "untagged", tagPatternList: ["a*"] })] })).toThrow('tagPrefixList and tagPatternList are only allowed with tagStatus "tagged"');
  });

  it("wildcards are counted in pattern lists only, exactly 4 allowed", () => {
    expect(() => validateLifecyclePolicy({ rules: [rule(1, { tagStatus: "tagged", tagPatternList: ["a*b*c*d*"] })] })).not.toThrow();
    expect(() => validateLifecyclePolicy({ rules: [rule(1, { tagStatus: "tagged", tagPatternList: ["a", "*a*b*c*d*"] })] })).toThrow('tag pattern "*a*b*c*d*" has more than 4 wildcards');
    expect(() => validateLifecyclePolicy({ rules: [rule(1, { tagStatus: "tagged", tagPrefixList: ["*****"] })] })).not.toThrow();
  });

  it("the any rule at the highest priority among several passes", () => {
    expect(() => validateLifecyclePolicy({ rules: [rule(9, {}), rule(2, { tagStatus: "untagged" }), rule(5, { tagStatus: "tagged", tagPrefixList: ["v"] })] })).not.toThrow();
  });
});

describe("samePolicy", () => {
  it("compares nested values, not just keys", () => {
    const wanted = releaseLifecyclePolicy(2);
    const changed = structuredClone(wanted);
    changed.rules[0]!.selection.tagPatternList = ["latest2"];
    expect(samePolicy(JSON.stringify(changed), wanted)).toBe(false);
    expect(samePolicy(JSON.stringify(wanted), wanted)).toBe(true);
    expect(samePolicy("null", wanted)).toBe(false);
  });
});

describe("the evaluator at its edges", () => {
  it("imageCountMoreThan N keeps exactly N, the newest, and expires the rest oldest first", () => {
    const images = [image("d2", 2), image("d5", 5), image("d1", 1), image("d4", 4), image("d3", 3)];
    expect(expiries({ rules: [rule(1, { tagStatus: "untagged", countNumber: 2 })] }, images)).toEqual([
      ["d5", 1],
      ["d4", 1],
      ["d3", 1],
    ]);
  });

  it("sinceImagePushed N days expires what is older than N days, not what is exactly N days old", () => {
    const images = [image("exact", 14), image("older", 14.001), image("newer", 13.999)];
    expect(expiries({ rules: [rule(1, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 14 })] }, images)).toEqual([["older", 1]]);
  });

  it("an image expired by a higher rule keeps that rule's priority; lower rules count it but do not expire it twice", () => {
    const images = [image("a", 1, ["v1"]), image("b", 2, ["v2"]), image("c", 3, ["v3"])];
    const policy = { rules: [rule(2, { tagStatus: "tagged", tagPrefixList: ["v3"], countType: "sinceImagePushed", countUnit: "days", countNumber: 1 }), rule(7, { countNumber: 1 })] };
    // Rule 2 selects c and expires it (3 days old); rule 7 may not touch c (it matched rule 2's selection), counts a
    // (newest, kept) and expires b.
    expect(expiries(policy, images)).toEqual([
      ["c", 2],
      ["b", 7],
    ]);
  });

  it("rules run by priority whatever their order in the policy", () => {
    const images = [image("a", 1, ["keep"]), image("b", 2, ["x"])];
    const policy = { rules: [rule(9, { countNumber: 1 }), rule(1, { tagStatus: "tagged", tagPrefixList: ["x"], countNumber: 5 })] };
    // Priority 1 claims b (kept, within its 5); priority 9 counts a and b and would expire b, but b is claimed.
    expect(expiries(policy, images)).toEqual([]);
  });

  it("selects: untagged means no tags; a tagged rule never selects an untagged image; prefixes must each match a tag", () => {
    expect(selects(rule(1, { tagStatus: "untagged" }), image("u", 1))).toBe(true);
    expect(selects(rule(1, { tagStatus: "untagged" }), image("t", 1, ["x"]))).toBe(false);
    expect(selects(rule(1, { tagStatus: "tagged", tagPrefixList: ["v"] }), image("u", 1))).toBe(false);
    expect(selects(rule(1, { tagStatus: "tagged", tagPatternList: ["*"] }), image("u", 1))).toBe(false);
    expect(selects(rule(1, { tagStatus: "tagged", tagPrefixList: ["v", "rc"] }), image("t", 1, ["v1", "rc1"]))).toBe(true);
    expect(selects(rule(1, { tagStatus: "tagged", tagPrefixList: ["v", "rc"] }), image("t", 1, ["v1"]))).toBe(false);
    expect(selects(rule(1, { tagStatus: "tagged", tagPrefixList: ["v"] }), image("t", 1, ["xv1"]))).toBe(false);
    expect(selects(rule(1, { tagStatus: "tagged", tagPatternList: ["v*", "*-rc"] }), image("t", 1, ["v1", "2-rc"]))).toBe(true);
    expect(selects(rule(1, { tagStatus: "tagged", tagPatternList: ["v*", "*-rc"] }), image("t", 1, ["v1"]))).toBe(false);
    expect(selects(rule(1, { tagStatus: "any" }), image("u", 1))).toBe(true);
  });
});

describe("environmentReleases", () => {
  it("one line per environment tag on an index, sorted; platform tags and other tags are left out", () => {
    const images = [
      image("sha256:b", 1, ["rollback-staging", "deployed-production", "deployed-production-linux-arm64", "latest"]),
      image("sha256:a", 2, ["deployed-staging", "v1"]),
      image("sha256:c", 3, ["deployed-staging-linux-amd64"]),
      image("sha256:d", 4, []),
    ];
    expect(environmentReleases(images)).toEqual(["deployed-production -> sha256:b", "deployed-staging -> sha256:a", "rollback-staging -> sha256:b"]);
    expect(environmentReleases([])).toEqual([]);
  });
});
