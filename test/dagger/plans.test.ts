// The pipeline's functions run for real against the fake engine (test/helpers/fake-engine.ts); these tests assert
// what each one asks the engine to do. They prove the plan, not that an engine can run it (README: "What runs where").
import { describe, expect, it } from "vitest";
import type { Step } from "../helpers/fake-engine.js";
import { FakeEngine } from "../helpers/fake-engine.js";
import { answerNonRootUid, callsEndingWith, execIndex, namedValues, runPlan, stepNamed, stepsNamed } from "../helpers/plan.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { smokeProbes } from "../../dagger/src/smoke.js";
import { NODE_IMAGE, SOURCE_IGNORE } from "../../dagger/src/versions.js";

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
  it("the Node image is Node 24 pinned to an exact version and Alpine release", () => {
    expect(NODE_IMAGE).toMatch(/^node:24\.\d+\.\d+-alpine\d+\.\d+$/);
  });

  it("the source ignores installed and built output, git metadata and the generated SDK", () => {
    expect(SOURCE_IGNORE).toEqual(expect.arrayContaining(["**/node_modules", "dist", ".git", "dagger/sdk", ".env"]));
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
  it.each([
    ["lint", ["npm", "run", "lint"]],
    ["test", ["npm", "test"]],
  ] as const)("%s runs its npm script in the build environment and checks its exit code", async (stage, command) => {
    const run = await runPlan(async (pipeline) => pipeline[stage]());
    expect(run.error).toBeUndefined();
    const [chain] = callsEndingWith(run.engine, "exitCode");
    expectBuildEnv(chain!);
    const exec = chain![chain!.length - 2]!;
    expect(exec).toEqual({ field: "withExec", args: { args: [...command], expect: "ANY" } });
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
    const cleanup = stepNamed(image, "withExec").args.args as string[];
    expect(cleanup.slice(0, 2)).toEqual(["sh", "-c"]);
    for (const path of ["/usr/local/lib/node_modules", "/usr/local/bin/npm", "/usr/local/bin/npx", "/usr/local/bin/corepack", "/opt/yarn-*"]) {
      expect(cleanup[2]).toContain(path);
    }
    expect(stepNamed(image, "withFile").args).toMatchObject({ path: "/app/server.mjs", owner: "root:root", permissions: 0o444 });
    expect(stepsNamed(image, "withDirectory")).toEqual([]);
    expect(stepsNamed(image, "withMountedCache")).toEqual([]);
    expect(JSON.stringify(image)).not.toContain("node_modules\"");
  });

  it("runs as an unprivileged user with node as PID 1, in production mode, on port 8080", async () => {
    const { image } = await buildPlan();
    expect(stepNamed(image, "withUser").args.name).toBe("1000:1000");
    expect(stepNamed(image, "withEntrypoint").args).toEqual({ args: ["node", "/app/server.mjs"] });
    expect(stepNamed(image, "withExposedPort").args).toEqual({ port: 8080 });
    const env = namedValues(image, "withEnvVariable");
    expect(env).toEqual({ NODE_ENV: "production", PORT: "8080" });
  });

  it("labels the image with title, version, revision and source, and no build timestamp", async () => {
    const { image } = await buildPlan([undefined, "0123abc", "https://github.com/acme/shop"]);
    const labels = namedValues(image, "withLabel");
    expect(labels).toEqual({
      "org.opencontainers.image.title": "hono-ecr-service",
      "org.opencontainers.image.version": "1.2.3",
      "org.opencontainers.image.revision": "0123abc",
      "org.opencontainers.image.source": "https://github.com/acme/shop",
      "org.opencontainers.image.base.name": `docker.io/library/${NODE_IMAGE}`,
    });
    const { image: unlabelled } = await buildPlan();
    expect(stepsNamed(unlabelled, "withLabel").map((step) => step.args.name)).not.toContain("org.opencontainers.image.source");
  });

  it("builds for the platform asked for", async () => {
    const { image } = await buildPlan(["linux/arm64" as never]);
    expect(image[0]).toEqual({ field: "container", args: { platform: "linux/arm64" } });
  });
});

describe("serve", () => {
  it("is the runtime image as a service with its entrypoint", async () => {
    const run = await runPlan(async (pipeline) => (await pipeline.serve()).sync());
    expect(run.error).toBeUndefined();
    const [chain] = callsEndingWith(run.engine, "sync");
    expect(chain!.at(-2)).toEqual({ field: "asService", args: { useEntrypoint: true } });
    expect(stepNamed(chain!, "withEntrypoint").args.args).toEqual(["node", "/app/server.mjs"]);
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
    expect(run.result).toBe("smoke test passed: 4 probes\nimage runs as uid 1000, entrypoint node /app/server.mjs");
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
    const run = await runPlan(async (pipeline) => pipeline.ci(), answerNonRootUid);
    expect(run.error).toBeUndefined();
    expect(run.result).toBe("lint: passed\ntest: passed\nbuild+smoke: passed");
    const commands = callsEndingWith(run.engine, "exitCode").map((chain) => (chain.at(-2)!.args.args as string[]).join(" "));
    expect(commands).toEqual(expect.arrayContaining(["npm run lint", "npm test", "node /smoke.mjs"]));
  });

  it("fails when any stage fails, naming each failed stage, after running them all", async () => {
    const run = await runPlan(async (pipeline) => pipeline.ci(), (chain) => {
      const command = JSON.stringify(chain.at(-2)?.args.args ?? []);
      if (command === JSON.stringify(["npm", "test"]) && chain.at(-1)!.field === "exitCode") return { value: 1 };
      return answerNonRootUid(chain);
    });
    expect(run.error?.message).toMatch(/^ci failed in 1 of 3 stages\n\ntest: test failed: `npm test` exited with 1/);
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
