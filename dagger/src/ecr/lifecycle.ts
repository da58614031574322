/**
 * ECR lifecycle policies as typed values: a builder for this project's default, a validator that enforces ECR's
 * rules (each violation named), and an order-insensitive comparison of a stored policy with the wanted one.
 */
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

/**
 * This project's policy: expire untagged images 1 day after push, and keep only the `keep` most recent images of any
 * kind (default 1, as the placeholder project did: minimal storage cost, but no previous image to roll back to).
 */
export function defaultLifecyclePolicy(keep = 1): LifecyclePolicy {
  validateKeep(keep);
  return validateLifecyclePolicy({
    rules: [
      {
        rulePriority: 1,
        description: "Expire untagged images (left behind when a tag moves) one day after push",
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 1 },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        description: keep === 1 ? "Keep only the most recent image" : `Keep only the ${keep} most recent images`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
        action: { type: "expire" },
      },
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
