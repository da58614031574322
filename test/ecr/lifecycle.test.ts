import { describe, expect, it } from "vitest";
import { evaluateLifecyclePolicy, selects, type RepositoryImage } from "../../dagger/src/ecr/lifecycle-evaluator.js";
import {
  DEFAULT_KEEP,
  MAX_ENVIRONMENTS,
  releaseLifecyclePolicy,
  LifecyclePolicyError,
  policyText,
  samePolicy,
  validateLifecyclePolicy,
  type LifecyclePolicy,
  type LifecycleRule,
} from "../../dagger/src/ecr/lifecycle.js";

const rule = (priority: number, selection: Partial<LifecycleRule["selection"]>, extra: Partial<LifecycleRule> = {}): LifecycleRule => ({
  rulePriority: priority,
  description: "a rule with a description long enough for the policy text minimum",
  selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 1, ...selection },
  action: { type: "expire" },
  ...extra,
});

const day = (n: number) => new Date(Date.UTC(2026, 10, 1) + n * 24 * 60 * 60 * 1000);
const NOW = day(30);
const expiredDigests = (policy: LifecyclePolicy, images: RepositoryImage[]) => evaluateLifecyclePolicy(policy, images, NOW).map((e) => e.image.digest).sort();
const ruleOf = (policy: LifecyclePolicy, images: RepositoryImage[]) =>
  Object.fromEntries(evaluateLifecyclePolicy(policy, images, NOW).map((e) => [e.image.digest, e.rulePriority]));

describe("the offline evaluator on the examples of ECR's documentation", () => {
  it("filtering on image age: untagged images older than 14 days expire", () => {
    const policy = { rules: [rule(1, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 14 })] };
    const images = [
      { digest: "old", tags: [], pushedAt: day(10) },
      { digest: "recent", tags: [], pushedAt: day(20) },
      { digest: "tagged-old", tags: ["v1"], pushedAt: day(1) },
    ];
    expect(expiredDigests(policy, images)).toEqual(["old"]);
  });

  it("filtering on image count: only one untagged image is kept, the newest", () => {
    const policy = { rules: [rule(1, { tagStatus: "untagged", countType: "imageCountMoreThan", countNumber: 1 })] };
    const images = [1, 2, 3].map((n) => ({ digest: `u${n}`, tags: [], pushedAt: day(n) }));
    expect(expiredDigests(policy, images)).toEqual(["u1", "u2"]);
  });

  it("example A: an image kept by rule 1 (prod) is not expired by rule 2 (beta), which still counts it", () => {
    // Image A ["beta-1","prod-1"] 10 days ago, B ["beta-2","prod-2"] 9 days ago, C ["beta-3"] 8 days ago;
    // rule 1 prod* keep 1, rule 2 beta* keep 1. The documentation's outcome: only image A expires.
    const policy = {
      rules: [
        rule(1, { tagStatus: "tagged", tagPatternList: ["prod*"], countType: "imageCountMoreThan", countNumber: 1 }),
        rule(2, { tagStatus: "tagged", tagPatternList: ["beta*"], countType: "imageCountMoreThan", countNumber: 1 }),
      ],
    };
    const images = [
      { digest: "A", tags: ["beta-1", "prod-1"], pushedAt: day(20) },
      { digest: "B", tags: ["beta-2", "prod-2"], pushedAt: day(21) },
      { digest: "C", tags: ["beta-3"], pushedAt: day(22) },
    ];
    expect(ruleOf(policy, images)).toEqual({ A: 1 });
  });

  it("a tag list selects only images that have a tag for every entry (prefixes and wildcard patterns)", () => {
    const both = rule(1, { tagStatus: "tagged", tagPrefixList: ["beta", "prod"], countType: "imageCountMoreThan", countNumber: 1 });
    const images = [
      { digest: "A", tags: ["beta-1", "prod-1"], pushedAt: day(1) },
      { digest: "B", tags: ["beta-2"], pushedAt: day(2) },
      { digest: "C", tags: ["beta-3", "prod-3"], pushedAt: day(3) },
    ];
    expect(expiredDigests({ rules: [both] }, images)).toEqual(["A"]);
    expect(selects(rule(1, { tagStatus: "tagged", tagPatternList: ["*-linux-*"], countType: "imageCountMoreThan", countNumber: 1 }), images[0]!)).toBe(false);
    expect(selects(rule(1, { tagStatus: "tagged", tagPatternList: ["b*-*"], countType: "imageCountMoreThan", countNumber: 1 }), images[1]!)).toBe(true);
  });
});

/** A release as publish leaves it: an index tagged with the commit (and more), one tagged image per platform. */
function release(commit: string, pushed: Date, platforms = ["linux/amd64", "linux/arm64"], extraTags: string[] = []): RepositoryImage[] {
  return [
    ...platforms.map((platform) => ({
      digest: `${commit}/${platform}`,
      tags: [commit, ...extraTags].map((tag) => `${tag}-${platform.replace("/", "-")}`),
      pushedAt: pushed,
    })),
    { digest: commit, tags: [commit, ...extraTags], pushedAt: new Date(pushed.getTime() + 1000) },
  ];
}

/** The releases (indexes) still whole after the policy ran: every platform image of a kept index kept too. */
function keptReleases(policy: LifecyclePolicy, images: RepositoryImage[]): string[] {
  const expired = new Set(expiredDigests(policy, images));
  const indexes = images.filter((image) => !image.digest.includes("/") && !expired.has(image.digest)).map((image) => image.digest);
  for (const index of indexes) {
    const parts = images.filter((image) => image.digest.startsWith(`${index}/`));
    expect(parts.filter((part) => expired.has(part.digest)), `release ${index} lost a part`).toEqual([]);
  }
  return indexes.sort();
}

describe("the release policy", () => {
  it("is valid, fits ECR's size limits and keeps 5 releases by default", () => {
    const policy = releaseLifecyclePolicy();
    expect(validateLifecyclePolicy(policy)).toBe(policy);
    const length = policyText(policy).length;
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThanOrEqual(30_720);
    expect(DEFAULT_KEEP).toBe(5);
    expect(policy.rules.map((r) => [r.rulePriority, r.selection.tagStatus, r.selection.tagPatternList?.[0], r.selection.countType, r.selection.countNumber])).toEqual([
      [1, "tagged", "latest", "imageCountMoreThan", 1],
      [2, "tagged", "latest-linux-*", "imageCountMoreThan", 2],
      [3, "tagged", "deployed-*", "imageCountMoreThan", MAX_ENVIRONMENTS * 3],
      [4, "tagged", "rollback-*", "imageCountMoreThan", MAX_ENVIRONMENTS * 3],
      [5, "tagged", "*-linux-amd64", "imageCountMoreThan", 15],
      [6, "tagged", "*-linux-arm64", "imageCountMoreThan", 15],
      [7, "untagged", undefined, "imageCountMoreThan", 18],
      [8, "tagged", "*", "imageCountMoreThan", 15],
    ]);
    // ECR's limits (REFERENCE section 3): at most 4 wildcards per pattern, one untagged rule, the catch-all last.
    expect(policy.rules.flatMap((r) => r.selection.tagPatternList ?? []).every((pattern) => (pattern.match(/\*/g) ?? []).length <= 4)).toBe(true);
  });

  it("rejects an invalid keep before building anything", () => {
    expect(() => releaseLifecyclePolicy(0)).toThrow("keep 0 is invalid");
  });

  it("releases in a row: keeps the newest N whole, expires the older indexes", () => {
    const images = Array.from({ length: 8 }, (_, n) => release(`r${n}`, day(n), undefined, n === 7 ? ["latest"] : [])).flat();
    expect(keptReleases(releaseLifecyclePolicy(2), images)).toEqual(["r6", "r7"]);
    expect(keptReleases(releaseLifecyclePolicy(5), images)).toEqual(["r3", "r4", "r5", "r6", "r7"]);
  });

  it("a re-run moves latest back to an old release: that release is kept whole, with the newest N", () => {
    const images = Array.from({ length: 6 }, (_, n) => release(`r${n}`, day(n), undefined, n === 0 ? ["latest"] : [])).flat();
    expect(keptReleases(releaseLifecyclePolicy(2), images)).toEqual(["r0", "r4", "r5"]);
  });

  it("releases of mixed shapes (single- and multi-platform) never lose a part of a kept release", () => {
    const shapes = [["linux/arm64"], ["linux/amd64", "linux/arm64"], ["linux/amd64"], ["linux/amd64", "linux/arm64"], ["linux/arm64"], ["linux/amd64"]];
    const images = shapes.flatMap((platforms, n) => release(`r${n}`, day(n), platforms));
    for (const keep of [1, 2, 3]) {
      const kept = keptReleases(releaseLifecyclePolicy(keep), images);
      expect(kept.length).toBeGreaterThanOrEqual(keep);
      expect(kept).toContain("r5");
    }
  });

  it("keeps the signatures of the kept releases (untagged artifacts ECR counts as images) and expires the older ones", () => {
    // ECR managed signing stores one untagged signature per pushed image, seconds after it: index and platform images.
    const signatures = (commit: string, pushed: Date) =>
      [commit, `${commit}/linux/amd64`, `${commit}/linux/arm64`].map((subject) => ({ digest: `sig:${subject}`, tags: [], pushedAt: new Date(pushed.getTime() + 5_000) }));
    const images = Array.from({ length: 10 }, (_, n) => [...release(`r${n}`, day(n), undefined, n === 9 ? ["latest"] : []), ...signatures(`r${n}`, day(n))]).flat();
    const policy = releaseLifecyclePolicy(5);
    const kept = keptReleases(policy, images).filter((digest) => !digest.startsWith("sig:"));
    expect(kept).toEqual(["r5", "r6", "r7", "r8", "r9"]);
    const expired = expiredDigests(policy, images).filter((digest) => digest.startsWith("sig:"));
    // Every signature of a kept release stays; only releases older than the kept ones (and one of slack) lose theirs.
    expect(expired.filter((digest) => kept.some((commit) => digest.startsWith(`sig:${commit}`)))).toEqual([]);
    expect(expired.sort()).toEqual(["r0", "r1", "r2", "r3"].flatMap((commit) => [`sig:${commit}`, `sig:${commit}/linux/amd64`, `sig:${commit}/linux/arm64`]).sort());
    // With the former rule (untagged expire a day after push), every signature older than a day would go.
    const ageRule = { rules: policy.rules.map((r) => (r.selection.tagStatus === "untagged" ? { ...r, selection: { tagStatus: "untagged" as const, countType: "sinceImagePushed" as const, countUnit: "days" as const, countNumber: 1 } } : r)) };
    expect(expiredDigests(ageRule, images).filter((digest) => digest.startsWith("sig:r9"))).toHaveLength(3);
  });

  it("staging 10 releases ahead of production: production's running and rollback releases stay whole, whatever their age", () => {
    // r0..r15 published daily; production runs r4 (deployed-production) and would roll back to r3; staging runs r14,
    // would roll back to r13; latest is r15. Deploy moves these tags onto the index and its platform images alike.
    const envTags = (n: number) =>
      [
        [4, "deployed-production"],
        [3, "rollback-production"],
        [14, "deployed-staging"],
        [13, "rollback-staging"],
        [15, "latest"],
      ].flatMap(([at, tag]) => (at === n ? [tag as string] : []));
    const images = Array.from({ length: 16 }, (_, n) => release(`r${n}`, day(n), undefined, envTags(n))).flat();
    const kept = keptReleases(releaseLifecyclePolicy(5), images);
    expect(kept).toEqual(["r11", "r12", "r13", "r14", "r15", "r3", "r4"]);
    // Their platform images carry the environment tags too (deployed-production-linux-arm64, ...): kept by rules 3 and 4.
    const rules = ruleOf(releaseLifecyclePolicy(5), images);
    expect(["r3", "r4"].flatMap((r) => [r, `${r}/linux/amd64`, `${r}/linux/arm64`]).filter((digest) => digest in rules)).toEqual([]);
    expect(images.find((image) => image.digest === "r4/linux/arm64")!.tags).toContain("deployed-production-linux-arm64");
    // Without the environment rules (the former policy) the index production's task definition names is expired.
    const former = { rules: releaseLifecyclePolicy(5).rules.filter((r) => !/^(deployed|rollback)-/.test(r.selection.tagPatternList?.[0] ?? "")) };
    expect(expiredDigests(former, images)).toEqual(expect.arrayContaining(["r3", "r4"]));
  });

  it("the old policy (untagged first, then keep N of any) loses a re-pointed latest and the parts of a kept index", () => {
    const old = {
      rules: [
        rule(1, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 1 }),
        rule(2, { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 1 }),
      ],
    };
    const images = [...release("r0", day(0), undefined, ["latest"]), ...release("r1", day(1))].map((image) =>
      image.digest.includes("/") ? { ...image, tags: [] } : image,
    );
    expect(expiredDigests(old, images)).toEqual(["r0", "r0/linux/amd64", "r0/linux/arm64", "r1/linux/amd64", "r1/linux/arm64"]);
  });
});

describe("validator", () => {
  const accepts = (policy: LifecyclePolicy) => expect(validateLifecyclePolicy(policy)).toBe(policy);
  const rejects = (policy: LifecyclePolicy, message: string) => {
    expect(() => validateLifecyclePolicy(policy)).toThrow(LifecyclePolicyError);
    expect(() => validateLifecyclePolicy(policy)).toThrow(`invalid lifecycle policy: ${message}`);
  };

  it("accepts tagged rules with prefix or pattern lists, untagged and any rules", () => {
    accepts({
      rules: [
        rule(1, { tagStatus: "tagged", tagPrefixList: ["release-"], countNumber: 10 }),
        rule(2, { tagStatus: "tagged", tagPatternList: ["v*.*.*-rc*"], countType: "sinceImagePushed", countUnit: "days", countNumber: 30 }),
        rule(3, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 1 }),
        rule(10, { tagStatus: "any", countNumber: 50 }),
      ],
    });
  });

  it("rejects an empty policy", () => rejects({ rules: [] }, "it must have at least one rule"));
  it("rejects priorities below 1 or fractional", () => {
    rejects({ rules: [rule(0, {})] }, "rule 1 (priority 0): rulePriority must be a whole number >= 1");
    rejects({ rules: [rule(1.5, {})] }, "rule 1 (priority 1.5): rulePriority must be a whole number >= 1");
  });
  it("rejects duplicate priorities", () => {
    rejects({ rules: [rule(1, { tagStatus: "untagged" }), rule(1, {})] }, "rule 2 (priority 1): rulePriority 1 is used by another rule; priorities must be unique");
  });
  it("rejects an action other than expire", () => {
    rejects({ rules: [rule(1, {}, { action: { type: "transition" } as never })] }, 'rule 1 (priority 1): action.type must be "expire"');
  });
  it("rejects an unknown tagStatus", () => {
    rejects({ rules: [rule(1, { tagStatus: "some" as never })] }, "rule 1 (priority 1): selection.tagStatus must be one of tagged, untagged, any");
  });
  it("rejects a tagged rule without, with both, or with an empty tag list", () => {
    const message = "rule 1 (priority 1): a tagged rule needs exactly one of tagPrefixList or tagPatternList, not empty";
    rejects({ rules: [rule(1, { tagStatus: "tagged" })] }, message);
    rejects({ rules: [rule(1, { tagStatus: "tagged", tagPrefixList: ["a"], tagPatternList: ["b*"] })] }, message);
    rejects({ rules: [rule(1, { tagStatus: "tagged", tagPrefixList: [] })] }, message);
  });
  it("rejects tag lists on untagged and any rules", () => {
    rejects({ rules: [rule(1, { tagStatus: "any", tagPrefixList: ["v"] })] }, 'rule 1 (priority 1): tagPrefixList and tagPatternList are only allowed with tagStatus "tagged"');
  });
  it("rejects a pattern with more than 4 wildcards", () => {
    rejects({ rules: [rule(1, { tagStatus: "tagged", tagPatternList: ["*a*b*c*d*"] })] }, 'rule 1 (priority 1): tag pattern "*a*b*c*d*" has more than 4 wildcards');
    accepts({ rules: [rule(1, { tagStatus: "tagged", tagPatternList: ["*a*b*c*"] })] });
  });
  it("rejects an unknown countType, and countUnit where it does not belong or is missing", () => {
    rejects({ rules: [rule(1, { countType: "imageAgeMoreThan" as never })] }, "rule 1 (priority 1): selection.countType must be one of imageCountMoreThan, sinceImagePushed");
    rejects({ rules: [rule(1, { countType: "sinceImagePushed" })] }, 'rule 1 (priority 1): countType sinceImagePushed needs countUnit "days"');
    rejects({ rules: [rule(1, { countUnit: "days" })] }, "rule 1 (priority 1): countUnit is only allowed with countType sinceImagePushed");
  });
  it("rejects countNumber below 1", () => {
    rejects({ rules: [rule(1, { countNumber: 0 })] }, "rule 1 (priority 1): countNumber must be a whole number >= 1");
  });
  it("rejects a second untagged rule", () => {
    rejects(
      { rules: [rule(1, { tagStatus: "untagged" }), rule(2, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days" }), rule(3, {})] },
      "priorities 1 and 2: only one rule may select untagged images",
    );
  });
  it("rejects an any rule that is not last, and a second any rule", () => {
    rejects({ rules: [rule(1, {}), rule(2, { tagStatus: "untagged" })] }, 'the "any" rule (priority 1) must have the highest priority (2 is higher)');
    rejects({ rules: [rule(1, {}), rule(2, {})] }, 'priorities 1 and 2: only one rule may select tagStatus "any"');
  });
  it("rejects policy text longer than 30,720 characters (the shortest valid rule is already over the 100-character minimum)", () => {
    const rules = Array.from({ length: 200 }, (_, i) => rule(i + 1, { tagStatus: "tagged", tagPrefixList: [`p${i}`] }, { description: "x".repeat(150) }));
    expect(() => validateLifecyclePolicy({ rules })).toThrow(/the policy text is \d+ characters; ECR accepts 100 to 30720/);
  });
});

describe("samePolicy", () => {
  const wanted = releaseLifecyclePolicy(3);

  it("is true for the same policy with rules reordered and keys in another order", () => {
    const stored = {
      rules: [...wanted.rules].reverse().map((r) => ({ action: r.action, selection: Object.fromEntries(Object.entries(r.selection).reverse()), rulePriority: r.rulePriority, description: r.description })),
    };
    expect(samePolicy(JSON.stringify(stored), wanted)).toBe(true);
  });

  it("is false for a different count, a missing rule, or text that is not a policy", () => {
    expect(samePolicy(policyText(releaseLifecyclePolicy(4)), wanted)).toBe(false);
    expect(samePolicy(JSON.stringify({ rules: [wanted.rules[0]] }), wanted)).toBe(false);
    expect(samePolicy("not json", wanted)).toBe(false);
    expect(samePolicy("{}", wanted)).toBe(false);
  });
});
