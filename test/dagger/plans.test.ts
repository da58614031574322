// The pipeline's functions run for real against the fake engine (test/helpers/fake-engine.ts); these tests assert
// what each one asks the engine to do. They prove the plan, not that an engine can run it (README: "What runs where").
import { describe, expect, it } from "vitest";
import type { Step } from "../helpers/fake-engine.js";
import { FakeEngine } from "../helpers/fake-engine.js";
import { answerNonRootUid, callsEndingWith, execIndex, namedValues, runPlan, stepNamed, stepsNamed } from "../helpers/plan.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { smokeProbes } from "../../dagger/src/smoke.js";
import { HEALTHCHECK_COMMAND } from "../../dagger/src/versions.js";
import { answerSupplyChain } from "../helpers/supply-chain.js";
import { NODE_IMAGE, NODE_IMAGE_DIGEST, NODE_IMAGE_TAG, SOURCE_IGNORE } from "../../dagger/src/versions.js";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers/process.js";

const NPM_CI = ["npm", "ci", "--no-audit", "--no-fund"];
const DEPENDENCY_FILES = ["package.json", "package-lock.json", "dagger/package.json", "dagger/package-lock.json"];

/** Expects `chain` to hold the Node.js build environment: pinned image, npm cache, dependency layer before the source. */
function expectBuildEnv(chain: Step[]): void {
  expect(stepNamed(chain, "from").args.address).toBe(NODE_IMAGE);
  const cache = stepNamed(chain, "withMountedCache");
  expect(cache.args.path).toBe("/root/.npm");
  const copies = stepsNamed(chain, "withDirectory");
  expect(copies).toHaveLength(2);
  expect(copies[0]!.args.include).toEqual(DEPENDENCY_FILES);
  expect(copies[1]!.args.include).toBeUndefined();
  const ci = execIndex(chain, NPM_CI);
  expect(ci).toBeGreaterThan(chain.indexOf(copies[0]!));
  expect(ci).toBeLessThan(chain.indexOf(copies[1]!));
  expect(chain.some((step) => step.field === "withExec" && (step.args.args as string[]).join(" ").startsWith("npm install"))).toBe(false);
}

describe("pinned inputs", () => {
  it("the Node image is Node 24 pinned to an exact version and Alpine release, and by digest", () => {
    expect(NODE_IMAGE_TAG).toMatch(/^node:24\.\d+\.\d+-alpine\d+\.\d+$/);
    expect(NODE_IMAGE_DIGEST).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(NODE_IMAGE).toBe(`${NODE_IMAGE_TAG}@${NODE_IMAGE_DIGEST}`);
  });

  it("the source ignores git metadata, the generated SDK, and everything .gitignore ignores", () => {
    expect(SOURCE_IGNORE).toEqual(expect.arrayContaining([".git", "dagger/sdk"]));
    // .gitignore's patterns in the engine's spelling: "/dist/" (anchored) is "dist"; "*.tar" (any depth) is "**/*.tar".
    const gitignored = readFileSync(path.join(ROOT, ".gitignore"), "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => line.replace(/\/$/, ""))
      .map((line) => (line.startsWith("/") ? line.slice(1) : `**/${line}`));
    expect([...SOURCE_IGNORE].sort()).toEqual([...gitignored, ".git", "dagger/sdk"].sort());
  });
});

describe("buildEnv", () => {
  it("installs from the lockfiles with npm ci and the npm cache volume before copying the source", async () => {
    const run = await runPlan(async (pipeline) => pipeline.buildEnv().sync());
    expect(run.error).toBeUndefined();
    const [chain] = callsEndingWith(run.engine, "sync");
    expectBuildEnv(chain!);
    const volume = run.engine.chainOf(String(stepNamed(chain!, "withMountedCache").args.cache));
    expect(volume).toEqual([{ field: "cacheVolume", args: { key: "npm-cache" } }]);
  });
});

describe("lint and test", () => {
  it("lint runs its npm script in the build environment and checks its exit code", async () => {
    const run = await runPlan(async (pipeline) => pipeline.lint());
    expect(run.error).toBeUndefined();
    const [chain] = callsEndingWith(run.engine, "exitCode");
    expectBuildEnv(chain!);
    expect(chain!.at(-2)).toEqual({ field: "withExec", args: { args: ["npm", "run", "lint"], expect: "ANY" } });
  });

  it("test runs the whole suite as .ci/run does: moto installed from the pinned requirements, and required", async () => {
    const run = await runPlan(async (pipeline) => pipeline.test());
    expect(run.error).toBeUndefined();
    const [chain] = callsEndingWith(run.engine, "exitCode");
    expect(chain!.at(-2)).toEqual({ field: "withExec", args: { args: ["npm", "test"], expect: "ANY" } });
    expect(stepNamed(chain!, "from").args.address).toBe(NODE_IMAGE);
    const apk = execIndex(chain!, ["apk", "add", "--no-cache", "python3", "py3-pip", "bash", "jq"]);
    const pip = execIndex(chain!, ["pip", "install", "--break-system-packages", "--requirement", "/opt/test/python-requirements.txt"]);
    const npmCi = execIndex(chain!, NPM_CI);
    expect(apk).toBeGreaterThan(0);
    expect(pip).toBeGreaterThan(apk);
    expect(npmCi).toBeGreaterThan(pip);
    expect(namedValues(chain!, "withEnvVariable")).toEqual({ REQUIRE_MOTO: "1", SUITE_NODE: "image" });
    const requirements = readFileSync(path.join(ROOT, "test/python-requirements.txt"), "utf8");
    expect(requirements).toMatch(/^moto\[server\]==\d+\.\d+\.\d+$/m);
    expect(requirements).toMatch(/^cfn-lint==\d+\.\d+\.\d+$/m);
    const caches = stepsNamed(chain!, "withMountedCache").map((step) => step.args.path);
    expect(caches).toEqual(["/root/.cache/pip", "/root/.npm"]);
  });

  it("a failing stage names itself, the command and exit code, and carries the tool's output", async () => {
    const run = await runPlan(
      async (pipeline) => pipeline.lint(),
      (chain) => {
        const leaf = chain[chain.length - 1]!.field;
        if (leaf === "exitCode") return { value: 1 };
        if (leaf === "stdout") return { value: "src/app.ts\n  3:1  error  Promises must be awaited  @typescript-eslint/no-floating-promises\n" };
        if (leaf === "stderr") return { value: "npm error Lifecycle script `lint` failed" };
        return undefined;
      },
    );
    expect(run.error?.message).toBe(
      "lint failed: `npm run lint` exited with 1\nsrc/app.ts\n  3:1  error  Promises must be awaited  @typescript-eslint/no-floating-promises\nnpm error Lifecycle script `lint` failed",
    );
  });
});

describe("build", () => {
  async function buildPlan(args: Parameters<Pipeline["build"]> = []) {
    const run = await runPlan(async (pipeline) => (await pipeline.build(...args)).sync());
    expect(run.error).toBeUndefined();
    const [image] = callsEndingWith(run.engine, "sync");
    return { run, image: image! };
  }

  it("builds the bundle in the build environment with the commit baked in", async () => {
    const { run, image } = await buildPlan([undefined, "0123abc"]);
    const bundle = run.engine.chainOf(String(stepNamed(image, "withFile").args.source));
    expectBuildEnv(bundle);
    expect(bundle.slice(-3)).toEqual([
      { field: "withEnvVariable", args: { name: "GIT_COMMIT", value: "0123abc" } },
      { field: "withExec", args: { args: ["npm", "run", "build"], expect: "ANY" } },
      { field: "file", args: { path: "dist/server.mjs" } },
    ]);
  });

  it("gives the build stage the commit's time as SOURCE_DATE_EPOCH, never the clock", async () => {
    const { run, image } = await buildPlan([undefined, "0123abc", 1770091506]);
    const bundle = run.engine.chainOf(String(stepNamed(image, "withFile").args.source));
    expect(bundle.slice(-4, -2)).toEqual([
      { field: "withEnvVariable", args: { name: "GIT_COMMIT", value: "0123abc" } },
      { field: "withEnvVariable", args: { name: "SOURCE_DATE_EPOCH", value: "1770091506" } },
    ]);
  });

  it("a failing bundle build names the build stage and shows esbuild's output", async () => {
    const run = await runPlan(
      async (pipeline) => (await pipeline.build()).sync(),
      (chain) => {
        const command = JSON.stringify(chain.at(-2)?.args.args ?? []);
        if (command !== JSON.stringify(["npm", "run", "build"])) return undefined;
        const leaf = chain.at(-1)!.field;
        if (leaf === "exitCode") return { value: 1 };
        if (leaf === "stderr") return { value: "✘ [ERROR] Could not resolve \"./missing.js\"" };
        return leaf === "stdout" ? { value: "" } : undefined;
      },
    );
    expect(run.error?.message).toBe('build failed: `npm run build` exited with 1\n✘ [ERROR] Could not resolve "./missing.js"');
  });

  it("a step that failed before the stage's command (npm ci) is reported under the stage, with its output", async () => {
    const run = await runPlan(
      async (pipeline) => pipeline.test(),
      (chain) =>
        chain.at(-1)!.field === "exitCode"
          ? {
              error: {
                message: 'process "npm ci --no-audit --no-fund" did not complete successfully: exit code: 1',
                extensions: { _type: "EXEC_ERROR", exitCode: 1, stdout: "", stderr: "npm error code EUSAGE\nnpm error `npm ci` can only install with an existing package-lock.json" },
              },
            }
          : undefined,
    );
    expect(run.error?.message).toBe(
      'test failed before `npm test`: process "npm ci --no-audit --no-fund" did not complete successfully: exit code: 1\n' +
        "npm error code EUSAGE\nnpm error `npm ci` can only install with an existing package-lock.json",
    );
  });

  it("the runtime image holds Node and the bundle only, without package managers, sources or node_modules", async () => {
    const { image } = await buildPlan();
    expect(image[0]).toEqual({ field: "container", args: {} });
    expect(stepNamed(image, "from").args.address).toBe(NODE_IMAGE);
    expect(stepsNamed(image, "withExec"), "no shell runs in the runtime image").toEqual([]);
    expect(stepsNamed(image, "withoutDirectory").map((step) => step.args.path)).toEqual(["/usr/local/lib/node_modules", "/opt/yarn-*"]);
    expect(stepNamed(image, "withoutFiles").args.paths).toEqual(["/usr/local/bin/npm", "/usr/local/bin/npx", "/usr/local/bin/corepack", "/usr/local/bin/yarn", "/usr/local/bin/yarnpkg"]);
    expect(stepNamed(image, "withFile").args).toMatchObject({ path: "/app/server.mjs", owner: "root:root", permissions: 0o444 });
    expect(stepsNamed(image, "withDirectory")).toEqual([]);
    expect(stepsNamed(image, "withMountedCache")).toEqual([]);
    expect(stepsNamed(image, "withFile")).toHaveLength(1);
  });

  it("runs as an unprivileged user with node as PID 1, in production mode, on port 8080", async () => {
    const { image } = await buildPlan();
    expect(stepNamed(image, "withUser").args.name).toBe("1000:1000");
    expect(stepNamed(image, "withEntrypoint").args).toEqual({ args: ["node", "--max-semi-space-size=8", "/app/server.mjs"] });
    expect(stepNamed(image, "withExposedPort").args).toEqual({ port: 8080 });
    const env = namedValues(image, "withEnvVariable");
    expect(env).toEqual({ NODE_ENV: "production", PORT: "8080" });
  });

  it("has its own health check (for docker run and compose), with node since the image has no curl", async () => {
    const { image } = await buildPlan();
    expect(stepNamed(image, "withDockerHealthcheck").args).toEqual({
      args: HEALTHCHECK_COMMAND,
      interval: "10s",
      timeout: "3s",
      startPeriod: "5s",
      retries: 3,
    });
    expect(HEALTHCHECK_COMMAND[0]).toBe("node");
  });

  it("labels the image with title, version, revision and source, and no build timestamp", async () => {
    const { image } = await buildPlan([undefined, "0123abc", undefined, "https://github.com/acme/shop"]);
    const labels = namedValues(image, "withLabel");
    expect(labels).toEqual({
      "org.opencontainers.image.title": "hono-ecr-service",
      "org.opencontainers.image.version": "1.2.3",
      "org.opencontainers.image.revision": "0123abc",
      "org.opencontainers.image.source": "https://github.com/acme/shop",
      "org.opencontainers.image.base.name": `docker.io/library/${NODE_IMAGE_TAG}`,
      "org.opencontainers.image.base.digest": NODE_IMAGE_DIGEST,
    });
    const { image: unlabelled } = await buildPlan();
    expect(stepsNamed(unlabelled, "withLabel").map((step) => step.args.name)).not.toContain("org.opencontainers.image.source");
  });

  it("builds for the platform asked for, without running anything in the foreign platform's container", async () => {
    const { run, image } = await buildPlan(["linux/arm64" as never]);
    expect(image[0]).toEqual({ field: "container", args: { platform: "linux/arm64" } });
    expect(stepsNamed(image, "withExec")).toEqual([]);
    // The bundle is built natively: no platform on the build container.
    const bundle = run.engine.chainOf(String(stepNamed(image, "withFile").args.source));
    expect(bundle[0]).toEqual({ field: "container", args: {} });
  });
});

describe("serve", () => {
  it("is the runtime image as a service with its entrypoint", async () => {
    const run = await runPlan(async (pipeline) => (await pipeline.serve()).sync());
    expect(run.error).toBeUndefined();
    const [chain] = callsEndingWith(run.engine, "sync");
    expect(chain!.at(-2)).toEqual({ field: "asService", args: { useEntrypoint: true } });
    expect(stepNamed(chain!, "withEntrypoint").args.args).toEqual(["node", "--max-semi-space-size=8", "/app/server.mjs"]);
  });
});

describe("smoke", () => {
  /** Answers the uid probe with `uid` and the probe script's run with `exit`. */
  const smokeResolver = (uid: string, probeExit = 0) => (chain: Step[]) => {
    const leaf = chain.at(-1)!.field;
    const exec = chain.at(-2);
    const command = JSON.stringify(exec?.args.args ?? []);
    if (command.includes("getuid")) return leaf === "stdout" ? { value: uid } : leaf === "exitCode" ? { value: 0 } : undefined;
    if (command.includes("/smoke.mjs")) {
      if (leaf === "exitCode") return { value: probeExit };
      if (leaf === "stdout") return { value: probeExit ? "FAIL GET /readyz: status 503, expected 200\nsmoke test failed: 1 of 4 probes (/readyz)\n" : "smoke test passed: 4 probes\n" };
      if (leaf === "stderr") return { value: "" };
    }
    return undefined;
  };

  it("probes the image, started as a service, from a second container", async () => {
    const run = await runPlan(async (pipeline) => pipeline.smoke(), smokeResolver("1000"));
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("smoke test passed: 4 probes\nimage runs as uid 1000, entrypoint node --max-semi-space-size=8 /app/server.mjs");
    const probe = callsEndingWith(run.engine, "exitCode").find((chain) => JSON.stringify(chain).includes("/smoke.mjs"))!;
    expect(stepNamed(probe, "from").args.address).toBe(NODE_IMAGE);
    const binding = stepNamed(probe, "withServiceBinding");
    expect(binding.args.alias).toBe("app");
    const service = run.engine.chainOf(String(binding.args.service));
    expect(service.at(-1)).toEqual({ field: "asService", args: { useEntrypoint: true } });
    expect(stepNamed(service, "withUser").args.name).toBe("1000:1000");
    const env = namedValues(probe, "withEnvVariable");
    expect(env.SMOKE_BASE_URL).toBe("http://app:8080");
    expect(JSON.parse(String(env.SMOKE_PROBES))).toEqual(smokeProbes("hono-ecr-service"));
    expect(smokeProbes("hono-ecr-service").map((p) => [p.path, p.status, p.json])).toEqual([
      ["/healthz", 200, { status: "ok" }],
      ["/readyz", 200, { status: "ready" }],
      ["/", 200, { service: "hono-ecr-service" }],
      ["/smoke/no-such-route", 404, { "error.code": "not_found" }],
    ]);
    expect(probe.at(-2)).toEqual({ field: "withExec", args: { args: ["node", "/smoke.mjs"], expect: "ANY" } });
  });

  it("fails when the image runs as root", async () => {
    const run = await runPlan(async (pipeline) => pipeline.smoke(), smokeResolver("0"));
    expect(run.error?.message).toBe('smoke failed: the image runs as uid "0"; it must run as a non-root user');
  });

  it("fails with the probe report when a probe fails", async () => {
    const run = await runPlan(async (pipeline) => pipeline.smoke(), smokeResolver("1000", 1));
    expect(run.error?.message).toContain("smoke failed: `node /smoke.mjs` exited with 1");
    expect(run.error?.message).toContain("FAIL GET /readyz: status 503, expected 200");
  });
});

describe("ci", () => {
  it("runs lint, test, and build + smoke, and sums them up", async () => {
    const supply = answerSupplyChain();
    const run = await runPlan(async (pipeline) => pipeline.ci(), (chain) => supply(chain) ?? answerNonRootUid(chain));
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("lint: passed\ntest: passed\nbuild+smoke: passed\nvulnerability gate: passed");
    const commands = callsEndingWith(run.engine, "exitCode").map((chain) => (chain.at(-2)!.args.args as string[]).join(" "));
    expect(commands).toEqual(expect.arrayContaining(["npm run lint", "npm test", "node /smoke.mjs"]));
    // Both platform images are assembled from one bundle build; only the engine's own (linux/amd64 here) is run.
    const images = callsEndingWith(run.engine, "sync").filter((chain) => chain.some((step) => step.field === "withEntrypoint"));
    expect(images.map((chain) => chain[0])).toEqual([
      { field: "container", args: { platform: "linux/amd64" } },
      { field: "container", args: { platform: "linux/arm64" } },
    ]);
    const bundles = new Set(images.map((chain) => JSON.stringify(run.engine.chainOf(String(stepNamed(chain, "withFile").args.source)))));
    expect(bundles.size).toBe(1);
    const ran = run.engine.calls.filter((chain) => chain[0]?.args.platform === "linux/arm64" && chain.some((step) => step.field === "withExec"));
    expect(ran).toEqual([]);
    const uidProbe = callsEndingWith(run.engine, "stdout").find((chain) => JSON.stringify(chain).includes("getuid"))!;
    expect(uidProbe[0]).toEqual({ field: "container", args: { platform: "linux/amd64" } });
  });

  it("fails when any stage fails, naming each failed stage, after running them all", async () => {
    const supply = answerSupplyChain();
    const run = await runPlan(async (pipeline) => pipeline.ci(), (chain) => {
      const command = JSON.stringify(chain.at(-2)?.args.args ?? []);
      if (command === JSON.stringify(["npm", "test"]) && chain.at(-1)!.field === "exitCode") return { value: 1 };
      return supply(chain) ?? answerNonRootUid(chain);
    });
    expect(run.error?.message).toMatch(/^ci failed in 1 of 4 stages\n\ntest: test failed: `npm test` exited with 1/);
    const commands = callsEndingWith(run.engine, "exitCode").map((chain) => (chain.at(-2)!.args.args as string[]).join(" "));
    expect(commands).toEqual(expect.arrayContaining(["npm run lint", "node /smoke.mjs"]));
  });
});

describe("the fake engine", () => {
  it("refuses a request without the session token", async () => {
    const engine = new FakeEngine();
    await engine.start();
    try {
      const res = await fetch(`http://127.0.0.1:${process.env.DAGGER_SESSION_PORT}/query`, { method: "POST", body: "{}" });
      expect(res.status).toBe(401);
    } finally {
      await engine.stop();
    }
  });
});
