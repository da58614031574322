/**
 * Prints, as JSON, the Dagger module in dagger/src as the engine registers it: runs the SDK's own introspector
 * (`scan`, the code the TypeScript runtime runs when the module loads) over every .ts file under dagger/src (subfolders included).
 * Run with tsx and the module's tsconfig: TSX_TSCONFIG_PATH=dagger/tsconfig.json node --import tsx test/helpers/introspect-module.ts
 * `scan` is internal to @dagger.io/dagger: it is pinned to 0.21.9 for that reason.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const sdk = path.join(root, "node_modules/@dagger.io/dagger/dist/src");
const { scan } = (await import(pathToFileURL(path.join(sdk, "module/introspector/index.js")).href)) as {
  scan: (files: string[], name: string) => Promise<{ name: string; description?: string; objects: Record<string, IntrospectedObject> }>;
};

interface TypeRef {
  kind: string;
  name?: string;
  typeDef?: TypeRef;
}
interface IntrospectedArgument {
  name: string;
  description?: string;
  type?: TypeRef;
  isOptional: boolean;
  isNullable: boolean;
  defaultValue?: string;
  defaultPath?: string;
  ignore?: string[];
}
interface IntrospectedFunction {
  name: string;
  description?: string;
  alias?: string;
  cache?: string;
  isCheck?: boolean;
  arguments: Record<string, IntrospectedArgument>;
  returnType?: TypeRef;
}
interface IntrospectedObject {
  name: string;
  description?: string;
  _constructor?: IntrospectedFunction;
  methods: Record<string, IntrospectedFunction>;
}

const typeName = (type?: TypeRef): string =>
  !type ? "?" : type.kind === "LIST_KIND" ? `[${typeName(type.typeDef)}]` : (type.name ?? type.kind.replace(/_KIND$/, "").toLowerCase());

const summarizeArgs = (args: Record<string, IntrospectedArgument>) =>
  Object.values(args).map((arg) => ({
    name: arg.name,
    type: typeName(arg.type),
    optional: arg.isOptional || arg.isNullable,
    ...(arg.defaultValue !== undefined ? { defaultValue: arg.defaultValue } : {}),
    ...(arg.defaultPath !== undefined ? { defaultPath: arg.defaultPath } : {}),
    ...(arg.ignore !== undefined ? { ignore: arg.ignore } : {}),
    description: arg.description ?? "",
  }));

// The introspector looks for the generated client next to the module; a copy of the published declaration file serves.
const genDir = mkdtempSync(path.join(tmpdir(), "dagger-gen-"));
try {
  const clientGen = path.join(genDir, "client.gen.ts");
  copyFileSync(path.join(sdk, "api/client.gen.d.ts"), clientGen);
  const srcDir = path.join(root, "dagger/src");
  const files = readdirSync(srcDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => path.join(entry.parentPath, entry.name));
  const moduleName = (JSON.parse(readFileSync(path.join(root, "dagger.json"), "utf8")) as { name: string }).name;
  const module = await scan([...files, clientGen], moduleName);
  const objects = Object.values(module.objects).map((object) => ({
    name: object.name,
    description: object.description ?? "",
    constructorArgs: object._constructor ? summarizeArgs(object._constructor.arguments) : [],
    functions: Object.values(object.methods).map((fn) => ({
      name: fn.alias ?? fn.name,
      description: fn.description ?? "",
      cache: fn.cache ?? null,
      check: fn.isCheck ?? false,
      returnType: typeName(fn.returnType),
      args: summarizeArgs(fn.arguments),
    })),
  }));
  process.stdout.write(JSON.stringify({ name: module.name, objects }, null, 2));
} finally {
  rmSync(genDir, { recursive: true, force: true });
}
