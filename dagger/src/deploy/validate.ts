/** The deploy functions' input, each value checked against its rule before any AWS call. */
import { InputError } from "../ecr/validate.js";
import { ENVIRONMENT_NAME_PATTERN } from "./names.js";

/** An image digest: sha256 and 64 lower-case hex digits. */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** An ECR image by digest: `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>@sha256:<64 hex>`. */
const ECR_IMAGE_PATTERN = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*)@(sha256:[a-f0-9]{64})$/;
/** A full git commit id, what a release is tagged with. */
const COMMIT_PATTERN = /^[0-9a-f]{40}$/;

/** Longest rollout `deploy` waits for, in minutes. */
export const MAX_TIMEOUT_MINUTES = 120;
/** Most consecutive `/version` answers `deploy` can be asked to see. */
export const MAX_CHECKS = 50;

/** Which image to deploy: a digest (and the repository, when the reference names one). */
export interface ImageChoice {
  digest?: string;
  repository?: string;
  registryAccount?: string;
  region?: string;
  commit?: string;
}

/** An environment name as infra/environments.ts accepts it. */
export function validateEnvironmentName(environment: string): string {
  if (!ENVIRONMENT_NAME_PATTERN.test(environment)) {
    throw new InputError(`environment ${JSON.stringify(environment)} is invalid: expected lower-case letters, digits and '-', starting with a letter, at most 20 characters (an entry of infra/environments.ts)`);
  }
  return environment;
}

/**
 * What to deploy: exactly one of `image` (`<registry>/<repository>@sha256:...`, or `sha256:...` for the repository the
 * service already runs from) and `commit` (a full commit id, resolved to its digest in that repository).
 */
export function parseImageChoice(image: string | undefined, commit: string | undefined, region: string): ImageChoice {
  if ((image === undefined) === (commit === undefined)) throw new InputError("give exactly one of --image=<repository>@sha256:<digest> (or sha256:<digest>) and --commit=<full commit id>");
  if (commit !== undefined) {
    if (!COMMIT_PATTERN.test(commit)) throw new InputError(`--commit=${JSON.stringify(commit)} is invalid: expected a full 40-character commit id (git rev-parse HEAD)`);
    return { commit };
  }
  if (DIGEST_PATTERN.test(image!)) return { digest: image! };
  const match = ECR_IMAGE_PATTERN.exec(image!);
  if (!match) {
    throw new InputError(`--image=${JSON.stringify(image)} is invalid: expected an ECR image by digest, <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>, or sha256:<64 hex>; a tag can move, a digest cannot`);
  }
  const [, registryAccount = "", imageRegion = "", repository = "", digest = ""] = match;
  if (imageRegion !== region) throw new InputError(`--image is in ${imageRegion}, the environment in ${region}: the tasks pull from their own region's repository`);
  return { digest, repository, registryAccount, region: imageRegion };
}

/** The URL `/version` is checked at, when given instead of the load balancer's own name (a domain with a certificate). */
export function validateServiceUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`--url=${JSON.stringify(url)} is invalid: expected an http or https URL such as https://api.example.com`);
  }
  if ((parsed.protocol !== "https:" && parsed.protocol !== "http:") || parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new InputError(`--url=${JSON.stringify(url)} is invalid: expected an http or https URL without credentials, query or fragment`);
  }
  return parsed.origin + parsed.pathname.replace(/\/+$/, "");
}

/** A whole number within bounds, named by its flag. */
export function validateCount(flag: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new InputError(`--${flag}=${value} is invalid: expected a whole number from ${min} to ${max}`);
  return value;
}

/** The formats `status` prints. */
export const STATUS_FORMATS = ["text", "json"] as const;

/** `status --format`: one of STATUS_FORMATS. */
export function validateStatusFormat(format: string): (typeof STATUS_FORMATS)[number] {
  const known = STATUS_FORMATS.find((candidate) => candidate === format);
  if (!known) throw new InputError(`--format=${JSON.stringify(format)} is invalid: expected ${STATUS_FORMATS.join(" or ")}`);
  return known;
}
