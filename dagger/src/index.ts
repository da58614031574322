/**
 * The delivery pipeline of the service: lint, test, build, smoke-test, serve and publish, each a containerized stage
 * that runs the same on a laptop (`dagger call ...`) and in CI.
 */
import { argument, check, dag, func, object, type Container, type Directory, type Platform, type Secret, type Service } from "@dagger.io/dagger";
import type { ECRClient } from "@aws-sdk/client-ecr";
import type { CallContext } from "./ecr/errors.js";
import { defaultLifecyclePolicy } from "./ecr/lifecycle.js";
import { applyLifecyclePolicy, createEcrClient, ensureRepository, findTaggedImages, getRegistryAuth, isMutableTag, previewLifecyclePolicy } from "./ecr/registry.js";
import { validatePlatforms, validateRegion, validateRepositoryName, validateTag, validateTags } from "./ecr/validate.js";
import { runtimeImage } from "./image.js";
import { SMOKE_SCRIPT, smokeProbes } from "./smoke.js";
import { nodeBuildEnv, runStage } from "./stages.js";
import { BUNDLE_PATH, NODE_IMAGE, SERVICE_PORT, SOURCE_IGNORE } from "./versions.js";

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
   * Runs `npm test`: the service's test suite and the pipeline's offline checks.
   *
   * Example: `dagger call test`
   */
  @func()
  @check()
  async test(): Promise<void> {
    await runStage("test", this.buildEnv(), ["npm", "test"]);
  }

  /**
   * Builds the runtime image: the bundle from `npm run build` on Node.js 24, run as an unprivileged user.
   *
   * Example: `dagger call build --commit=$(git rev-parse HEAD) export --path=image.tar`
   */
  @func()
  async build(
    /** Target platform, e.g. linux/amd64 or linux/arm64 (Graviton); defaults to the engine's own. */
    platform?: Platform,
    /** Git commit baked into the bundle (`/version`) and the `org.opencontainers.image.revision` label. */
    commit = "unknown",
    /** Repository URL for the `org.opencontainers.image.source` label, e.g. https://github.com/OWNER/REPO. */
    sourceUrl = "",
  ): Promise<Container> {
    const pkg = await this.packageJson();
    const built = await runStage("build", this.buildEnv().withEnvVariable("GIT_COMMIT", commit), ["npm", "run", "build"]);
    const bundle = built.file("dist/server.mjs");
    return runtimeImage(bundle, { title: pkg.name, version: pkg.version, revision: commit, sourceUrl }, platform);
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
    const image = await this.build();
    const uid = (await (await runStage("smoke", image, ["node", "-e", "process.stdout.write(String(process.getuid()))"])).stdout()).trim();
    if (uid === "0" || uid === "") throw new Error(`smoke failed: the image runs as uid ${JSON.stringify(uid)}; it must run as a non-root user`);

    const probe = dag
      .container()
      .from(NODE_IMAGE)
      .withServiceBinding("app", image.asService({ useEntrypoint: true }))
      .withEnvVariable("SMOKE_BASE_URL", `http://app:${SERVICE_PORT}`)
      .withEnvVariable("SMOKE_PROBES", JSON.stringify(smokeProbes((await this.packageJson()).name)))
      .withNewFile("/smoke.mjs", SMOKE_SCRIPT);
    const report = await (await runStage("smoke", probe, ["node", "/smoke.mjs"])).stdout();
    return `${report.trimEnd()}\nimage runs as uid ${uid}, entrypoint node ${BUNDLE_PATH}`;
  }

  /**
   * The CI job: lint, test, and build + smoke run in parallel; fails if any fails, naming each failed stage.
   *
   * Example: `dagger call ci`
   */
  @func()
  async ci(): Promise<string> {
    const stages: [string, Promise<unknown>][] = [
      ["lint", this.lint()],
      ["test", this.test()],
      ["build+smoke", this.smoke()],
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
   * Builds the image and pushes it to ECR with each tag (default: the commit SHA and latest); returns each reference with
   * its digest. An immutable tag already in ECR (a re-run for the same commit) is kept, not pushed again. Logs in with
   * GetAuthorizationToken; the registry password stays a Dagger secret.
   *
   * Example: `dagger call publish --region=eu-west-1 --repository=hono-ecr-service --commit=$(git rev-parse HEAD) --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN`
   */
  @func({ cache: "never" })
  async publish(
    /** AWS region of the registry, e.g. eu-west-1 or cn-north-1. */
    region: string,
    /** ECR repository name, e.g. hono-ecr-service. */
    repository: string,
    /** Git commit of the source: the default tag, the image's revision label and the bundle's /version. */
    commit: string,
    /** AWS access key id (e.g. env://AWS_ACCESS_KEY_ID). */
    accessKeyId: Secret,
    /** AWS secret access key (e.g. env://AWS_SECRET_ACCESS_KEY). */
    secretAccessKey: Secret,
    /** AWS session token, for temporary credentials such as OIDC (e.g. env://AWS_SESSION_TOKEN). */
    sessionToken?: Secret,
    /** Tags to push (default: the commit and latest). */
    tags?: string[],
    /** Platforms for one multi-arch image, e.g. linux/amd64,linux/arm64 (default: the engine's own, single-arch). */
    platforms?: Platform[],
    /** Repository URL for the `org.opencontainers.image.source` label. */
    sourceUrl = "",
  ): Promise<string> {
    validateTag(commit);
    const tagList = validateTags(tags ?? [commit, "latest"]);
    const platformList = validatePlatforms(platforms ?? []) as Platform[];
    const { client, context } = await connectEcr(region, repository, accessKeyId, secretAccessKey, sessionToken);
    const auth = await getRegistryAuth(client, context);
    const present = await findTaggedImages(client, repository, tagList.filter((tag) => !isMutableTag(tag)), context);
    const toPush = tagList.filter((tag) => !present.has(tag));
    const pushed = new Map<string, string>();

    if (toPush.length > 0) {
      const password = dag.setSecret("ecr-registry-password", auth.password);
      const variants = await Promise.all(platformList.map((platform) => this.build(platform, commit, sourceUrl)));
      const image = (variants.length > 0 ? dag.container() : await this.build(undefined, commit, sourceUrl)).withRegistryAuth(auth.registryHost, auth.username, password);
      for (const tag of toPush) {
        pushed.set(tag, await image.publish(`${auth.registryHost}/${repository}:${tag}`, variants.length > 0 ? { platformVariants: variants } : undefined));
      }
    }
    return tagList
      .map((tag) => pushed.get(tag) ?? `${auth.registryHost}/${repository}:${tag}@${present.get(tag)} (already in ECR: immutable tag kept)`)
      .join("\n");
  }

  /**
   * Creates the ECR repository if missing (scan on push; commit tags immutable, latest movable; AES-256) and applies the
   * lifecycle policy. Idempotent: a second run changes nothing and says so.
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
    /** How many of the most recent images to keep (1 = only the latest: no previous image to roll back to). */
    keep = 1,
  ): Promise<string> {
    const policy = defaultLifecyclePolicy(keep);
    const { client, context } = await connectEcr(region, repository, accessKeyId, secretAccessKey, sessionToken);
    const report = await ensureRepository(client, repository, context);
    const policyChange = await applyLifecyclePolicy(client, repository, policy, context);
    return [
      `repository ${repository}: ${report.change}${report.notes.length > 0 ? ` (${report.notes.join("; ")})` : ""}`,
      `image URI: ${report.repositoryUri}`,
      `lifecycle policy: ${policyChange} (keep ${keep} most recent, untagged expire after 1 day)`,
    ].join("\n");
  }

  /**
   * Prints the lifecycle policy JSON that setup-registry applies, for review.
   *
   * Example: `dagger call lifecycle-policy --keep=5`
   */
  @func()
  lifecyclePolicy(
    /** How many of the most recent images to keep. */
    keep = 1,
  ): string {
    return JSON.stringify(defaultLifecyclePolicy(keep), null, 2);
  }

  /**
   * Lists the images the lifecycle policy would expire now, through ECR's lifecycle policy preview (real ECR only).
   *
   * Example: `dagger call lifecycle-preview --region=eu-west-1 --repository=hono-ecr-service --keep=5 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY`
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
    /** How many of the most recent images the previewed policy keeps. */
    keep = 1,
  ): Promise<string> {
    const policy = defaultLifecyclePolicy(keep);
    const { client, context } = await connectEcr(region, repository, accessKeyId, secretAccessKey, sessionToken);
    const results = await previewLifecyclePolicy(client, repository, policy, context);
    if (results.length === 0) return `nothing would expire in ${repository} (keep ${keep})`;
    const lines = results.map(
      (r) => `${r.imageDigest ?? "?"} ${(r.imageTags ?? []).join(",") || "<untagged>"} pushed ${r.imagePushedAt?.toISOString() ?? "?"} -> ${r.action?.type ?? "expire"} (rule ${r.appliedRulePriority ?? "?"})`,
    );
    return [`${results.length} image(s) would expire in ${repository} (keep ${keep}):`, ...lines].join("\n");
  }
}

/**
 * Validates the region and repository name, then creates an ECR client with the credentials read from their secrets
 * (never logged, never put in a container). Nothing is read or sent before the validation passes.
 */
async function connectEcr(
  region: string,
  repository: string,
  accessKeyId: Secret,
  secretAccessKey: Secret,
  sessionToken?: Secret,
): Promise<{ client: ECRClient; context: CallContext }> {
  const context = { region: validateRegion(region), repository: validateRepositoryName(repository) };
  const client = createEcrClient(region, {
    accessKeyId: await accessKeyId.plaintext(),
    secretAccessKey: await secretAccessKey.plaintext(),
    ...(sessionToken ? { sessionToken: await sessionToken.plaintext() } : {}),
  });
  return { client, context };
}
