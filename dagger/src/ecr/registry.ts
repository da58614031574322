/**
 * The ECR calls the pipeline makes: registry login, repository set-up, lifecycle policy apply and preview.
 * Plain TypeScript over @aws-sdk/client-ecr; the Dagger functions in ../index.ts are thin wrappers.
 */
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  GetLifecyclePolicyCommand,
  GetSigningConfigurationCommand,
  GetLifecyclePolicyPreviewCommand,
  PutImageCommand,
  PutImageScanningConfigurationCommand,
  PutImageTagMutabilityCommand,
  PutLifecyclePolicyCommand,
  PutSigningConfigurationCommand,
  StartLifecyclePolicyPreviewCommand,
  type ImageDetail,
  type SigningRule,
  type LifecyclePolicyPreviewResult,
  type Repository,
} from "@aws-sdk/client-ecr";
import { AwsError, awsCall, translateAwsError, type CallContext } from "../aws-errors.js";
import type { RepositoryImage } from "./lifecycle-evaluator.js";
import { policyText, samePolicy, type LifecyclePolicy } from "./lifecycle.js";
import { isMutableTag, MUTABLE_TAG_FILTERS, platformTag } from "./release-tags.js";
import { InputError } from "./validate.js";

/** AWS credentials, read from Dagger secrets just before use. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Attempts per call, throttling included (the SDK retries with backoff). */
export const MAX_ATTEMPTS = 5;

/** An ECR client for `region`. Honours AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL (used by the tests to reach the emulator). */
export function createEcrClient(region: string, credentials: AwsCredentials): ECRClient {
  return new ECRClient({ region, credentials, maxAttempts: MAX_ATTEMPTS });
}

/** One ECR call: failures become the one-line error for `ecr:<action>`. */
const call = <T>(action: string, context: CallContext, send: () => Promise<T>): Promise<T> => awsCall(`ecr:${action}`, context, send);

/** Registry login for `docker login` / Dagger's withRegistryAuth. `password` is secret. */
export interface RegistryAuth {
  registryHost: string;
  username: string;
  password: string;
  expiresAt?: Date;
}

/** Decodes an ECR authorization token (base64 of `AWS:<password>`). The error never quotes the token. */
export function decodeAuthorizationToken(token: string): { username: string; password: string } {
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0 || colon === decoded.length - 1) throw new AwsError("ECR returned an authorization token that is not base64 of user:password");
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The registry host of an ECR proxy endpoint (`https://<account>.dkr.ecr.<region>.amazonaws.com` -> the host). */
export function hostFromProxyEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new AwsError(`ECR returned a proxy endpoint that is not a URL: ${JSON.stringify(endpoint)}`);
  }
  if (!url.hostname || (url.pathname !== "/" && url.pathname !== "")) throw new AwsError(`ECR returned an unexpected proxy endpoint: ${JSON.stringify(endpoint)}`);
  return url.host;
}

/** Gets a registry login (valid 12 hours) through GetAuthorizationToken, without registryIds (deprecated). */
export async function getRegistryAuth(client: ECRClient, context: CallContext): Promise<RegistryAuth> {
  const response = await call("GetAuthorizationToken", context, () => client.send(new GetAuthorizationTokenCommand({})));
  const data = response.authorizationData?.[0];
  if (!data?.authorizationToken || !data.proxyEndpoint) throw new AwsError("ECR returned no authorization data for GetAuthorizationToken");
  const { username, password } = decodeAuthorizationToken(data.authorizationToken);
  return { registryHost: hostFromProxyEndpoint(data.proxyEndpoint), username, password, ...(data.expiresAt ? { expiresAt: data.expiresAt } : {}) };
}

/**
 * How the repository is set up: release tags immutable while `latest` and its platform tags can move
 * (IMMUTABLE_WITH_EXCLUSION), scan on push, AES-256 encryption (the default; encryption cannot change after creation).
 */
export const REPOSITORY_SETTINGS = {
  imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
  imageTagMutabilityExclusionFilters: MUTABLE_TAG_FILTERS.map((filter) => ({ filterType: "WILDCARD" as const, filter })),
  imageScanningConfiguration: { scanOnPush: true },
  encryptionConfiguration: { encryptionType: "AES256" },
} as const;

/** The image `id` names in the repository (by tag or digest), or undefined when there is none. */
export async function describeImage(client: ECRClient, repository: string, id: { imageTag: string } | { imageDigest: string }, context: CallContext): Promise<ImageDetail | undefined> {
  try {
    const response = await client.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [id] }));
    return response.imageDetails?.[0];
  } catch (error) {
    if ((error as { name?: string }).name === "ImageNotFoundException") return undefined;
    throw translateAwsError(error, "ecr:DescribeImages", context);
  }
}

/**
 * The digest of the image `tag` points to in the repository, or undefined when no image has that tag.
 * A missing repository fails here, with the message that points at setup-registry.
 */
export async function findImageByTag(client: ECRClient, repository: string, tag: string, context: CallContext): Promise<string | undefined> {
  return (await describeImage(client, repository, { imageTag: tag }, context))?.imageDigest;
}

/** Manifest media types the pipeline reads back from ECR: OCI and Docker, images and indexes. */
const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];

/** An image's manifest as stored in ECR. */
interface StoredManifest {
  manifest: string;
  mediaType?: string;
  /** The account that holds the repository. */
  registryId: string;
}

async function getManifest(client: ECRClient, repository: string, digest: string, context: CallContext): Promise<StoredManifest> {
  const response = await call("BatchGetImage", context, () =>
    client.send(new BatchGetImageCommand({ repositoryName: repository, imageIds: [{ imageDigest: digest }], acceptedMediaTypes: MANIFEST_MEDIA_TYPES })),
  );
  const image = response.images?.[0];
  if (!image?.imageManifest) throw new AwsError(`image ${digest} is not in ECR repository "${repository}" in ${context.region} (BatchGetImage found nothing)`);
  return { manifest: image.imageManifest, registryId: image.registryId ?? "?", ...(image.imageManifestMediaType ? { mediaType: image.imageManifestMediaType } : {}) };
}

/**
 * Puts `tag` on the stored image. A tag already on that very image is fine: ECR answers ImageAlreadyExistsException,
 * and the tag is then read back to tell that case from an immutable tag held by another image.
 */
async function putTag(client: ECRClient, repository: string, digest: string, stored: StoredManifest, tag: string, context: CallContext): Promise<void> {
  try {
    await client.send(
      new PutImageCommand({
        repositoryName: repository,
        imageTag: tag,
        imageDigest: digest,
        imageManifest: stored.manifest,
        ...(stored.mediaType ? { imageManifestMediaType: stored.mediaType } : {}),
      }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === "ImageAlreadyExistsException" && (await findImageByTag(client, repository, tag, context)) === digest) return;
    if ((name === "ImageAlreadyExistsException" || name === "ImageTagAlreadyExistsException") && isMutableTag(tag)) {
      throw new AwsError(
        `tag "${tag}" cannot move in ECR repository "${repository}": its tag mutability exclusions predate it; run setup-registry once (it makes ${MUTABLE_TAG_FILTERS.join(", ")} mutable)`,
      );
    }
    if (name === "ImageAlreadyExistsException" || name === "ImageTagAlreadyExistsException") {
      throw new AwsError(`tag "${tag}" already points to another image in ECR repository "${repository}" and is immutable: release tags are never moved`);
    }
    throw translateAwsError(error, "ecr:PutImage", context);
  }
}

/** One platform image of an index, as its manifest lists it. */
interface IndexEntry {
  digest: string;
  platform?: { os: string; architecture: string; variant?: string };
}

/** The platform images an image index lists (attestations, platform unknown/unknown, left out). */
function indexEntries(stored: StoredManifest): IndexEntry[] {
  return ((JSON.parse(stored.manifest) as { manifests?: IndexEntry[] }).manifests ?? []).filter((entry) => entry.platform && entry.platform.os !== "unknown");
}

/** The platform images (`os/architecture` and digest) of the image `digest` when it is an index; undefined for a single-platform image. */
export async function platformImages(client: ECRClient, repository: string, digest: string, context: CallContext): Promise<{ platform: string; digest: string }[] | undefined> {
  const stored = await getManifest(client, repository, digest, context);
  if (!(JSON.parse(stored.manifest) as { manifests?: unknown }).manifests) return undefined;
  return indexEntries(stored).map((entry) => ({ platform: `${entry.platform!.os}/${entry.platform!.architecture}`, digest: entry.digest }));
}

/**
 * Tags the image `digest` with each of `tags` and, when it is an image index, each of its platform images with
 * `<tag>-<os>-<arch>`; nothing is pushed or rebuilt (BatchGetImage reads the manifest, PutImage adds the tag).
 * Resolves with one `<tag>@<digest>` reference per tag, and the account that holds the repository. Attestation entries
 * (platform unknown/unknown) are left alone.
 */
export async function tagRelease(
  client: ECRClient,
  repository: string,
  digest: string,
  tags: string[],
  context: CallContext,
): Promise<{ references: string[]; registryId: string }> {
  const stored = await getManifest(client, repository, digest, context);
  const entries = indexEntries(stored);
  const platformImages = await Promise.all(entries.map(async (entry) => ({ entry, stored: await getManifest(client, repository, entry.digest, context) })));
  const references: string[] = [];
  for (const tag of tags) {
    for (const { entry, stored: child } of platformImages) await putTag(client, repository, entry.digest, child, platformTag(tag, entry.platform!), context);
    await putTag(client, repository, digest, stored, tag, context);
    references.push(`${tag}@${digest}`);
  }
  return { references, registryId: stored.registryId };
}

/** Every image in the repository (DescribeImages, all pages), as the lifecycle evaluator takes them. */
export async function listImages(client: ECRClient, repository: string, context: CallContext): Promise<RepositoryImage[]> {
  const images: RepositoryImage[] = [];
  let nextToken: string | undefined;
  do {
    const token = nextToken;
    const page = await call("DescribeImages", context, () => client.send(new DescribeImagesCommand({ repositoryName: repository, ...(token ? { nextToken: token } : {}) })));
    for (const detail of page.imageDetails ?? []) {
      images.push({
        digest: detail.imageDigest ?? "?",
        tags: detail.imageTags ?? [],
        pushedAt: detail.imagePushedAt ?? new Date(0),
        ...(detail.imageSizeInBytes !== undefined ? { sizeInBytes: detail.imageSizeInBytes } : {}),
      });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return images;
}

/** What a set-up step did. */
export type Change = "created" | "updated" | "unchanged";

/** The outcome of ensureRepository. */
export interface RepositoryReport {
  change: Change;
  repositoryUri: string;
  /** What was changed on an existing repository, or differs and cannot be changed. */
  notes: string[];
}

async function describeRepository(client: ECRClient, name: string, context: CallContext): Promise<Repository | undefined> {
  try {
    const response = await client.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
    return response.repositories?.[0];
  } catch (error) {
    if ((error as { name?: string }).name === "RepositoryNotFoundException") return undefined;
    throw translateAwsError(error, "ecr:DescribeRepositories", context);
  }
}

function sameExclusions(repository: Repository): boolean {
  const have = (repository.imageTagMutabilityExclusionFilters ?? []).map((f) => `${f.filterType}:${f.filter}`).sort();
  const want = REPOSITORY_SETTINGS.imageTagMutabilityExclusionFilters.map((f) => `${f.filterType}:${f.filter}`).sort();
  return JSON.stringify(have) === JSON.stringify(want);
}

/**
 * Creates the repository with REPOSITORY_SETTINGS, or brings an existing one's tag mutability and scanning in line.
 * Idempotent. Each change is appended to `changed` as soon as AWS has made it, so a caller can say what was done when a
 * later step fails.
 */
export async function ensureRepository(client: ECRClient, name: string, context: CallContext, changed: string[] = []): Promise<RepositoryReport> {
  const existing = await describeRepository(client, name, context);
  if (!existing) {
    const created = await call("CreateRepository", context, () =>
      client.send(
        new CreateRepositoryCommand({
          repositoryName: name,
          imageTagMutability: REPOSITORY_SETTINGS.imageTagMutability,
          imageTagMutabilityExclusionFilters: [...REPOSITORY_SETTINGS.imageTagMutabilityExclusionFilters],
          imageScanningConfiguration: { ...REPOSITORY_SETTINGS.imageScanningConfiguration },
          encryptionConfiguration: { ...REPOSITORY_SETTINGS.encryptionConfiguration },
        }),
      ),
    );
    changed.push(`repository ${name} created with its settings`);
    return { change: "created", repositoryUri: created.repository?.repositoryUri ?? "", notes: [] };
  }

  const notes: string[] = [];
  if (existing.imageTagMutability !== REPOSITORY_SETTINGS.imageTagMutability || !sameExclusions(existing)) {
    await call("PutImageTagMutability", context, () =>
      client.send(
        new PutImageTagMutabilityCommand({
          repositoryName: name,
          imageTagMutability: REPOSITORY_SETTINGS.imageTagMutability,
          imageTagMutabilityExclusionFilters: [...REPOSITORY_SETTINGS.imageTagMutabilityExclusionFilters],
        }),
      ),
    );
    notes.push(`tag mutability ${existing.imageTagMutability ?? "?"} -> ${REPOSITORY_SETTINGS.imageTagMutability} (${MUTABLE_TAG_FILTERS.join(", ")} excluded)`);
    changed.push(notes.at(-1)!);
  }
  if (existing.imageScanningConfiguration?.scanOnPush !== true) {
    await call("PutImageScanningConfiguration", context, () =>
      client.send(new PutImageScanningConfigurationCommand({ repositoryName: name, imageScanningConfiguration: { scanOnPush: true } })),
    );
    notes.push("scan on push enabled");
    changed.push(notes.at(-1)!);
  }
  const updated = notes.length > 0;
  const encryption = existing.encryptionConfiguration?.encryptionType;
  if (encryption && encryption !== REPOSITORY_SETTINGS.encryptionConfiguration.encryptionType) {
    notes.push(`encryption is ${encryption}, not AES256; left as is (encryption cannot change after creation)`);
  }
  return { change: updated ? "updated" : "unchanged", repositoryUri: existing.repositoryUri ?? "", notes };
}

/** Applies `policy` to the repository unless the stored one already means the same (compared as parsed JSON). Idempotent. */
export async function applyLifecyclePolicy(client: ECRClient, name: string, policy: LifecyclePolicy, context: CallContext): Promise<Change> {
  const text = policyText(policy);
  let stored: string | undefined;
  try {
    stored = (await client.send(new GetLifecyclePolicyCommand({ repositoryName: name }))).lifecyclePolicyText;
  } catch (error) {
    if ((error as { name?: string }).name !== "LifecyclePolicyNotFoundException") throw translateAwsError(error, "ecr:GetLifecyclePolicy", context);
  }
  if (stored !== undefined && samePolicy(stored, policy)) return "unchanged";
  await call("PutLifecyclePolicy", context, () => client.send(new PutLifecyclePolicyCommand({ repositoryName: name, lifecyclePolicyText: text })));
  return stored === undefined ? "created" : "updated";
}

/** How long to wait for a lifecycle preview, and how often to ask. */
export interface PreviewTiming {
  pollMs: number;
  timeoutMs: number;
}

/**
 * What `policy` would expire in the repository now (StartLifecyclePolicyPreview, then GetLifecyclePolicyPreview until
 * COMPLETE). Needs the real ECR service: the emulator used in tests does not implement previews.
 */
export async function previewLifecyclePolicy(
  client: ECRClient,
  name: string,
  policy: LifecyclePolicy,
  context: CallContext,
  timing: PreviewTiming = { pollMs: 2000, timeoutMs: 120_000 },
): Promise<LifecyclePolicyPreviewResult[]> {
  await call("StartLifecyclePolicyPreview", context, () => client.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: name, lifecyclePolicyText: policyText(policy) })));
  const deadline = Date.now() + timing.timeoutMs;
  for (;;) {
    const first = await call("GetLifecyclePolicyPreview", context, () => client.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: name })));
    if (first.status === "COMPLETE") {
      const results = [...(first.previewResults ?? [])];
      for (let token = first.nextToken; token; ) {
        const page = await call("GetLifecyclePolicyPreview", context, () => client.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: name, nextToken: token })));
        results.push(...(page.previewResults ?? []));
        token = page.nextToken;
      }
      return results;
    }
    if (first.status === "FAILED" || first.status === "EXPIRED") throw new AwsError(`lifecycle policy preview ${first.status.toLowerCase()} for repository "${name}" in ${context.region}`);
    if (Date.now() > deadline) throw new AwsError(`lifecycle policy preview for repository "${name}" did not complete within ${timing.timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, timing.pollMs));
  }
}

/** An AWS Signer signing profile ARN (a Notation profile for container images). */
const SIGNING_PROFILE_ARN = /^arn:aws(-cn|-us-gov)?:signer:[a-z0-9-]+:\d{12}:\/signing-profiles\/[A-Za-z0-9_]{2,64}$/;

/** Checks a signing profile ARN before any call. */
export function validateSigningProfileArn(arn: string): string {
  if (!SIGNING_PROFILE_ARN.test(arn)) {
    throw new InputError(`--signing-profile-arn=${JSON.stringify(arn)} is invalid: expected arn:aws:signer:<region>:<account>:/signing-profiles/<name> (the identity stack's output SigningProfileArn)`);
  }
  return arn;
}

/**
 * Makes ECR sign every image pushed to `repository` with the AWS Signer profile (ECR managed signing: no key in the
 * pipeline). The signing configuration is the registry's, shared by every repository: the other rules are kept, this
 * repository's rule is added or replaced. Idempotent.
 */
export async function applySigningConfiguration(client: ECRClient, repository: string, signingProfileArn: string, context: CallContext): Promise<Change> {
  let rules: SigningRule[] = [];
  try {
    rules = (await client.send(new GetSigningConfigurationCommand({}))).signingConfiguration?.rules ?? [];
  } catch (error) {
    if ((error as { name?: string }).name !== "SigningConfigurationNotFoundException") throw translateAwsError(error, "ecr:GetSigningConfiguration", context);
  }
  const ours = (rule: SigningRule) => {
    const [filter, ...more] = rule.repositoryFilters ?? [];
    return more.length === 0 && filter?.filter === repository && filter.filterType === "WILDCARD_MATCH";
  };
  const existing = rules.find(ours);
  if (existing?.signingProfileArn === signingProfileArn) return "unchanged";
  const rule: SigningRule = { signingProfileArn, repositoryFilters: [{ filter: repository, filterType: "WILDCARD_MATCH" }] };
  await call("PutSigningConfiguration", context, () => client.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [...rules.filter((candidate) => !ours(candidate)), rule] } })));
  return existing ? "updated" : "created";
}
