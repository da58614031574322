/**
 * A replay, offline, of what the Dagger engine's TypeScript runtime (engine v0.21.x) does to the module before any
 * function runs. Source: sdk/typescript/runtime in the Dagger repository (v0.21.8 tag and the backport-0.21 branch):
 * - tsutils/package_json_updator.go UpdatePackageJSONForModule: the package.json rewrite;
 * - runtime_node.go NpmPkgManager.withInstalledDependencies: the TypeScript mount and `npm install --omit=dev`;
 * - config.go NpmDefaultVersion: npm 11.8.0 for a module with a package-lock.json;
 * - runtime_node.go SetupContainer and tsutils/bin/__dagger.entrypoint.ts: how the module is then started.
 * Nothing here runs in an engine: it re-enacts those steps with npm, and the engine's own Node and tsx versions (from
 * tools/node) where they run, on this machine.
 */
import { execFile, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { ROOT } from "./process.js";

const run = promisify(execFile);

/** tsdistconsts.DefaultTypeScriptVersion: the only `typescript` spec that makes the runtime mount its own copy. */
export const ENGINE_DEFAULT_TYPESCRIPT = "5.9.3";
/** config.go NpmDefaultVersion: the npm the runtime installs with when the module has a package-lock.json. */
export const ENGINE_NPM_VERSION = "11.8.0";
/** The TypeScript the runtime mounts (its SDK library is built from a package.json asking for ^6.0.3). */
export const ENGINE_TYPESCRIPT_DIR = path.join(ROOT, "node_modules/@dagger.io/dagger/node_modules/typescript");
/** tsdistconsts/consts.go DefaultNodeVersion: the runtime starts the module on node:24.13.1-alpine. */
export const ENGINE_NODE_VERSION = "24.13.1";
/** toolchains/engine-dev/build/sdk.go TypescriptSDKTSXVersion: the tsx it starts the module with. */
export const ENGINE_TSX_VERSION = "4.15.6";
/** Where tools/node installs that Node and that tsx (npm aliases engine-node and engine-tsx). */
const ENGINE_TOOLS = path.join(ROOT, "tools/node/node_modules");

/** The Node and tsx a module is started with: the engine's own where they are installed and run here. */
export interface ModuleRuntime {
  node: string;
  tsx: string;
  /** Node version and tsx version, e.g. `v24.13.1, tsx 4.15.6`. */
  describe: string;
}

/**
 * The engine's Node and tsx from tools/node (installed by scripts/image-node.sh; Linux x64 with glibc only), or else the
 * Node running the tests with the repository's tsx. REQUIRE_ENGINE_RUNTIME=1 (set by .ci/run) makes the fallback an error.
 */
export function moduleRuntime(): ModuleRuntime {
  const node = path.join(ENGINE_TOOLS, "engine-node/bin/node");
  const tsx = path.join(ENGINE_TOOLS, "engine-tsx/dist/cli.mjs");
  const version = existsSync(node) ? spawnSync(node, ["--version"], { encoding: "utf8" }).stdout?.trim() : undefined;
  const tsxVersion = existsSync(tsx) ? (JSON.parse(readFileSync(path.join(ENGINE_TOOLS, "engine-tsx/package.json"), "utf8")) as { version: string }).version : undefined;
  if (version === `v${ENGINE_NODE_VERSION}` && tsxVersion === ENGINE_TSX_VERSION) return { node, tsx, describe: `${version}, tsx ${tsxVersion}` };
  if (process.env.REQUIRE_ENGINE_RUNTIME === "1") {
    throw new Error(`REQUIRE_ENGINE_RUNTIME=1 but the engine's Node v${ENGINE_NODE_VERSION} and tsx ${ENGINE_TSX_VERSION} are not installed in tools/node (found ${version ?? "no node"}, tsx ${tsxVersion ?? "none"}): run scripts/image-node.sh true`);
  }
  const ownTsx = path.join(ROOT, "node_modules/tsx");
  return { node: process.execPath, tsx: path.join(ownTsx, "dist/cli.mjs"), describe: `${process.version}, tsx ${(JSON.parse(readFileSync(path.join(ownTsx, "package.json"), "utf8")) as { version: string }).version}` };
}

/** What the engine's SDK bundle exports (runtime tsutils/module/index.ts), besides everything of the generated client. */
export const ENGINE_BUNDLE_EXPORTS = ["connection", "connect", "Context", "func", "check", "generate", "argument", "object", "field", "enumType", "entrypoint"];

interface PackageJson {
  type?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

/** UpdatePackageJSONForModule: `"type": "module"`, `typescript` added if absent, `@dagger.io/dagger` removed. */
export function rewritePackageJson(original: PackageJson): PackageJson {
  const rewritten: PackageJson = structuredClone(original);
  rewritten.type = "module";
  rewritten.dependencies = { ...rewritten.dependencies };
  rewritten.dependencies.typescript ??= ENGINE_DEFAULT_TYPESCRIPT;
  delete rewritten.dependencies["@dagger.io/dagger"];
  if (rewritten.devDependencies) delete rewritten.devDependencies["@dagger.io/dagger"];
  return rewritten;
}

/** The runtime's decision, read from the module's own (original) package.json. */
export interface InstallDecision {
  /** The runtime bind-mounts its bundled TypeScript at node_modules/typescript (spec exactly "5.9.3"). */
  mountsEngineTypescript: boolean;
  /** It stops there: typescript is the only dependency, npm is not run. */
  skipsNpmInstall: boolean;
}

/** withInstalledDependencies' rule. */
export function installDecision(original: PackageJson): InstallDecision {
  const dependencies = original.dependencies ?? {};
  const mountsEngineTypescript = dependencies.typescript === ENGINE_DEFAULT_TYPESCRIPT;
  return { mountsEngineTypescript, skipsNpmInstall: mountsEngineTypescript && Object.keys(dependencies).length <= 1 };
}

/** A copy of dagger/ in a fresh temporary directory, with no node_modules above it; `remove()` deletes it. */
export interface ModuleCopy {
  dir: string;
  original: PackageJson;
  remove: () => void;
}

/**
 * Copies the module's package.json, lockfile, tsconfig and src/ to a temporary directory (never under the repository,
 * so nothing of the root node_modules is reachable by Node's resolution), optionally with another package.json.
 */
export function copyModule(packageJson?: PackageJson): ModuleCopy {
  const dir = mkdtempSync(path.join(tmpdir(), "dagger-module-"));
  const source = path.join(ROOT, "dagger");
  for (const file of ["package-lock.json", "tsconfig.json"]) cpSync(path.join(source, file), path.join(dir, file));
  cpSync(path.join(source, "src"), path.join(dir, "src"), { recursive: true });
  const original = packageJson ?? (JSON.parse(readFileSync(path.join(source, "package.json"), "utf8")) as PackageJson);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify(original, null, 2));
  return { dir, original, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs npm at the runtime's version (`npx npm@11.8.0`) in `dir`, with `env` added; resolves with stdout and stderr,
 * rejects on failure.
 */
export async function engineNpm(dir: string, args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return run("npx", ["--yes", `npm@${ENGINE_NPM_VERSION}`, ...args, "--no-audit", "--no-fund"], {
    cwd: dir,
    env: { ...process.env, npm_config_update_notifier: "false", ...env },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 240_000,
  });
}

/**
 * Re-enacts the dependency install: the package.json rewrite, the TypeScript mount when the rule applies (the engine's
 * copy placed at node_modules/typescript), then `npm install --omit=dev`, as a dry run when `dryRun`. Resolves with the
 * decision and npm's output lines that would touch node_modules/typescript while it holds the engine's mounted copy
 * (npm cannot replace a bind mount: EBUSY in the engine).
 */
export async function replayInstall(copy: ModuleCopy, dryRun: boolean): Promise<{ decision: InstallDecision; typescriptChanges: string[]; output: string }> {
  const decision = installDecision(copy.original);
  writeFileSync(path.join(copy.dir, "package.json"), JSON.stringify(rewritePackageJson(copy.original), null, 2));
  if (decision.mountsEngineTypescript) cpSync(ENGINE_TYPESCRIPT_DIR, path.join(copy.dir, "node_modules/typescript"), { recursive: true });
  if (decision.skipsNpmInstall) return { decision, typescriptChanges: [], output: "" };
  const { stdout, stderr } = await engineNpm(copy.dir, ["install", "--omit=dev", ...(dryRun ? ["--dry-run"] : [])]);
  const output = `${stdout}\n${stderr}`;
  const typescriptChanges = decision.mountsEngineTypescript ? output.split("\n").filter((line) => /^(add|change|remove)\s+typescript\b/.test(line.trim())) : [];
  return { decision, typescriptChanges, output };
}

/**
 * Makes `@dagger.io/dagger` resolvable in the copy the way the engine does (it mounts its SDK bundle at
 * node_modules/@dagger.io/dagger): a package that exports exactly what the bundle's index exports, taken from the npm
 * package's build of the same version (0.21.9), which is all of the SDK this machine has. Also writes the generated
 * client's declarations as sdk/client.gen.ts, the file the introspector expects next to the module.
 */
export function installSdkBundle(copy: ModuleCopy): void {
  const sdk = path.join(ROOT, "node_modules/@dagger.io/dagger/dist/src");
  const index = pathToFileURL(path.join(sdk, "index.js")).href;
  const client = pathToFileURL(path.join(sdk, "api/client.gen.js")).href;
  const bundleDir = path.join(copy.dir, "node_modules/@dagger.io/dagger");
  mkdirSync(bundleDir, { recursive: true });
  writeFileSync(path.join(bundleDir, "package.json"), JSON.stringify({ name: "@dagger.io/dagger", type: "module", main: "index.js", types: "index.d.ts" }));
  const body = (from: (file: string) => string) =>
    `export { ${ENGINE_BUNDLE_EXPORTS.join(", ")} } from ${JSON.stringify(from("index"))};\nexport * from ${JSON.stringify(from("client"))};\n`;
  writeFileSync(path.join(bundleDir, "index.js"), body((file) => (file === "index" ? index : client)));
  writeFileSync(path.join(bundleDir, "index.d.ts"), body((file) => path.join(sdk, file === "index" ? "index.js" : "api/client.gen.js")));
  mkdirSync(path.join(copy.dir, "sdk"), { recursive: true });
  cpSync(path.join(sdk, "api/client.gen.d.ts"), path.join(copy.dir, "sdk/client.gen.ts"));
}

/** The runtime's entrypoint (tsutils/bin/__dagger.entrypoint.ts, bundle mode): every .ts file under src/, plus sdk/client.gen.ts. */
const ENTRYPOINT = `import { entrypoint } from "@dagger.io/dagger"
import * as fs from "fs"
import * as path from "path"

function listTsFilesInModule(dir = import.meta.dirname): string[] {
  return fs.readdirSync(dir).flatMap((file) => {
    const filepath = path.join(dir, file)
    if (fs.statSync(filepath).isDirectory()) return listTsFilesInModule(filepath)
    return [".ts", ".mts"].includes(path.extname(filepath)) ? [filepath] : []
  })
}

entrypoint([\`\${import.meta.dirname}/../sdk/client.gen.ts\`, ...listTsFilesInModule()])
`;

/**
 * Starts the module in the copy as the runtime does (runtime_node.go: `tsx --no-deprecation --tsconfig tsconfig.json
 * src/__dagger.entrypoint.ts`, on moduleRuntime()'s Node and tsx) with the session pointed at a fake engine through
 * `env`; resolves with the exit code and output.
 */
export async function startModule(copy: ModuleCopy, env: Record<string, string>): Promise<{ code: number; output: string }> {
  const entrypoint = path.join(copy.dir, "src/__dagger.entrypoint.ts");
  writeFileSync(entrypoint, ENTRYPOINT);
  const { node, tsx } = moduleRuntime();
  try {
    const { stdout, stderr } = await run(node, [tsx, "--no-deprecation", "--tsconfig", path.join(copy.dir, "tsconfig.json"), entrypoint], {
      cwd: copy.dir,
      // runtime_node.go sets NODE_OPTIONS=--use-openssl-ca in the module's container.
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_OPTIONS: "--use-openssl-ca", ...env },
      timeout: 120_000,
    });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : 1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
  }
}
