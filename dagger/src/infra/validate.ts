/** The input of `provision` and `bootstrap`, each value checked against its rule before any AWS call or container. */
import { InputError, validateRepositoryName, validateTag } from "../ecr/validate.js";
import { DIGEST_PATTERN } from "../deploy/validate.js";

/** The image a first provision runs: by digest, or by tag (resolved in ECR), optionally naming the repository. */
export interface ProvisionImage {
  digest?: string;
  tag?: string;
  repository?: string;
}

/** `[<account>.dkr.ecr.<region>.amazonaws.com[.cn]/]<repository>` then `@sha256:<64 hex>` or `:<tag>`. */
const IMAGE_PATTERN = /^(?:(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/)?([a-z0-9][a-z0-9._/-]*)(?:@(sha256:[a-f0-9]{64})|:([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))$/;

/** `--image`: `sha256:<64 hex>`, or `[<registry>/]<repository>@sha256:<64 hex>`, or `[<registry>/]<repository>:<tag>`. */
export function parseProvisionImage(image: string, region: string): ProvisionImage {
  if (DIGEST_PATTERN.test(image)) return { digest: image };
  const match = IMAGE_PATTERN.exec(image);
  if (!match) {
    throw new InputError(`--image=${JSON.stringify(image)} is invalid: expected <repository>:<tag> or <repository>@sha256:<64 hex> (optionally after <account>.dkr.ecr.<region>.amazonaws.com/), or sha256:<64 hex>`);
  }
  const [, , imageRegion, repository = "", digest, tag = ""] = match;
  if (imageRegion !== undefined && imageRegion !== region) throw new InputError(`--image is in ${imageRegion}, the environment in ${region}: the tasks pull from their own region's repository`);
  validateRepositoryName(repository);
  return { repository, ...(digest ? { digest } : { tag: validateTag(tag) }) };
}

const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
const NUMERIC_ID = /^[1-9]\d{0,19}$/;

/** `--github-repository`: OWNER/REPO, as GitHub allows the names (the identity stack's context githubRepository). */
export function validateGithubRepository(repository: string): string {
  if (!GITHUB_REPOSITORY.test(repository)) throw new InputError(`--github-repository=${JSON.stringify(repository)} is invalid: expected OWNER/REPO, e.g. acme/shop`);
  return repository;
}

/** `--github-owner-id` and `--github-repository-id`: both or neither, each a numeric id. */
export function validateGithubIds(repository: string, ownerId: string | undefined, repositoryId: string | undefined): { ownerId: string; repositoryId: string } | undefined {
  const hint = `(gh api repos/${repository} --jq '.owner.id, .id')`;
  if ((ownerId === undefined) !== (repositoryId === undefined)) throw new InputError(`--github-${ownerId === undefined ? "owner-id" : "repository-id"} is required with the other id ${hint}, or give neither`);
  if (ownerId === undefined || repositoryId === undefined) return undefined;
  for (const [flag, value] of [["github-owner-id", ownerId], ["github-repository-id", repositoryId]] as const) {
    if (!NUMERIC_ID.test(value)) throw new InputError(`--${flag}=${JSON.stringify(value)} is invalid: expected a numeric id ${hint}`);
  }
  return { ownerId, repositoryId };
}
