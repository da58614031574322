/**
 * An offline evaluator of ECR lifecycle policies, after ECR's documented semantics ("Lifecycle policies" and
 * "Examples of lifecycle policies" in the ECR User Guide):
 * - rules are evaluated in ascending rulePriority;
 * - a rule selects images by tag status: `untagged` (no tags), `any`, or `tagged` with a tagPrefixList or tagPatternList,
 *   where every prefix or pattern must match at least one of the image's tags (`*` matches any run of characters);
 * - `imageCountMoreThan N` sorts the selection by push time, newest first, and marks everything after the first N;
 *   `sinceImagePushed N days` marks what was pushed more than N days ago; push time is never refreshed by re-tagging;
 * - an image that matched a higher-priority rule's selection is never expired by a lower-priority rule, but lower rules
 *   still count it ("can still identify them as if they haven't been expired"); an image is expired by at most one rule.
 * ECR evaluates an image index and each of its platform images as separate images; so does this evaluator.
 */
import { isEnvironmentTag, platformOfTag, wildcardPattern } from "./release-tags.js";
import type { LifecyclePolicy, LifecycleRule } from "./lifecycle.js";

/** An image as ECR's DescribeImages describes it. */
export interface RepositoryImage {
  digest: string;
  tags: string[];
  pushedAt: Date;
  /** Bytes ECR counts for the image, when it says (DescribeImages imageSizeInBytes). */
  sizeInBytes?: number;
}

/** An image the policy would expire, and the rule that expires it. */
export interface Expiry {
  image: RepositoryImage;
  rulePriority: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** True when `image` is in the selection of `rule` (its tag status and tag lists). */
export function selects(rule: LifecycleRule, image: RepositoryImage): boolean {
  const { tagStatus, tagPrefixList, tagPatternList } = rule.selection;
  if (tagStatus === "any") return true;
  if (tagStatus === "untagged") return image.tags.length === 0;
  if (image.tags.length === 0) return false;
  if (tagPrefixList) return tagPrefixList.every((prefix) => image.tags.some((tag) => tag.startsWith(prefix)));
  return (tagPatternList ?? []).every((pattern) => image.tags.some((tag) => wildcardPattern(pattern).test(tag)));
}

/** What `policy` expires among `images` at time `now`, oldest first within each rule. */
export function evaluateLifecyclePolicy(policy: LifecyclePolicy, images: RepositoryImage[], now: Date): Expiry[] {
  const claimed = new Set<string>();
  const expired = new Map<string, Expiry>();
  for (const rule of [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority)) {
    const selection = images.filter((image) => selects(rule, image)).sort((a, b) => b.pushedAt.getTime() - a.pushedAt.getTime());
    const { countType, countNumber } = rule.selection;
    const marked =
      countType === "imageCountMoreThan"
        ? selection.slice(countNumber)
        : selection.filter((image) => now.getTime() - image.pushedAt.getTime() > countNumber * DAY_MS);
    for (const image of [...marked].reverse()) {
      if (claimed.has(image.digest) || expired.has(image.digest)) continue;
      expired.set(image.digest, { image, rulePriority: rule.rulePriority });
    }
    for (const image of selection) claimed.add(image.digest);
  }
  return [...expired.values()];
}

/**
 * What the environments run and would roll back to, as deploy and rollback tagged them (`deployed-production`,
 * `rollback-staging`): one `tag -> digest` line per index tag, sorted. The policy keeps these whatever their age.
 */
export function environmentReleases(images: RepositoryImage[]): string[] {
  return images
    .flatMap((image) => image.tags.filter((tag) => isEnvironmentTag(tag) && platformOfTag(tag) === undefined).map((tag) => `${tag} -> ${image.digest}`))
    .sort();
}
