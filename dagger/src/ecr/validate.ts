/**
 * Input rules for ECR, checked before any AWS call. Each check throws an InputError that names the value and the rule.
 */

/** A value given to the pipeline that breaks a rule; the message names both. */
export class InputError extends Error {
  override name = "InputError";
}

const QUOTE_LIMIT = 80;
const quote = (value: string): string => JSON.stringify(value.length > QUOTE_LIMIT ? `${value.slice(0, QUOTE_LIMIT)}...` : value);

/** AWS region names: `us-east-1`, `eu-central-2`, `cn-north-1` (China), `us-gov-west-1` (GovCloud). */
const REGION_PATTERN = /^[a-z]{2,4}(-(gov|iso|isob|isoe|isof))?-[a-z]+-\d{1,2}$/;
/** ECR repository names (API pattern), optionally namespaced with `/`. */
const REPOSITORY_PATTERN = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** OCI image tags. */
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Most releases a lifecycle policy can be told to keep (a sanity bound of this pipeline, not an AWS limit). */
export const MAX_KEEP = 100;

/** Checks an AWS region name; returns it. */
export function validateRegion(region: string): string {
  if (!REGION_PATTERN.test(region)) {
    throw new InputError(`region ${quote(region)} is not an AWS region name: expected e.g. us-east-1, eu-west-2, cn-north-1 or us-gov-west-1`);
  }
  return region;
}

/** Checks an ECR repository name (2 to 256 characters, lowercase, `/`-separated parts joined by `.`, `_` or `-`); returns it. */
export function validateRepositoryName(name: string): string {
  if (name.length < 2 || name.length > 256 || !REPOSITORY_PATTERN.test(name)) {
    throw new InputError(
      `repository ${quote(name)} is not a valid ECR repository name: expected 2 to 256 characters of lowercase letters, digits and . _ - /, ` +
        "each part starting and ending with a letter or digit (e.g. my-team/web-service)",
    );
  }
  return name;
}

/** Checks one image tag (OCI: up to 128 of letters, digits, `_`, `.`, `-`, not starting with `.` or `-`); returns it. */
export function validateTag(tag: string): string {
  if (!TAG_PATTERN.test(tag)) {
    throw new InputError(`tag ${quote(tag)} is not a valid image tag: expected 1 to 128 letters, digits, _ . -, not starting with . or -`);
  }
  return tag;
}

/** Checks a list of tags: at least one, each valid, none repeated; returns it. */
export function validateTags(tags: string[]): string[] {
  if (tags.length === 0) throw new InputError("tags is empty: give at least one tag");
  tags.forEach(validateTag);
  const repeated = tags.find((tag, i) => tags.indexOf(tag) !== i);
  if (repeated !== undefined) throw new InputError(`tag ${quote(repeated)} is given twice: each tag once`);
  return tags;
}

/** Checks the number of releases a lifecycle policy keeps: a whole number from 1 to MAX_KEEP; returns it. */
export function validateKeep(keep: number): number {
  if (!Number.isInteger(keep) || keep < 1 || keep > MAX_KEEP) {
    throw new InputError(`keep ${String(keep)} is invalid: expected a whole number of releases from 1 to ${MAX_KEEP}`);
  }
  return keep;
}

/** The DNS suffix of a region's partition: amazonaws.com, or amazonaws.com.cn for China (cn-*). */
export function partitionDomain(region: string): string {
  return validateRegion(region).startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
}

/** The ECR registry host of an account in a region: `<account>.dkr.ecr.<region>.amazonaws.com` (`.com.cn` in China). */
export function registryHost(accountId: string, region: string): string {
  if (!/^\d{12}$/.test(accountId)) throw new InputError(`account id ${quote(accountId)} is invalid: expected 12 digits`);
  return `${accountId}.dkr.ecr.${region}.${partitionDomain(region)}`;
}
