// `dagger develop` must leave the checkout clean, or `publish` refuses it right after ("uncommitted changes"). A replay
// of what it writes outside dagger/sdk/ (test/helpers/dagger-develop.ts, from the engine's and the runtime's source),
// compared with the committed files byte for byte. The lockfile step needs the npm registry (npx npm@11.8.0).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  GITATTRIBUTES_PATHS,
  GITIGNORE_PATHS,
  PACKAGE_JSON_DELETES,
  PACKAGE_JSON_SETS,
  PACKAGE_JSON_SETS_IF_ABSENT,
  TSCONFIG_SETS,
  developDaggerJson,
  developVcsFile,
  gitattributesLine,
  gitignoreLine,
  rawJsonValue,
  sjsonChanges,
} from "../helpers/dagger-develop.js";
import { engineNpm } from "../helpers/engine-runtime.js";
import { ROOT } from "../helpers/process.js";

const read = (file: string): string => readFileSync(path.join(ROOT, file), "utf8");
const readIfExists = (file: string): string | undefined => (existsSync(path.join(ROOT, file)) ? read(file) : undefined);

describe("the replay of dagger develop, on cases read from the engine's code", () => {
  it("writes dagger.json in the Go struct's key order, empty optional fields dropped, the engine's version, HTML-safe escapes", () => {
    const written = developDaggerJson('{"source":"dagger","include":["!a<&>\u2028"],"sdk":{"debug":false,"source":"typescript"},"name":"m","engineVersion":"v0.20.0"}', "v0.21.9");
    expect(written).toBe('{\n  "name": "m",\n  "engineVersion": "v0.21.9",\n  "sdk": {\n    "source": "typescript"\n  },\n  "include": [\n    "!a\\u003c\\u0026\\u003e\\u2028"\n  ],\n  "source": "dagger"\n}\n');
    expect(developDaggerJson('{"name":"m","engineVersion":"v0.21.9","include":[],"source":""}', "v0.21.9")).toBe('{\n  "name": "m",\n  "engineVersion": "v0.21.9"\n}\n');
    expect(() => developDaggerJson('{"name":"m","engineVersion":"v0.21.9","codegen":{}}', "v0.21.9")).toThrow("keys this replay does not model: codegen");
    expect(() => developDaggerJson('{"name":"m","engineVersion":"v0.21.9","sdk":{"source":"go","config":{}}}', "v0.21.9")).toThrow("does not model: sdk.config");
  });

  it("appends each missing path to .gitignore and .gitattributes, after a final newline; a path found as a substring counts", () => {
    expect(developVcsFile(undefined, GITIGNORE_PATHS, gitignoreLine)).toBe("/sdk\n/**/node_modules/**\n/**/.pnpm-store/**\n");
    expect(developVcsFile("dist", GITIGNORE_PATHS, gitignoreLine)).toBe("dist\n/sdk\n/**/node_modules/**\n/**/.pnpm-store/**\n");
    expect(developVcsFile("my-sdk-notes\n**/node_modules/**\n**/.pnpm-store/**\n", GITIGNORE_PATHS, gitignoreLine)).toBe("my-sdk-notes\n**/node_modules/**\n**/.pnpm-store/**\n");
    expect(developVcsFile(undefined, GITATTRIBUTES_PATHS, gitattributesLine)).toBe("/sdk/** linguist-generated\n");
  });

  it("finds the raw text sjson would replace, and names every edit that would change bytes", () => {
    const tsconfig = '{\n  "compilerOptions": {\n    "paths": { "@dagger.io/dagger": [\n "./sdk/index.ts"\n ] }\n  }\n}';
    expect(rawJsonValue(tsconfig, ["compilerOptions", "paths", "@dagger.io/dagger"])).toBe('[\n "./sdk/index.ts"\n ]');
    expect(sjsonChanges(tsconfig, TSCONFIG_SETS)).toEqual([
      'compilerOptions.paths.@dagger.io/dagger: [\n "./sdk/index.ts"\n ] -> ["./sdk/index.ts"]',
      'compilerOptions.paths.@dagger.io/dagger/telemetry: (absent) -> ["./sdk/telemetry.ts"]',
      "compilerOptions.experimentalDecorators: (absent) -> true",
    ]);
    const sdkAsDependency = '{"type":"module","dependencies":{"@dagger.io/dagger":"0.21.9","typescript":"~5.9.3"}}';
    expect(sjsonChanges(sdkAsDependency, PACKAGE_JSON_SETS, PACKAGE_JSON_DELETES, PACKAGE_JSON_SETS_IF_ABSENT)).toEqual(["dependencies.@dagger.io/dagger: deleted"]);
    expect(sjsonChanges('{"type":"commonjs"}', PACKAGE_JSON_SETS, PACKAGE_JSON_DELETES, PACKAGE_JSON_SETS_IF_ABSENT)).toEqual(['type: "commonjs" -> "module"', "dependencies.typescript: added"]);
    expect(sjsonChanges('{\n  // a comment\n  "type": "module"\n}', PACKAGE_JSON_SETS)).toEqual(["not plain JSON (comments are stripped, the file rewritten)"]);
  });
});

describe("dagger develop leaves this checkout as it is", () => {
  it("dagger.json", () => {
    const text = read("dagger.json");
    const { engineVersion } = JSON.parse(text) as { engineVersion: string };
    expect(developDaggerJson(text, engineVersion)).toBe(text);
  });

  it("dagger/.gitignore and dagger/.gitattributes", () => {
    expect(developVcsFile(readIfExists("dagger/.gitignore"), GITIGNORE_PATHS, gitignoreLine)).toBe(readIfExists("dagger/.gitignore"));
    expect(developVcsFile(readIfExists("dagger/.gitattributes"), GITATTRIBUTES_PATHS, gitattributesLine)).toBe(readIfExists("dagger/.gitattributes"));
  });

  it("dagger/package.json and dagger/tsconfig.json", () => {
    expect(sjsonChanges(read("dagger/package.json"), PACKAGE_JSON_SETS, PACKAGE_JSON_DELETES, PACKAGE_JSON_SETS_IF_ABSENT)).toEqual([]);
    expect(sjsonChanges(read("dagger/tsconfig.json"), TSCONFIG_SETS)).toEqual([]);
  });

  it("dagger/package-lock.json: npm 11.8.0 `install --package-lock-only` from package.json and the lockfile writes the same bytes", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dagger-develop-"));
    try {
      for (const file of ["package.json", "package-lock.json", ".npmrc"]) {
        if (existsSync(path.join(ROOT, "dagger", file))) cpSync(path.join(ROOT, "dagger", file), path.join(dir, file));
      }
      // The runtime's npm runs with npm's defaults; this machine's own config omits `resolved` from lockfiles.
      await engineNpm(dir, ["install", "--package-lock-only"], { npm_config_omit_lockfile_registry_resolved: "false" });
      expect(readFileSync(path.join(dir, "package-lock.json"), "utf8")).toBe(read("dagger/package-lock.json"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
