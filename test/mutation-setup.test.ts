// `npm run mutate` stays runnable and honest: StrykerJS pinned apart from the root package (Node >= 22), with no install
// script; the files it mutates and the tests it runs exist; no Stryker `testFiles` (static mutants would all survive,
// stryker-mutator/stryker-js#6144); its output ignored; the README's pin and docs/mutation.md's command true.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { MUTATION_TEST_FILES } from "../vitest.mutation.config.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const json = <T>(file: string): T => JSON.parse(readFileSync(path.join(ROOT, file), "utf8")) as T;
const text = (file: string): string => readFileSync(path.join(ROOT, file), "utf8");

interface StrykerConfig {
  mutate: string[];
  testFiles?: string[];
  vitest: { configFile: string; related: boolean };
  concurrency: number;
  incremental: boolean;
  incrementalFile: string;
  htmlReporter: { fileName: string };
  jsonReporter: { fileName: string };
  tempDirName: string;
}
const config = async () => ((await import(path.join(ROOT, "stryker.config.mjs"))) as { default: StrykerConfig }).default;

describe("npm run mutate", () => {
  it("pins StrykerJS exactly in tools/stryker, with the root lockfile's vitest, and no install script in its lock", () => {
    const { dependencies } = json<{ dependencies: Record<string, string> }>("tools/stryker/package.json");
    expect(dependencies["@stryker-mutator/core"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(dependencies["@stryker-mutator/vitest-runner"]).toBe(dependencies["@stryker-mutator/core"]);
    const rootLock = json<{ packages: Record<string, { version: string }> }>("package-lock.json");
    expect(dependencies.vitest).toBe(rootLock.packages["node_modules/vitest"]!.version);
    const lock = json<{ packages: Record<string, { version?: string; hasInstallScript?: boolean }> }>("tools/stryker/package-lock.json");
    expect(lock.packages["node_modules/@stryker-mutator/core"]!.version).toBe(dependencies["@stryker-mutator/core"]);
    expect(Object.entries(lock.packages).filter(([, entry]) => entry.hasInstallScript).map(([name]) => name)).toEqual([]);
    expect(text("README.md")).toContain(`| StrykerJS (\`npm run mutate\`) | ${dependencies["@stryker-mutator/core"]} |`);
  });

  it("mutates files that exist, with the tests of vitest.mutation.config.ts, not Stryker's testFiles", async () => {
    const { mutate, testFiles, vitest } = await config();
    for (const file of mutate) expect(existsSync(path.join(ROOT, file)), file).toBe(true);
    expect(testFiles).toBeUndefined();
    expect(vitest).toEqual({ configFile: "vitest.mutation.config.ts", related: true });
    for (const file of MUTATION_TEST_FILES.filter((file) => !file.includes("*"))) expect(existsSync(path.join(ROOT, file)), file).toBe(true);
    // No test that needs moto, an engine or a bench: Stryker runs the covering tests once per mutant.
    expect(MUTATION_TEST_FILES.filter((file) => /moto|engine|bench|develop|registration|slow/.test(file))).toEqual([]);
  });

  it("runs at most 2 test runners, incrementally, its output and sandboxes in ignored paths", async () => {
    const options = await config();
    expect(options.concurrency).toBeLessThanOrEqual(2);
    expect(options.incremental).toBe(true);
    const ignored = text(".gitignore").split("\n");
    expect(ignored).toContain(`/${options.tempDirName}/`);
    for (const file of [options.incrementalFile, options.htmlReporter.fileName, options.jsonReporter.fileName]) expect(file.startsWith("reports/mutation/"), file).toBe(true);
    expect(ignored).toContain("/reports/mutation/");
    expect(json<{ scripts: Record<string, string> }>("package.json").scripts.mutate).toBe("scripts/mutate.sh");
    expect(text("docs/mutation.md")).toContain("npm run mutate");
  });
});
