/**
 * The delivery pipeline of the service: lint, test, build, smoke-test, scan, SBOM and serve, each a containerized stage
 * that runs the same on a laptop (`dagger call ...`) and in CI; and, behind `aws`, publish to ECR and deploy to ECS.
 */
import { argument, check, dag, func, object, type Container, type Directory, type File, type Platform, type Secret, type Service } from "@dagger.io/dagger";
import { Aws } from "./aws.js";
import { DEFAULT_KEEP, releaseLifecyclePolicy } from "./ecr/lifecycle.js";
import { DEFAULT_PLATFORMS } from "./ecr/release-tags.js";
import { validateRegion } from "./ecr/validate.js";
import { buildBundle, buildImage, releaseImages, servicePackage } from "./release.js";
import { smokeTest } from "./smoke.js";
import { nodeBuildEnv, runStage, testEnv } from "./stages.js";
import { releaseSbom, sbomFile, vulnerabilityGate } from "./supply-chain/scan.js";
import { validateSeverity } from "./supply-chain/vulnerabilities.js";
import { SOURCE_IGNORE } from "./versions.js";

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
    return buildBundle(this.source, commit, sourceDateEpoch);
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
    return buildImage(this.source, platform, commit, sourceDateEpoch, sourceUrl);
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
    return smokeTest(await this.build(), (await servicePackage(this.source)).name);
  }

  /**
   * The SBOM of a local build (CycloneDX JSON), one platform: Alpine's packages and node as Syft finds them in the runtime
   * image, and the npm packages the bundle inlines (`npm sbom` on the lockfile, which an image scanner cannot see),
   * merged. The SBOM of a pushed release, every platform image by digest, is `aws ... release-sbom` (what CI keeps).
   *
   * Example: `dagger call sbom --commit=$(git rev-parse HEAD) export --path=sbom.cdx.json`
   */
  @func()
  async sbom(
    /** Platform of the image described (default: the engine's own). */
    platform?: Platform,
    /** The release's commit (the image's revision). */
    commit = "unknown",
  ): Promise<File> {
    const pkg = await servicePackage(this.source);
    const bom = await releaseSbom(this.source, await this.build(platform, commit), { name: pkg.name, version: pkg.version, revision: commit });
    return sbomFile(bom);
  }

  /**
   * The vulnerability gate: Trivy (pinned by digest, its database fetched once per run) scans the runtime image and the
   * lockfile, and the image's Node.js runtime is checked against Node's own core advisories; fails on fixable vulnerabilities at or above --severity that security/vulnerability-allowlist.json does not
   * accept, naming package, version, id and fixed version, and on any expired allow-list entry. Cached for the session
   * only: a verdict is never reused once the database it was computed with may have changed.
   *
   * Example: `dagger call scan --severity=HIGH`
   */
  @func({ cache: "session" })
  async scan(
    /** Lowest severity that fails the gate: LOW, MEDIUM, HIGH or CRITICAL. */
    severity = "CRITICAL",
  ): Promise<string> {
    const threshold = validateSeverity(severity);
    const { verdict, report } = await vulnerabilityGate(this.source, await this.build(), threshold);
    if (!verdict.passed) throw new Error(report);
    return report;
  }

  /**
   * The CI job: lint, test, build + smoke and the vulnerability gate run in parallel; the build assembles the linux/amd64
   * and linux/arm64 images from one bundle and smoke-tests the engine's own. Fails if any stage fails, naming each one.
   *
   * Example: `dagger call ci`
   */
  @func({ cache: "session" })
  async ci(): Promise<string> {
    const buildAndSmoke = async () => {
      const native = await dag.defaultPlatform();
      const images = await releaseImages(this.source, DEFAULT_PLATFORMS as Platform[], "unknown", undefined, "");
      await Promise.all([...images.values()].map((image) => image.sync()));
      return smokeTest(images.get(native) ?? (await this.build()), (await servicePackage(this.source)).name);
    };
    const stages: [string, Promise<unknown>][] = [
      ["lint", this.lint()],
      ["test", this.test()],
      ["build+smoke", buildAndSmoke()],
      ["vulnerability gate", this.scan()],
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
   * The functions that call AWS (publish, release-sbom, setup-registry, lifecycle-preview, deploy, rollback, status), with the region
   * and credentials given once, before the function's name.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN status --environment=staging`
   */
  @func()
  aws(
    /** AWS region of the registry and the environments, e.g. eu-west-1 or cn-north-1. */
    region: string,
    /** AWS access key id (e.g. env://AWS_ACCESS_KEY_ID). */
    accessKeyId: Secret,
    /** AWS secret access key (e.g. env://AWS_SECRET_ACCESS_KEY). */
    secretAccessKey: Secret,
    /** AWS session token, for temporary credentials such as OIDC (e.g. env://AWS_SESSION_TOKEN). */
    sessionToken?: Secret,
  ): Aws {
    return new Aws(this.source, validateRegion(region), accessKeyId, secretAccessKey, sessionToken);
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
}
