/**
 * How a release is tagged in ECR. A release is an image index (one image per platform) tagged with the commit; every
 * platform image is tagged too, `<tag>-<os>-<arch>`, so that no part of a kept release is ever untagged (ECR's lifecycle
 * policy evaluates an index and its platform images separately, and would expire untagged platform images while their
 * index is kept). `latest` and its platform tags move, and so do the tags `deploy` and `rollback` keep on what each
 * environment runs (`deployed-<env>`) and would roll back to (`rollback-<env>`), with their platform tags; every other
 * tag is immutable.
 */
import { InputError } from "./validate.js";

/** The platforms a release can hold: what ECS Fargate runs (ARM64/Graviton and X86_64). */
export const SUPPORTED_PLATFORMS = ["linux/amd64", "linux/arm64"] as const;
export type ReleasePlatform = (typeof SUPPORTED_PLATFORMS)[number];

/** Platforms of a release unless told otherwise: both, so that a deploy can choose either (ARM64 costs ~20% less). */
export const DEFAULT_PLATFORMS: ReleasePlatform[] = [...SUPPORTED_PLATFORMS];

/** The tag that follows what `main` released (moved by the CI publish job only, or on request). */
export const LATEST_TAG = "latest";

/** What an environment's tags mark: the release it runs, and the one `rollback` (or ECS's own rollback) would go back to. */
export type EnvironmentTagKind = "deployed" | "rollback";
export const ENVIRONMENT_TAG_KINDS: readonly EnvironmentTagKind[] = ["deployed", "rollback"];

/** The tag `deploy`/`rollback` move onto an environment's release: `deployed-production`, `rollback-staging`. */
export function environmentTag(kind: EnvironmentTagKind, environment: string): string {
  return `${kind}-${environment}`;
}

/**
 * Tags ECR lets move to another image (tag mutability exclusion filters, WILDCARD; ECR allows 1 to 5); all others are
 * immutable. `deployed-*` and `rollback-*` cover their platform tags (`deployed-production-linux-arm64`) too.
 */
export const MUTABLE_TAG_FILTERS = [LATEST_TAG, `${LATEST_TAG}-linux-*`, ...ENVIRONMENT_TAG_KINDS.map((kind) => `${kind}-*`)];

/** Longest tag OCI allows. */
const MAX_TAG_LENGTH = 128;
/** Longest platform suffix: "-linux-amd64" / "-linux-arm64". */
const PLATFORM_SUFFIX_LENGTH = "-linux-arm64".length;

/** The tag of one platform image of a release tagged `tag`: `3f2c...-linux-arm64`, `latest-linux-amd64`. */
export function platformTag(tag: string, platform: { os: string; architecture: string; variant?: string }): string {
  return [tag, platform.os, platform.architecture, platform.variant].filter(Boolean).join("-");
}

/** The platform (`linux/arm64`) a platform image's tag names: the inverse of platformTag; undefined for any other tag. */
export function platformOfTag(tag: string): string | undefined {
  const match = /-(linux)-([a-z0-9]+)(?:-(v\d+))?$/.exec(tag);
  return match ? match.slice(1).filter(Boolean).join("/") : undefined;
}

/** True when ECR lets `tag` move: it matches one of the repository's tag mutability exclusion filters. */
export function isMutableTag(tag: string): boolean {
  return MUTABLE_TAG_FILTERS.some((filter) => wildcardPattern(filter).test(tag));
}

/** True when `tag` is one `deploy` and `rollback` own (`deployed-*`, `rollback-*`): publish may not set it. */
export function isEnvironmentTag(tag: string): boolean {
  return ENVIRONMENT_TAG_KINDS.some((kind) => tag.startsWith(`${kind}-`));
}

/** Checks that `tag` leaves room for its platform tags (OCI: 128 characters) and is not an environment's tag; returns it. */
export function validateReleaseTag(tag: string): string {
  if (isEnvironmentTag(tag)) {
    throw new InputError(`tag ${JSON.stringify(tag)} is reserved: deploy and rollback move the deployed-<environment> and rollback-<environment> tags onto what each environment runs`);
  }
  if (tag.length + PLATFORM_SUFFIX_LENGTH > MAX_TAG_LENGTH) {
    throw new InputError(`tag ${JSON.stringify(tag.slice(0, 40))}... is ${tag.length} characters: a release tag may have at most ${MAX_TAG_LENGTH - PLATFORM_SUFFIX_LENGTH}, to leave room for -linux-arm64`);
  }
  return tag;
}

/** A wildcard pattern (`*` matches any run of characters, as in ECR filters and lifecycle tag patterns) as a RegExp. */
export function wildcardPattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** Checks release platforms: at least one, each supported (linux/amd64, linux/arm64), none repeated; returns them. */
export function validatePlatforms(platforms: string[]): ReleasePlatform[] {
  if (platforms.length === 0) throw new InputError("platforms is empty: give linux/amd64, linux/arm64 or both");
  for (const platform of platforms) {
    if (!(SUPPORTED_PLATFORMS as readonly string[]).includes(platform)) {
      throw new InputError(`platform ${JSON.stringify(platform)} is not supported: expected ${SUPPORTED_PLATFORMS.join(" or ")} (what ECS Fargate runs)`);
    }
  }
  const repeated = platforms.find((platform, i) => platforms.indexOf(platform) !== i);
  if (repeated !== undefined) throw new InputError(`platform ${JSON.stringify(repeated)} is given twice: each platform once`);
  return platforms as ReleasePlatform[];
}

/** The release tag among an image's tags: not a mutable one (`latest`, `deployed-*`, ...), not a platform image's `<tag>-<os>-<arch>`. */
export function releaseTagOf(tags: string[]): string | undefined {
  const candidates = tags.filter((tag) => !isMutableTag(tag) && platformOfTag(tag) === undefined);
  return candidates.find((tag) => /^[0-9a-f]{40}(-dirty-[0-9a-f]{12})?$/.test(tag)) ?? candidates[0];
}
