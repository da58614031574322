/**
 * The delivery pipeline of the service: lint, test, build, smoke-test, serve and publish, each a containerized stage
 * that runs the same on a laptop (`dagger call ...`) and in CI.
 */
import { argument, check, dag, func, object, type Container, type Directory, type Platform, type Service } from "@dagger.io/dagger";
import { runtimeImage } from "./image.js";
import { SMOKE_PROBES, SMOKE_SCRIPT } from "./smoke.js";
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
    const pkg = JSON.parse(await this.source.file("package.json").contents()) as { name: string; version: string };
    const bundle = this.buildEnv().withEnvVariable("GIT_COMMIT", commit).withExec(["npm", "run", "build"]).file("dist/server.mjs");
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
    const uid = (await runStage("smoke", image, ["node", "-e", "process.stdout.write(String(process.getuid()))"])).trim();
    if (uid === "0" || uid === "") throw new Error(`smoke failed: the image runs as uid ${JSON.stringify(uid)}; it must run as a non-root user`);

    const probe = dag
      .container()
      .from(NODE_IMAGE)
      .withServiceBinding("app", image.asService({ useEntrypoint: true }))
      .withEnvVariable("SMOKE_BASE_URL", `http://app:${SERVICE_PORT}`)
      .withEnvVariable("SMOKE_PROBES", JSON.stringify(SMOKE_PROBES))
      .withNewFile("/smoke.mjs", SMOKE_SCRIPT);
    const report = await runStage("smoke", probe, ["node", "/smoke.mjs"]);
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
    const results = await Promise.allSettled(stages.map(([, run]) => run));
    const failed = results.flatMap((result, i) => (result.status === "rejected" ? [`${stages[i][0]}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`] : []));
    if (failed.length > 0) throw new Error(`ci failed in ${failed.length} of ${stages.length} stages\n\n${failed.join("\n\n")}`);
    return stages.map(([name]) => `${name}: passed`).join("\n");
  }
}
