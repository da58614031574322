import { describe, expect, it } from "vitest";
import {
  defaultLifecyclePolicy,
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

describe("default policy", () => {
  it("expires untagged images after a day and keeps only the most recent image", () => {
    expect(defaultLifecyclePolicy()).toEqual({
      rules: [
        {
          rulePriority: 1,
          description: "Expire untagged images (left behind when a tag moves) one day after push",
          selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 1 },
          action: { type: "expire" },
        },
        {
          rulePriority: 2,
          description: "Keep only the most recent image",
          selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 1 },
          action: { type: "expire" },
        },
      ],
    });
  });

  it("keeps N images with --keep N", () => {
    const policy = defaultLifecyclePolicy(5);
    expect(policy.rules[1]).toMatchObject({ description: "Keep only the 5 most recent images", selection: { countNumber: 5 } });
  });

  it("rejects an invalid keep before building anything", () => {
    expect(() => defaultLifecyclePolicy(0)).toThrow("keep 0 is invalid");
  });

  it("its text fits ECR's size limits", () => {
    const length = policyText(defaultLifecyclePolicy()).length;
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThanOrEqual(30_720);
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
  const wanted = defaultLifecyclePolicy(3);

  it("is true for the same policy with rules reordered and keys in another order", () => {
    const stored = {
      rules: [...wanted.rules].reverse().map((r) => ({ action: r.action, selection: Object.fromEntries(Object.entries(r.selection).reverse()), rulePriority: r.rulePriority, description: r.description })),
    };
    expect(samePolicy(JSON.stringify(stored), wanted)).toBe(true);
  });

  it("is false for a different count, a missing rule, or text that is not a policy", () => {
    expect(samePolicy(policyText(defaultLifecyclePolicy(4)), wanted)).toBe(false);
    expect(samePolicy(JSON.stringify({ rules: [wanted.rules[0]] }), wanted)).toBe(false);
    expect(samePolicy("not json", wanted)).toBe(false);
    expect(samePolicy("{}", wanted)).toBe(false);
  });
});
