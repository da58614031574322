/**
 * ECR lifecycle policies as typed values: a builder for this project's policy, a validator that enforces ECR's
 * rules (each violation named), and an order-insensitive comparison of a stored policy with the wanted one.
 */
import { ENVIRONMENT_TAG_KINDS, LATEST_TAG, SUPPORTED_PLATFORMS } from "./release-tags.js";
import { InputError, validateKeep } from "./validate.js";

/** Which images a rule selects. */
export interface LifecycleSelection {
  tagStatus: "tagged" | "untagged" | "any";
  tagPrefixList?: string[];
  tagPatternList?: string[];
  countType: "imageCountMoreThan" | "sinceImagePushed";
  countUnit?: "days";
  countNumber: number;
}

/** One lifecycle rule: images it selects are expired. */
export interface LifecycleRule {
  rulePriority: number;
  description?: string;
  selection: LifecycleSelection;
  action: { type: "expire" };
}

/** An ECR lifecycle policy document. */
export interface LifecyclePolicy {
  rules: LifecycleRule[];
}

/** Raised for a policy that ECR would reject; the message names the rule and what it breaks. */
export class LifecyclePolicyError extends InputError {
  override name = "LifecyclePolicyError";
}

/** Size bounds of the policy text (ECR's PutLifecyclePolicy). */
export const POLICY_TEXT_MIN = 100;
export const POLICY_TEXT_MAX = 30_720;

/** Releases kept unless told otherwise: the current one plus four to roll back to (storage: see README). */
export const DEFAULT_KEEP = 5;

/**
 * Images one release counts for in the policy's image counts: its index and one image per supported platform.
 * ECR counts images, not releases; see releaseLifecyclePolicy.
 */
export const IMAGES_PER_RELEASE = 1 + SUPPORTED_PLATFORMS.length;

/**
 * Environments one repository serves, at most, for the rules that keep what they run: a `deployed-<env>` or
 * `rollback-<env>` tag is on one index and its platform images at a time, so each of those rules selects at most
 * MAX_ENVIRONMENTS x IMAGES_PER_RELEASE images and keeps them all (the identity stack refuses more environments).
 */
export const MAX_ENVIRONMENTS = 20;

/**
 * This project's policy. ECR evaluates rules by priority; an image that matches a higher rule's tag selection is never
 * expired by a lower rule (though lower rules still count it), and counts sort by push time (re-tagging does not refresh it):
 * 1. the image `latest` points to is kept, however old (a re-run may move `latest` back to an older release);
 * 2. so are its platform images (`latest-linux-*`);
 * 3. and 4. so are, whatever their age, the releases each environment runs (`deployed-<env>`, `deployed-<env>-linux-*`)
 *    and would roll back to (`rollback-<env>`, ...), which deploy and rollback move (ECR knows nothing of ECS: without
 *    these, production waiting for a reviewer while staging moves on would lose its image, and its next task start
 *    would fail with CannotPullContainerError);
 * 5. and 6. per platform, platform images beyond the most recent `keep` x IMAGES_PER_RELEASE expire: a platform image is only
 *    ever expired by its own platform's rule, and that rule keeps at least as many as rule 8 can keep indexes, so a kept
 *    release never loses a part, whatever platforms each release has;
 * 7. untagged images beyond the newest (`keep` + 1) x IMAGES_PER_RELEASE expire: what stays untagged is the signatures
 *    ECR managed signing stores beside each pushed image (an untagged artifact per image, which ECR's policy counts
 *    as an image like any other), so the signatures of the kept releases are kept with them (one release's worth of
 *    slack for a push in flight); an age rule would expire them a day after each push, and deploy refuses unsigned images;
 * 8. release indexes beyond the most recent `keep` x IMAGES_PER_RELEASE images expire: `keep` releases of the default
 *    shape (an index and two platform images), more when releases have fewer platforms.
 */
export function releaseLifecyclePolicy(keep = DEFAULT_KEEP): LifecyclePolicy {
  validateKeep(keep);
  const images = keep * IMAGES_PER_RELEASE;
  const tagged = (rulePriority: number, description: string, pattern: string, countNumber: number): LifecycleRule => ({
    rulePriority,
    description,
    selection: { tagStatus: "tagged", tagPatternList: [pattern], countType: "imageCountMoreThan", countNumber },
    action: { type: "expire" },
  });
  const environmentRules = ENVIRONMENT_TAG_KINDS.map((kind, index) =>
    tagged(3 + index, `Keep what each environment ${kind === "deployed" ? "runs" : "would roll back to"}`, `${kind}-*`, MAX_ENVIRONMENTS * IMAGES_PER_RELEASE),
  );
  const first = 3 + environmentRules.length;
  const platformRules = SUPPORTED_PLATFORMS.map((platform, index) =>
    tagged(first + index, `Keep the ${platform} images of the newest releases`, `*-${platform.replace("/", "-")}`, images),
  );
  return validateLifecyclePolicy({
    rules: [
      tagged(1, "Keep the image latest points to", LATEST_TAG, 1),
      tagged(2, "Keep the platform images of latest", `${LATEST_TAG}-linux-*`, SUPPORTED_PLATFORMS.length),
      ...environmentRules,
      ...platformRules,
      {
        rulePriority: first + platformRules.length,
        description: "Keep the signatures of the newest releases",
        selection: { tagStatus: "untagged", countType: "imageCountMoreThan", countNumber: images + IMAGES_PER_RELEASE },
        action: { type: "expire" },
      },
      tagged(first + 1 + platformRules.length, keep === 1 ? "Keep the newest release" : `Keep the ${keep} newest releases`, "*", images),
    ],
  });
}

const TAG_STATUSES = ["tagged", "untagged", "any"];
const COUNT_TYPES = ["imageCountMoreThan", "sinceImagePushed"];
const MAX_WILDCARDS = 4;

/**
 * Checks `policy` against ECR's rules and returns it unchanged, or throws a LifecyclePolicyError naming the first
 * rule broken: priorities unique whole numbers >= 1; tagStatus, countType, countUnit and action valid; tag lists only
 * (and one of them required) on tagged rules, at most 4 wildcards per pattern; countNumber >= 1; at most one untagged
 * rule; the `any` rule alone with the highest priority; policy text 100 to 30,720 characters.
 */
export function validateLifecyclePolicy(policy: LifecyclePolicy): LifecyclePolicy {
  const fail = (message: string): never => {
    throw new LifecyclePolicyError(`invalid lifecycle policy: ${message}`);
  };
  if (!Array.isArray(policy?.rules) || policy.rules.length === 0) fail("it must have at least one rule");
  const seen = new Set<number>();
  for (const [index, rule] of policy.rules.entries()) {
    const where = `rule ${index + 1} (priority ${String(rule.rulePriority)})`;
    const { selection } = rule;
    if (!Number.isInteger(rule.rulePriority) || rule.rulePriority < 1) fail(`${where}: rulePriority must be a whole number >= 1`);
    if (seen.has(rule.rulePriority)) fail(`${where}: rulePriority ${rule.rulePriority} is used by another rule; priorities must be unique`);
    seen.add(rule.rulePriority);
    if (rule.action?.type !== "expire") fail(`${where}: action.type must be "expire"`);
    if (!selection || !TAG_STATUSES.includes(selection.tagStatus)) fail(`${where}: selection.tagStatus must be one of ${TAG_STATUSES.join(", ")}`);
    const [list, ...otherLists] = [selection.tagPrefixList, selection.tagPatternList].filter((tags) => tags !== undefined);
    if (selection.tagStatus === "tagged") {
      if (!list || otherLists.length > 0 || list.length === 0) fail(`${where}: a tagged rule needs exactly one of tagPrefixList or tagPatternList, not empty`);
    } else if (list) {
      fail(`${where}: tagPrefixList and tagPatternList are only allowed with tagStatus "tagged"`);
    }
    for (const pattern of selection.tagPatternList ?? []) {
      if ((pattern.match(/\*/g) ?? []).length > MAX_WILDCARDS) fail(`${where}: tag pattern ${JSON.stringify(pattern)} has more than ${MAX_WILDCARDS} wildcards`);
    }
    if (!COUNT_TYPES.includes(selection.countType)) fail(`${where}: selection.countType must be one of ${COUNT_TYPES.join(", ")}`);
    if (selection.countType === "sinceImagePushed" && selection.countUnit !== "days") fail(`${where}: countType sinceImagePushed needs countUnit "days"`);
    if (selection.countType === "imageCountMoreThan" && selection.countUnit !== undefined) fail(`${where}: countUnit is only allowed with countType sinceImagePushed`);
    if (!Number.isInteger(selection.countNumber) || selection.countNumber < 1) fail(`${where}: countNumber must be a whole number >= 1`);
  }
  const untagged = policy.rules.filter((rule) => rule.selection.tagStatus === "untagged");
  if (untagged.length > 1) fail(`priorities ${untagged.map((rule) => rule.rulePriority).join(" and ")}: only one rule may select untagged images`);
  const [anyRule, ...moreAnyRules] = policy.rules.filter((rule) => rule.selection.tagStatus === "any");
  const highest = Math.max(...policy.rules.map((rule) => rule.rulePriority));
  if (anyRule && moreAnyRules.length > 0) fail(`priorities ${[anyRule, ...moreAnyRules].map((rule) => rule.rulePriority).join(" and ")}: only one rule may select tagStatus "any"`);
  if (anyRule && anyRule.rulePriority !== highest) fail(`the "any" rule (priority ${anyRule.rulePriority}) must have the highest priority (${highest} is higher)`);
  const length = JSON.stringify(policy).length;
  if (length < POLICY_TEXT_MIN || length > POLICY_TEXT_MAX) fail(`the policy text is ${length} characters; ECR accepts ${POLICY_TEXT_MIN} to ${POLICY_TEXT_MAX}`);
  return policy;
}

/** The policy text sent to ECR. */
export function policyText(policy: LifecyclePolicy): string {
  return JSON.stringify(validateLifecyclePolicy(policy));
}

/** Canonical form for comparison: rules sorted by priority, object keys sorted at every level. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([key, item]) => [key, canonical(item)]));
  }
  return value;
}

/** True when the stored policy text (as ECR returns it, possibly reordered) means the same as `wanted`. */
export function samePolicy(storedText: string, wanted: LifecyclePolicy): boolean {
  let stored: LifecyclePolicy;
  try {
    stored = JSON.parse(storedText) as LifecyclePolicy;
  } catch {
    return false;
  }
  if (!Array.isArray(stored?.rules)) return false;
  const byPriority = (policy: LifecyclePolicy) => ({ rules: [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority) });
  return JSON.stringify(canonical(byPriority(stored))) === JSON.stringify(canonical(byPriority(wanted)));
}
