/**
 * The delivery pipeline of the service: lint, test, build, smoke-test, serve and publish, each a containerized stage
 * that runs the same on a laptop (`dagger call ...`) and in CI.
 */
import { createHash } from "node:crypto";
import {
  argument,
  check,
  dag,
  func,
  object,
  type Container,
  type Directory,
  type File,
  type GitRepository,
  type Platform,
  type Secret,
  type Service,
} from "@dagger.io/dagger";
import type { ECRClient } from "@aws-sdk/client-ecr";
import { AwsError, type CallContext } from "./aws-errors.js";
import { evaluateLifecyclePolicy } from "./ecr/lifecycle-evaluator.js";
import { DEFAULT_KEEP, releaseLifecyclePolicy } from "./ecr/lifecycle.js";
import {
  applyLifecyclePolicy,
  createEcrClient,
  ensureRepository,
  findImageByTag,
  getRegistryAuth,
  listImages,
  previewLifecyclePolicy,
  tagRelease,
} from "./ecr/registry.js";
import { DEFAULT_PLATFORMS, validatePlatforms, validateReleaseTag } from "./ecr/release-tags.js";
import { InputError, registryHost, validateRegion, validateRepositoryName, validateTag, validateTags } from "./ecr/validate.js";
import { runtimeImage, type ImageMetadata } from "./image.js";
import { smokeTest } from "./smoke.js";
import { nodeBuildEnv, runStage, testEnv } from "./stages.js";
import { SOURCE_IGNORE } from "./versions.js";

/** Storage price of ECR (private repositories, per GB-month, most regions), for the lifecycle preview's cost column. */
const ECR_STORAGE_USD_PER_GB_MONTH = 0.1;

/** Lints, tests, builds, smoke-tests and ships the Hono service. */
@object()
export class Pipeline {
  /** The repository (defaults to the git repository that holds this module, minus installed and built output). */
  source: Directory;

  constructor(
    /** The repository to build (defaults to the repository root). */
    @argument({ defaultPath: "/", ignore: SOURCE_IGNORE })
    source: Directory,
  ) {
    this.source = source;
  }

  /** The service's package.json: its name and version label the image and are checked by the smoke test. */
  private async packageJson(): Promise<{ name: string; version: string }> {
    return JSON.parse(await this.source.file("package.json").contents()) as { name: string; version: string };
  }

  /**
   * A Node.js 24 container with the dependencies installed by `npm ci` and the source at /src.
   *
   * Example: `dagger call build-env terminal`
   */
  @func()
  buildEnv(): Container {
    return nodeBuildEnv(this.source);
  }

  /**
   * Runs `npm run lint`: ESLint with type-aware rules, then type-checks the service and this module.
   *
   * Example: `dagger call lint`
   */
  @func()
  @check()
  async lint(): Promise<void> {
    await runStage("lint", this.buildEnv(), ["npm", "run", "lint"]);
  }

  /**
   * Runs `npm test`, the whole suite as `.ci/run` runs it: with moto (the ECR API emulator) installed and required.
   *
   * Example: `dagger call test`
   */
  @func()
  @check()
  async test(): Promise<void> {
    await runStage("test", testEnv(this.source), ["npm", "test"]);
  }

  /**
   * The service bundle (`npm run build`): one JavaScript file for every platform, reproducible from its inputs.
   *
   * Example: `dagger call bundle --commit=$(git rev-parse HEAD) --source-date-epoch=$(git log -1 --format=%ct) export --path=server.mjs`
   */
  @func()
  async bundle(
    /** Git commit baked into the bundle (`/version`). */
    commit = "unknown",
    /** Build time baked into the bundle, in seconds since 1970: the commit's time (`git log -1 --format=%ct`); omitted: "unknown". */
    sourceDateEpoch?: number,
  ): Promise<File> {
    let env = this.buildEnv().withEnvVariable("GIT_COMMIT", commit);
    if (sourceDateEpoch !== undefined) env = env.withEnvVariable("SOURCE_DATE_EPOCH", String(sourceDateEpoch));
    return (await runStage("build", env, ["npm", "run", "build"])).file("dist/server.mjs");
  }

  /**
   * Builds the runtime image for one platform: the bundle on Node.js 24, run as an unprivileged user.
   *
   * Example: `dagger call build --commit=$(git rev-parse HEAD) export --path=image.tar`
   */
  @func()
  async build(
    /** Target platform, linux/amd64 or linux/arm64 (Graviton); defaults to the engine's own. */
    platform?: Platform,
    /** Git commit baked into the bundle (`/version`) and the `org.opencontainers.image.revision` label. */
    commit = "unknown",
    /** Build time in seconds since 1970 (the commit's time, `git log -1 --format=%ct`); omitted: "unknown". */
    sourceDateEpoch?: number,
    /** Repository URL for the `org.opencontainers.image.source` label, e.g. https://github.com/OWNER/REPO. */
    sourceUrl = "",
  ): Promise<Container> {
    return runtimeImage(await this.bundle(commit, sourceDateEpoch), await this.imageMetadata(commit, sourceUrl), platform);
  }

  /** The OCI label values of an image of `revision`. */
  private async imageMetadata(revision: string, sourceUrl: string): Promise<ImageMetadata> {
    const pkg = await this.packageJson();
    return { title: pkg.name, version: pkg.version, revision, sourceUrl };
  }

  /** The runtime images of `platforms`, by platform, from one bundle built once on the engine's own platform. */
  private async releaseImages(platforms: Platform[], commit: string, sourceDateEpoch: number | undefined, sourceUrl: string): Promise<Map<string, Container>> {
    const bundle = await this.bundle(commit, sourceDateEpoch);
    const metadata = await this.imageMetadata(commit, sourceUrl);
    return new Map(platforms.map((platform) => [platform, runtimeImage(bundle, metadata, platform)]));
  }

  /**
   * The runtime image as a service on port 8080.
   *
   * Example: `dagger call serve up --ports 8080:8080`
   */
  @func()
  async serve(): Promise<Service> {
    return (await this.build()).asService({ useEntrypoint: true });
  }

  /**
   * Starts the runtime image and probes /healthz, /readyz, / and an unknown path from a second container;
   * fails unless every answer is right and the image runs as a non-root user.
   *
   * Example: `dagger call smoke`
   */
  @func()
  async smoke(): Promise<string> {
    return smokeTest(await this.build(), (await this.packageJson()).name);
  }

  /**
   * The CI job: lint, test, and build + smoke run in parallel; the build assembles the linux/amd64 and linux/arm64 images
   * from one bundle and smoke-tests the engine's own. Fails if any stage fails, naming each one.
   *
   * Example: `dagger call ci`
   */
  @func()
  async ci(): Promise<string> {
    const buildAndSmoke = async () => {
      const native = await dag.defaultPlatform();
      const images = await this.releaseImages(DEFAULT_PLATFORMS as Platform[], "unknown", undefined, "");
      await Promise.all([...images.values()].map((image) => image.sync()));
      return smokeTest(images.get(native) ?? (await this.build()), (await this.packageJson()).name);
    };
    const stages: [string, Promise<unknown>][] = [
      ["lint", this.lint()],
      ["test", this.test()],
      ["build+smoke", buildAndSmoke()],
    ];
    const outcomes = await Promise.all(
      stages.map(async ([name, run]) => {
        try {
          await run;
          return undefined;
        } catch (error) {
          return `${name}: ${error instanceof Error ? error.message : String(error)}`;
        }
      }),
    );
    const failed = outcomes.filter((outcome) => outcome !== undefined);
    if (failed.length > 0) throw new Error(`ci failed in ${failed.length} of ${stages.length} stages\n\n${failed.join("\n\n")}`);
    return stages.map(([name]) => `${name}: passed`).join("\n");
  }

  /**
   * Publishes a release to ECR: builds the image index (linux/amd64 and linux/arm64 by default) from one bundle, smoke-tests
   * the engine's own platform image, pushes exactly what it tested under the commit tag, then adds the other tags by
   * digest. A commit already in ECR is never rebuilt: the other tags move to the digest stored. The commit comes from the
   * repository; a checkout with uncommitted changes is refused unless --allow-dirty. Returns each reference with its digest.
   *
   * Example: `dagger call publish --region=eu-west-1 --repository=hono-ecr-service --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN`
   */
  @func({ cache: "never" })
  async publish(
    /** AWS region of the registry, e.g. eu-west-1 or cn-north-1. */
    region: string,
    /** ECR repository name, e.g. hono-ecr-service. */
    repository: string,
    /** AWS access key id (e.g. env://AWS_ACCESS_KEY_ID). */
    accessKeyId: Secret,
    /** AWS secret access key (e.g. env://AWS_SECRET_ACCESS_KEY). */
    secretAccessKey: Secret,
    /** AWS session token, for temporary credentials such as OIDC (e.g. env://AWS_SESSION_TOKEN). */
    sessionToken?: Secret,
    /** The git repository the release is built from (defaults to this one): its HEAD commit tags the release. */
    @argument({ defaultPath: "/" })
    git?: GitRepository,
    /** The commit to release, instead of the repository's HEAD. */
    commit?: string,
    /** Publish a checkout with uncommitted changes, tagged `<commit>-dirty-<hash of the changes>`. */
    allowDirty = false,
    /** Build time in seconds since 1970: the commit's time (`git log -1 --format=%ct`); omitted: "unknown" in /version. */
    sourceDateEpoch?: number,
    /** More tags for the release besides the commit, e.g. latest or v1.2.3 (CI on main passes latest). */
    tags?: string[],
    /** Platforms of the release (default: linux/amd64,linux/arm64). */
    platforms?: Platform[],
    /** Repository URL for the `org.opencontainers.image.source` label. */
    sourceUrl = "",
  ): Promise<string> {
    const context = ecrContext(region, repository);
    const extraTags = tags === undefined ? [] : validateTags(tags).map(validateReleaseTag);
    const platformList = validatePlatforms(platforms ?? DEFAULT_PLATFORMS);
    if (commit !== undefined) validateReleaseTag(validateTag(commit));
    const release = await releaseTag(git, commit, allowDirty);
    const releaseTags = [release, ...extraTags.filter((tag) => tag !== release)];

    const client = await connectEcr(region, accessKeyId, secretAccessKey, sessionToken);
    // Also the check that the repository exists: a missing one stops the publish here, before anything is built.
    let digest = await findImageByTag(client, repository, release, context);
    const lines: string[] = [];
    if (digest) {
      lines.push(`${release} is already in ECR as ${digest}: not rebuilt, tags moved to it`);
    } else {
      const images = await this.releaseImages(platformList as Platform[], release, sourceDateEpoch, sourceUrl);
      const native = await dag.defaultPlatform();
      const tested = images.get(native) ?? (await this.build(undefined, release, sourceDateEpoch, sourceUrl));
      lines.push(await smokeTest(tested, (await this.packageJson()).name));
      if (!images.has(native)) lines.push(`smoke-tested on ${native}, from the same bundle as the ${platformList.join(", ")} images`);
      const auth = await getRegistryAuth(client, context);
      const password = dag.setSecret("ecr-registry-password", auth.password);
      const pushed = await dag
        .container()
        .withRegistryAuth(auth.registryHost, auth.username, password)
        .publish(`${auth.registryHost}/${repository}:${release}`, { platformVariants: [...images.values()] });
      digest = pushed.slice(pushed.lastIndexOf("@") + 1);
    }
    const tagged = await tagRelease(client, repository, digest, releaseTags, context);
    const host = registryHost(tagged.registryId, region);
    return [...lines, ...tagged.references.map((reference) => `${host}/${repository}:${reference}`)].join("\n");
  }

  /**
   * Creates the ECR repository if missing (scan on push; release tags immutable, latest movable; AES-256) and applies the
   * lifecycle policy. Idempotent: a second run changes nothing and says so; a run that fails says what it already changed.
   *
   * Example: `dagger call setup-registry --region=eu-west-1 --repository=hono-ecr-service --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN`
   */
  @func({ cache: "never" })
  async setupRegistry(
    /** AWS region of the registry, e.g. eu-west-1. */
    region: string,
    /** ECR repository name, e.g. hono-ecr-service. */
    repository: string,
    /** AWS access key id (e.g. env://AWS_ACCESS_KEY_ID). */
    accessKeyId: Secret,
    /** AWS secret access key (e.g. env://AWS_SECRET_ACCESS_KEY). */
    secretAccessKey: Secret,
    /** AWS session token, for temporary credentials (e.g. env://AWS_SESSION_TOKEN). */
    sessionToken?: Secret,
    /** How many releases to keep, besides the one latest points to (each release: an index and its platform images). */
    keep = DEFAULT_KEEP,
  ): Promise<string> {
    const context = ecrContext(region, repository);
    const policy = releaseLifecyclePolicy(keep);
    const client = await connectEcr(region, accessKeyId, secretAccessKey, sessionToken);
    const changed: string[] = [];
    try {
      const report = await ensureRepository(client, repository, context, changed);
      const policyChange = await applyLifecyclePolicy(client, repository, policy, context);
      return [
        `repository ${repository}: ${report.change}${report.notes.length > 0 ? ` (${report.notes.join("; ")})` : ""}`,
        `image URI: ${report.repositoryUri}`,
        `lifecycle policy: ${policyChange} (keep ${keep} newest releases and the one latest points to; untagged images expire after 1 day)`,
      ].join("\n");
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      throw new AwsError(
        `${error.message}\nsetup-registry stopped part-way. Already changed: ${changed.length > 0 ? changed.join("; ") : "nothing"}. ` +
          "Not done: the steps after that (repository settings, then the lifecycle policy). Fix the cause and run it again: each step checks before it changes anything.",
      );
    }
  }

  /**
   * Prints the lifecycle policy JSON that setup-registry applies, for review.
   *
   * Example: `dagger call lifecycle-policy --keep=5`
   */
  @func()
  lifecyclePolicy(
    /** How many releases to keep besides the one latest points to. */
    keep = DEFAULT_KEEP,
  ): string {
    return JSON.stringify(releaseLifecyclePolicy(keep), null, 2);
  }

  /**
   * Lists the images the lifecycle policy would expire now, with the storage each one takes: through ECR's own preview, or
   * with --offline through this pipeline's evaluator of ECR's documented rules over the repository's images (DescribeImages).
   *
   * Example: `dagger call lifecycle-preview --region=eu-west-1 --repository=hono-ecr-service --keep=5 --offline --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY`
   */
  @func({ cache: "never" })
  async lifecyclePreview(
    /** AWS region of the registry, e.g. eu-west-1. */
    region: string,
    /** ECR repository name, e.g. hono-ecr-service. */
    repository: string,
    /** AWS access key id (e.g. env://AWS_ACCESS_KEY_ID). */
    accessKeyId: Secret,
    /** AWS secret access key (e.g. env://AWS_SECRET_ACCESS_KEY). */
    secretAccessKey: Secret,
    /** AWS session token, for temporary credentials (e.g. env://AWS_SESSION_TOKEN). */
    sessionToken?: Secret,
    /** How many releases the previewed policy keeps. */
    keep = DEFAULT_KEEP,
    /** Evaluate the policy here, from the repository's image list, instead of asking ECR for a preview. */
    offline = false,
  ): Promise<string> {
    const context = ecrContext(region, repository);
    const policy = releaseLifecyclePolicy(keep);
    const client = await connectEcr(region, accessKeyId, secretAccessKey, sessionToken);
    const expiring: { digest: string; tags: string[]; pushedAt?: Date; sizeInBytes?: number; rulePriority?: number }[] = offline
      ? evaluateLifecyclePolicy(policy, await listImages(client, repository, context), new Date()).map(({ image, rulePriority }) => ({ ...image, rulePriority }))
      : (await previewLifecyclePolicy(client, repository, policy, context)).map((r) => ({
          digest: r.imageDigest ?? "?",
          tags: r.imageTags ?? [],
          pushedAt: r.imagePushedAt,
          rulePriority: r.appliedRulePriority,
        }));
    const how = offline ? "evaluated offline" : "ECR preview";
    if (expiring.length === 0) return `nothing would expire in ${repository} (keep ${keep}; ${how})`;
    const bytes = expiring.reduce((sum, image) => sum + (image.sizeInBytes ?? 0), 0);
    const lines = expiring.map(
      (image) =>
        `${image.digest} ${image.tags.join(",") || "<untagged>"} pushed ${image.pushedAt?.toISOString() ?? "?"}` +
        `${image.sizeInBytes !== undefined ? ` ${formatMiB(image.sizeInBytes)}` : ""} -> expire (rule ${image.rulePriority ?? "?"})`,
    );
    const cost = offline ? `, ${formatMiB(bytes)}, about $${((bytes / 1024 ** 3) * ECR_STORAGE_USD_PER_GB_MONTH).toFixed(4)} a month (layers shared with kept images stay stored)` : "";
    return [`${expiring.length} image(s) would expire in ${repository} (keep ${keep}; ${how}${cost}):`, ...lines].join("\n");
  }
}

const formatMiB = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/**
 * The tag of the release: `commit` when given, else the repository's HEAD commit. Uncommitted changes are refused,
 * unless `allowDirty`: then the tag is `<commit>-dirty-<first 12 hex of the changes' sha256>`, never the clean commit's.
 */
async function releaseTag(git: GitRepository | undefined, commit: string | undefined, allowDirty: boolean): Promise<string> {
  if (!git) {
    if (commit === undefined) throw new InputError("no commit to release: the module's repository is not a git checkout; pass --commit=<sha>");
    return commit;
  }
  const head = commit ?? validateTag(await git.head().commit());
  const changes = git.uncommitted();
  if (await changes.isEmpty()) return head;
  const paths = [...(await changes.modifiedPaths()), ...(await changes.addedPaths()), ...(await changes.removedPaths())];
  if (!allowDirty) {
    throw new InputError(
      `the checkout has uncommitted changes (${paths.slice(0, 5).join(", ")}${paths.length > 5 ? `, and ${paths.length - 5} more` : ""}): ` +
        `commit them first, or pass --allow-dirty to publish them tagged ${head}-dirty-<hash>, never as ${head}`,
    );
  }
  const patch = await changes.asPatch().contents();
  return `${head}-dirty-${createHash("sha256").update(patch).digest("hex").slice(0, 12)}`;
}

/** The region and repository of an ECR call, each checked against its rule before any secret is read or AWS called. */
function ecrContext(region: string, repository: string): CallContext {
  return { region: validateRegion(region), repository: validateRepositoryName(repository) };
}

/** An ECR client for `region` with the credentials read from their secrets (never logged, never put in a container). */
async function connectEcr(region: string, accessKeyId: Secret, secretAccessKey: Secret, sessionToken?: Secret): Promise<ECRClient> {
  return createEcrClient(region, {
    accessKeyId: await accessKeyId.plaintext(),
    secretAccessKey: await secretAccessKey.plaintext(),
    ...(sessionToken ? { sessionToken: await sessionToken.plaintext() } : {}),
  });
}
