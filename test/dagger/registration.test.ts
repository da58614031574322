// The module as the engine registers it: the SDK's own introspector over dagger/src, in a child process.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/process.js";
import { checkDaggerCall, daggerCallsIn } from "../helpers/dagger-calls.js";
import { cliName, DAGGER_CALL_INHERITED_FLAGS, inheritedFlagNames } from "../helpers/dagger-cli.js";
import { moduleSurface, type ModuleSurface } from "../helpers/module-surface.js";
import { SOURCE_IGNORE } from "../../dagger/src/versions.js";

const MODULE_DIR = path.join(ROOT, "dagger/src");
/** Every file under dagger/src (the engine loads every .ts file there), relative to it. */
const moduleFiles = (): string[] =>
  readdirSync(MODULE_DIR, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(MODULE_DIR, path.join(entry.parentPath, entry.name)));

let surface: ModuleSurface;
beforeAll(() => {
  surface = moduleSurface();
}, 60_000);

const signature = (fn: ModuleSurface["objects"][number]["functions"][number]) =>
  `${fn.name}(${fn.args.map((a) => `${a.name}${a.optional ? "?" : ""}: ${a.type}${a.defaultValue !== undefined ? ` = ${a.defaultValue}` : ""}`).join(", ")}): ${fn.returnType}` +
  `${fn.check ? " @check" : ""}${fn.cache ? ` cache=${fn.cache}` : ""}`;

describe("module registration", () => {
  it("registers the main object named after dagger.json, and the AWS functions' object", () => {
    const config = JSON.parse(readFileSync(path.join(ROOT, "dagger.json"), "utf8")) as { name: string };
    expect(config.name).toBe("pipeline");
    expect(surface.name).toBe("Pipeline");
    expect(surface.objects.map((object) => object.name)).toEqual(["Pipeline", "Aws"]);
    for (const object of surface.objects) expect(object.description).not.toBe("");
  });

  it("takes the source once, from the repository root, without heavy or generated paths", () => {
    expect(surface.objects[0]!.constructorArgs).toEqual([
      { name: "source", type: "Directory", optional: false, defaultPath: "/", ignore: SOURCE_IGNORE, description: expect.stringMatching(/\S/) as string },
    ]);
  });

  it("exposes exactly this public surface (change it deliberately)", () => {
    expect(surface.objects[0]!.functions.map(signature)).toEqual([
      "buildEnv(): Container",
      "lint(): void @check",
      "test(): void @check",
      "bundle(commit: string = unknown, sourceDateEpoch?: integer): File",
      "build(platform?: Platform, commit: string = unknown, sourceDateEpoch?: integer, sourceUrl: string = ): Container",
      "serve(): Service",
      "smoke(): string",
      "sbom(platform?: Platform, commit: string = unknown): File",
      "scan(severity: string = CRITICAL): string cache=session",
      "ci(): string cache=session",
      "aws(region: string, accessKeyId: Secret, secretAccessKey: Secret, sessionToken?: Secret): Aws",
      "lifecyclePolicy(keep: integer = 5): string",
    ]);
  });

  it("has the AWS functions behind aws, which takes the region and credentials once", () => {
    expect(surface.objects[1]!.functions.map(signature)).toEqual([
      "publish(repository: string, git: GitRepository, commit?: string, allowDirty: boolean = false, sourceDateEpoch?: integer, tags?: [string], platforms?: [Platform], sourceUrl: string = , severity: string = CRITICAL): string cache=never",
      "releaseSbom(repository: string, commit: string, digest?: string): File cache=never",
      "setupRegistry(repository: string, keep: integer = 5, signingProfileArn?: string): string cache=never",
      "lifecyclePreview(repository: string, keep: integer = 5, offline: boolean = false): string cache=never",
      "deploy(environment: string, image?: string, commit?: string, timeoutMinutes?: integer, checks: integer = 5, url?: string, severity: string = CRITICAL, allowVulnerable?: string, allowUnscanned?: string, allowOlder?: string): string cache=never",
      "rollback(environment: string, timeoutMinutes?: integer, checks: integer = 5, url?: string, severity: string = CRITICAL, allowVulnerable?: string, allowUnscanned?: string, allowUnsigned?: string): string cache=never",
      "status(environment: string, format: string = text): string cache=never",
      "provision(environment: string, plan: boolean = false, image?: string): string cache=never",
      "bootstrap(githubRepository: string, githubOwnerId?: string, githubRepositoryId?: string, repository: string = hono-ecr-service, signing: boolean = false): string cache=never",
    ]);
  });

  it("publish takes the repository's git metadata from the module's own checkout (defaultPath /)", () => {
    const git = surface.objects[1]!.functions.find((fn) => fn.name === "publish")!.args.find((arg) => arg.name === "git");
    // Required in the code, optional on the CLI: the engine makes an argument with a defaultPath optional
    // (core/schema/module.go, functionWithArg, backport-0.21) and loads it itself when it is not given.
    expect(git).toMatchObject({ type: "GitRepository", defaultPath: "/", optional: false });
  });

  it("documents every function with an example command, and every argument", () => {
    for (const fn of surface.objects.flatMap((object) => object.functions)) {
      expect(fn.description, fn.name).toMatch(/\S/);
      expect(fn.description, fn.name).toMatch(/Example: `dagger call /);
      for (const arg of fn.args) expect(arg.description, `${fn.name}.${arg.name}`).toMatch(/\S/);
    }
  });

  it("every example command in the docs strings calls a function with arguments that exist", () => {
    const functions = surface.objects.flatMap((object) => object.functions);
    const examples = functions.flatMap((fn) => daggerCallsIn(fn.description));
    expect(examples.length).toBe(functions.length);
    expect(examples.flatMap((command) => checkDaggerCall(command, surface))).toEqual([]);
  });
});

/** `Object.function --flag` for every argument whose CLI flag is one `dagger call` already gives the function's command. */
const flagClashes = (module: ModuleSurface): string[] => {
  const inherited = new Set(inheritedFlagNames());
  return module.objects.flatMap((object) =>
    [{ name: "constructor", args: object.constructorArgs }, ...object.functions]
      .flatMap((fn) => fn.args.map((arg) => `${object.name}.${fn.name} --${cliName(arg.name)}`))
      .filter((flag) => inherited.has(flag.slice(flag.indexOf("--") + 2))),
  );
};

describe("the dagger CLI's flags (v0.21) and the module's arguments", () => {
  it("spells names as the CLI does: strcase.ToKebab v0.3.0, on its own test cases (snake_test.go, '-' for '_')", () => {
    const cases: [string, string][] = [
      ["testCase", "test-case"], ["TestCase", "test-case"], [" Test Case ", "test-case"], ["test_case", "test-case"], ["", ""],
      ["manyManyWords", "many-many-words"], ["AnyKind of_string", "any-kind-of-string"], ["numbers2and55with000", "numbers-2-and-55-with-000"],
      ["JSONData", "json-data"], ["userID", "user-id"], ["AAAbbb", "aa-abbb"], ["1A2", "1-a-2"], ["A1B", "a-1-b"], ["AB1AB2AB3", "ab-1-ab-2-ab-3"],
      ["accessKeyId", "access-key-id"], ["sourceDateEpoch", "source-date-epoch"],
    ];
    expect(cases.map(([name]) => cliName(name))).toEqual(cases.map(([, flag]) => flag));
  });

  it("lists the inherited flags from the CLI's source: the global ones, -m and friends, -o and -j", () => {
    expect(DAGGER_CALL_INHERITED_FLAGS.call).toEqual(["output", "json"]);
    expect(new Set(inheritedFlagNames()).size).toBe(inheritedFlagNames().length);
    expect(inheritedFlagNames()).toEqual(expect.arrayContaining(["help", "progress", "mod", "debug", "silent", "interactive"]));
  });

  it("no function or constructor argument shares its flag with one dagger call already has (else: `flag already exists`)", () => {
    expect(flagClashes(surface)).toEqual([]);
  });

  it("the check finds a planted clash: an argument named output, or json as status had it", () => {
    const aws = surface.objects[1]!;
    const planted: ModuleSurface = {
      ...surface,
      objects: [
        { ...surface.objects[0]!, constructorArgs: [...surface.objects[0]!.constructorArgs, { name: "output", type: "string", optional: true, description: "x" }] },
        { ...aws, functions: aws.functions.map((fn) => (fn.name === "status" ? { ...fn, args: [...fn.args, { name: "json", type: "boolean", optional: true, description: "x" }] } : fn)) },
      ],
    };
    expect(flagClashes(planted)).toEqual(["Pipeline.constructor --output", "Aws.status --json"]);
  });
});

describe("engine compatibility", () => {
  /** What `@dagger.io/dagger` exports inside the engine: the module runtime plus the generated client (REFERENCE §2). */
  const RUNTIME_EXPORTS = new Set(["object", "func", "argument", "check", "generate", "field", "enumType", "connection", "connect", "Context", "entrypoint"]);
  const clientGen = readFileSync(path.join(ROOT, "node_modules/@dagger.io/dagger/dist/src/api/client.gen.d.ts"), "utf8");
  const generated = new Set([...clientGen.matchAll(/^export (?:declare )?(?:class|type|enum|const|function|interface) (\w+)/gm)].map((m) => m[1]!));

  it("module files import from @dagger.io/dagger only what the engine's bundle exports", () => {
    const imported: string[] = [];
    for (const file of moduleFiles().filter((name) => name.endsWith(".ts"))) {
      const text = readFileSync(path.join(MODULE_DIR, file), "utf8");
      for (const match of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"@dagger\.io\/dagger"/g)) {
        imported.push(...match[1]!.split(",").map((name) => name.replace(/^\s*type\s+/, "").trim()).filter(Boolean));
      }
      expect(text, file).not.toMatch(/from\s*"@dagger\.io\/dagger\/(?!telemetry")/);
    }
    expect(imported.length).toBeGreaterThan(5);
    const unavailable = imported.filter((name) => !RUNTIME_EXPORTS.has(name) && !generated.has(name));
    expect(unavailable).toEqual([]);
  });

  it("the allow-list check itself rejects an npm-only export", () => {
    expect(generated.has("ExecError")).toBe(false);
    expect(generated.has("Container")).toBe(true);
  });

  it("no test or other non-module file lives under dagger/src", () => {
    const files = moduleFiles();
    expect(files.length).toBeGreaterThan(5);
    expect(files.filter((file) => /\.(test|spec)\.|fixture/.test(file) || !file.endsWith(".ts"))).toEqual([]);
  });
});
