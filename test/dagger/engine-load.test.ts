// Will the engine be able to load the module? A replay of the TypeScript runtime's steps before any function runs
// (test/helpers/engine-runtime.ts): the package.json rewrite, its dependency install with npm 11.8.0, then the module
// started from an isolated copy of dagger/ and registered against the fake engine. Needs the npm registry (npx npm@11.8.0
// and the module's dependencies, usually from the npm cache).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeEngine, type Step } from "../helpers/fake-engine.js";
import {
  ENGINE_DEFAULT_TYPESCRIPT,
  copyModule,
  installDecision,
  installSdkBundle,
  moduleRuntime,
  replayInstall,
  rewritePackageJson,
  startModule,
  type ModuleCopy,
} from "../helpers/engine-runtime.js";
import { ROOT } from "../helpers/process.js";
import { moduleSurface } from "../helpers/module-surface.js";

const modulePackage = () => JSON.parse(readFileSync(path.join(ROOT, "dagger/package.json"), "utf8")) as { dependencies: Record<string, string> };

describe("the runtime's package.json rewrite and install decision", () => {
  it("rewrites as the runtime does: module type, typescript added when absent, the SDK removed", () => {
    expect(rewritePackageJson({ dependencies: { "@dagger.io/dagger": "0.21.9", x: "1" }, devDependencies: { "@dagger.io/dagger": "0.21.9" } })).toEqual({
      type: "module",
      dependencies: { x: "1", typescript: ENGINE_DEFAULT_TYPESCRIPT },
      devDependencies: {},
    });
    expect(rewritePackageJson({ dependencies: { typescript: "~5.9.3" } }).dependencies).toEqual({ typescript: "~5.9.3" });
  });

  it("mounts the engine's TypeScript only for the literal spec 5.9.3, and skips npm only when it is the sole dependency", () => {
    expect(installDecision({ dependencies: { typescript: "5.9.3" } })).toEqual({ mountsEngineTypescript: true, skipsNpmInstall: true });
    expect(installDecision({ dependencies: { typescript: "5.9.3", x: "1" } })).toEqual({ mountsEngineTypescript: true, skipsNpmInstall: false });
    expect(installDecision({ dependencies: { typescript: "~5.9.3", x: "1" } })).toEqual({ mountsEngineTypescript: false, skipsNpmInstall: false });
  });

  it("this module does not trigger the mount: its typescript spec is not the literal 5.9.3, and the lockfile holds 5.9.3", () => {
    const dependencies = modulePackage().dependencies;
    expect(dependencies.typescript).not.toBe(ENGINE_DEFAULT_TYPESCRIPT);
    expect(installDecision({ dependencies }).mountsEngineTypescript).toBe(false);
    const lock = JSON.parse(readFileSync(path.join(ROOT, "dagger/package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
    expect(lock.packages["node_modules/typescript"]?.version).toBe("5.9.3");
  });
});

describe("npm 11.8.0 against the engine's mounted TypeScript (dry run)", () => {
  const copies: ModuleCopy[] = [];
  afterAll(() => copies.forEach((copy) => copy.remove()));

  it("would not touch node_modules/typescript for this module", async () => {
    const copy = copyModule();
    copies.push(copy);
    const { decision, typescriptChanges, output } = await replayInstall(copy, true);
    expect(decision.skipsNpmInstall).toBe(false);
    expect(typescriptChanges, output).toEqual([]);
  }, 240_000);

  it("catches the defect it guards against: the literal 5.9.3 next to another dependency makes npm replace the mount", async () => {
    const copy = copyModule({ ...modulePackage(), dependencies: { ...modulePackage().dependencies, typescript: ENGINE_DEFAULT_TYPESCRIPT } });
    copies.push(copy);
    const { decision, typescriptChanges } = await replayInstall(copy, true);
    expect(decision).toEqual({ mountsEngineTypescript: true, skipsNpmInstall: false });
    expect(typescriptChanges).toEqual([expect.stringMatching(/^change typescript 6\.\d+\.\d+ => 5\.9\.3$/)]);
  }, 240_000);
});

/** Answers the calls the runtime's entrypoint makes to learn what to do: register the module named "pipeline". */
const registration = (chain: Step[]) => {
  const [first, second] = chain;
  if (first?.field === "currentFunctionCall" && second?.field === "parentName") return { value: "" };
  if (first?.field === "currentModule" && second?.field === "name") return { value: "pipeline" };
  if (first?.field === "currentFunctionCall" && second?.field === "returnValue") return { value: null };
  return undefined;
};

/**
 * Installs `copy` as the runtime does (npm 11.8.0, `--omit=dev`), makes the SDK bundle resolvable, and starts the module
 * with the runtime's entrypoint against a fresh fake engine asked to register it.
 */
async function loadLikeTheEngine(copy: ModuleCopy): Promise<{ engine: FakeEngine; started: { code: number; output: string } }> {
  await replayInstall(copy, false);
  installSdkBundle(copy);
  const engine = new FakeEngine(registration);
  await engine.start();
  try {
    const started = await startModule(copy, { DAGGER_SESSION_PORT: process.env.DAGGER_SESSION_PORT!, DAGGER_SESSION_TOKEN: process.env.DAGGER_SESSION_TOKEN! });
    return { engine, started };
  } finally {
    await engine.stop();
  }
}

describe(`the module loads from an isolated copy, as in the engine (on ${moduleRuntime().describe})`, () => {
  let copy: ModuleCopy;
  let engine: FakeEngine;
  let started: { code: number; output: string };

  beforeAll(async () => {
    copy = copyModule();
    ({ engine, started } = await loadLikeTheEngine(copy));
  }, 300_000);
  afterAll(() => copy?.remove());

  it("starts, registers and returns the module id to the engine", () => {
    expect(started.code, started.output).toBe(0);
    const returned = engine.calls.filter((chain) => chain[1]?.field === "returnValue");
    expect(returned).toHaveLength(1);
    const moduleId = JSON.parse(String(returned[0]![1]!.args.value)) as string;
    expect(FakeEngine.isId(moduleId)).toBe(true);
    expect(engine.chainOf(moduleId)[0]).toEqual({ field: "module", args: {} });
  });

  it("registers every object and function the introspector finds, under the same names", () => {
    const registered = engine.calls.flatMap((chain) => chain.filter((step) => step.field === "function").map((step) => String(step.args.name)));
    const expected = moduleSurface().objects.flatMap((object) => object.functions.map((fn) => fn.name));
    expect(new Set(registered.filter(Boolean))).toEqual(new Set(expected));
    const objects = engine.calls.flatMap((chain) => chain.filter((step) => step.field === "withObject").map((step) => String(step.args.name)));
    // withObject also names the core types functions return (Container, File, ...): the module's own must be among them.
    expect(objects).toEqual(expect.arrayContaining(moduleSurface().objects.map((object) => object.name)));
  });

  it("fails when a module file imports a package that is not a dependency of dagger/package.json", async () => {
    const broken = copyModule();
    try {
      // yaml is a devDependency of the root package.json: present on this machine, absent in the engine.
      const index = path.join(broken.dir, "src/index.ts");
      writeFileSync(index, `import "yaml";\n${readFileSync(index, "utf8")}`);
      const { started: result } = await loadLikeTheEngine(broken);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/Cannot find (package|module) 'yaml'/);
    } finally {
      broken.remove();
    }
  }, 300_000);
});
