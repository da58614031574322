/**
 * A replay, offline, of what `dagger develop` (engine v0.21.x, TypeScript SDK) writes back into the checkout besides the
 * git-ignored dagger/sdk/. Source: dagger/dagger, branch backport-0.21 (commit 00c993cbe4):
 * - core/schema/modulesource.go: dagger.json is `json.MarshalIndent(modCfg, "", "  ")` + "\n" of
 *   modules.ModuleConfigWithUserFields (core/modules/config.go: the struct's field order, empty fields omitted), with
 *   engineVersion set to the running engine's; .gitattributes and .gitignore get one line appended per generated path
 *   that the file does not already contain as a substring (`bytes.Contains`), after a "\n" if the file lacks a final one;
 * - sdk/typescript/runtime/main.go: the TypeScript SDK's paths: generated `sdk/**`, ignored `sdk`, `**\/node_modules/**`,
 *   `**\/.pnpm-store/**`;
 * - sdk/typescript/runtime/tsutils/package_json_updator.go and tsconfig_updator.go: in-place edits with tidwall/sjson
 *   v1.2.5, which keeps every other byte; setting a value writes its compact JSON in place of the old one.
 * - sdk/typescript/runtime/runtime_node.go: the lockfile from `npm install --package-lock-only` with npm 11.8.0.
 */

/**
 * ModuleConfigWithUserFields' JSON keys in declaration order (ModuleConfigUserFields embedded first), of those this replay
 * models exactly: strings and lists of strings written back as read. The others (blueprint, toolchains, dependencies,
 * codegen, exclude, clients, disableDefaultFunctionCaching) are normalized on the way (nested structs drop unknown
 * keys, `exclude` is folded into `include`, ...): a dagger.json with one of them is refused, not guessed.
 */
const DAGGER_JSON_KEYS = ["$schema", "name", "engineVersion", "sdk", "include", "source"] as const;
/** modules.SDK's keys in declaration order, of those modeled (`config` and `experimental` are maps Go sorts). */
const SDK_KEYS = ["source", "debug"] as const;
/** Keys without `omitempty`: written even when empty. */
const ALWAYS_WRITTEN = new Set(["name", "engineVersion", "source@sdk"]);

const isEmpty = (value: unknown): boolean =>
  value === undefined || value === null || value === "" || value === false || (Array.isArray(value) && value.length === 0) || (typeof value === "object" && Object.keys(value).length === 0);

/** The keys of `object` in `order`, dropping empty `omitempty` fields (`scope` tells nested structs apart). */
const inOrder = (object: Record<string, unknown>, order: readonly string[], scope: string): Record<string, unknown> =>
  Object.fromEntries(order.filter((key) => !isEmpty(object[key]) || ALWAYS_WRITTEN.has(scope ? `${key}@${scope}` : key)).map((key) => [key, object[key]]));

/**
 * Go's json.MarshalIndent with two spaces, plus the final newline. Go escapes <, > and & as \u003c, \u003e, \u0026
 * (HTML-safe by default) and U+2028/U+2029 as \u2028/\u2029, where JSON.stringify writes them as they are.
 */
const goMarshalIndent = (value: unknown): string =>
  `${JSON.stringify(value, null, 2).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}\n`;

/** dagger.json as `dagger develop` on an engine of `engineVersion` writes it back. */
export function developDaggerJson(text: string, engineVersion: string): string {
  const config = JSON.parse(text) as Record<string, unknown>;
  const unknown = Object.keys(config).filter((key) => !(DAGGER_JSON_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new Error(`dagger.json has keys this replay does not model: ${unknown.join(", ")}`);
  const sdk = config.sdk as Record<string, unknown> | string | undefined;
  if (typeof sdk === "string") throw new Error("dagger.json has the legacy string form of sdk, which this replay does not model");
  const sdkUnknown = Object.keys(sdk ?? {}).filter((key) => !(SDK_KEYS as readonly string[]).includes(key));
  if (sdkUnknown.length > 0) throw new Error(`dagger.json has keys this replay does not model: ${sdkUnknown.map((key) => `sdk.${key}`).join(", ")}`);
  return goMarshalIndent(inOrder({ ...config, engineVersion, ...(sdk ? { sdk: inOrder(sdk, SDK_KEYS, "sdk") } : {}) }, DAGGER_JSON_KEYS, ""));
}

/** The TypeScript SDK's generated paths and their lines (main.go; the line formats of modulesource.go). */
export const GITATTRIBUTES_PATHS = ["sdk/**"];
export const GITIGNORE_PATHS = ["sdk", "**/node_modules/**", "**/.pnpm-store/**"];
export const gitattributesLine = (generated: string) => `/${generated} linguist-generated\n`;
export const gitignoreLine = (ignored: string) => `/${ignored}\n`;

/** The append rule of .gitattributes and .gitignore: `contents` undefined when the file does not exist. */
export function developVcsFile(contents: string | undefined, paths: string[], line: (path: string) => string): string {
  let out = contents === undefined || contents.endsWith("\n") ? (contents ?? "") : `${contents}\n`;
  for (const generated of paths) if (!out.includes(generated)) out += line(generated.replace(/^\//, ""));
  return out;
}

/**
 * The raw JSON text of the value at `keys` in `text`, found as sjson finds it (object keys only; enough for the paths
 * develop sets). Undefined when a key is absent.
 */
export function rawJsonValue(text: string, keys: string[]): string | undefined {
  let start = 0;
  let end = text.length;
  for (const key of keys) {
    const found = findKey(text, start, end, key);
    if (!found) return undefined;
    [start, end] = found;
  }
  return text.slice(start, end);
}

/** [start, end) of the value of `key` among the direct members of the object at text[from, to). */
function findKey(text: string, from: number, to: number, key: string): [number, number] | undefined {
  let i = text.indexOf("{", from) + 1;
  if (i === 0 || i > to) return undefined;
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] === "}") return undefined;
    const keyEnd = endOfValue(text, i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (name === key) return [valueStart, valueEnd];
    i = skipSpace(text, valueEnd);
    if (text[i] === ",") i++;
  }
}

const skipSpace = (text: string, i: number): number => {
  while (/\s/.test(text[i] ?? "")) i++;
  return i;
};

/** The end of the JSON value (string, object, array or literal) that starts at text[i]. */
function endOfValue(text: string, i: number): number {
  if (text[i] === '"') {
    let j = i + 1;
    while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
    return j + 1;
  }
  if (text[i] === "{" || text[i] === "[") {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      if (text[j] === '"') j = endOfValue(text, j) - 1;
      else if (text[j] === "{" || text[j] === "[") depth++;
      else if ((text[j] === "}" || text[j] === "]") && --depth === 0) return j + 1;
    }
    throw new Error("unterminated JSON value");
  }
  return i + /^[^,}\]\s]*/.exec(text.slice(i))![0].length;
}

/** What the runtime's package.json and tsconfig.json updates set (sjson.Set), as [keys, the compact JSON written]. */
export const PACKAGE_JSON_SETS: [string[], string][] = [[["type"], '"module"']];
export const TSCONFIG_SETS: [string[], string][] = [
  [["compilerOptions", "paths", "@dagger.io/dagger"], '["./sdk/index.ts"]'],
  [["compilerOptions", "paths", "@dagger.io/dagger/telemetry"], '["./sdk/telemetry.ts"]'],
  [["compilerOptions", "experimentalDecorators"], "true"],
];
/** What the package.json update deletes (sjson.Delete; a missing key leaves the text as it is). */
export const PACKAGE_JSON_DELETES: string[][] = [
  ["dependencies", "@dagger.io/dagger"],
  ["devDependencies", "@dagger.io/dagger"],
];
/** What it sets only where absent (setIfNotExists). */
export const PACKAGE_JSON_SETS_IF_ABSENT: string[][] = [["dependencies", "typescript"]];

/**
 * Why `text` would not stay byte-identical under those edits: a set value written differently, a key to delete that is
 * there, a key to add that is not, or comments (removeJSONComments runs first: JSON.parse refuses comments). Empty when
 * the file stays as it is.
 */
export function sjsonChanges(text: string, sets: [string[], string][], deletes: string[][] = [], setsIfAbsent: string[][] = []): string[] {
  try {
    JSON.parse(text);
  } catch {
    return ["not plain JSON (comments are stripped, the file rewritten)"];
  }
  return [
    ...sets.filter(([keys, value]) => rawJsonValue(text, keys) !== value).map(([keys, value]) => `${keys.join(".")}: ${rawJsonValue(text, keys) ?? "(absent)"} -> ${value}`),
    ...deletes.filter((keys) => rawJsonValue(text, keys) !== undefined).map((keys) => `${keys.join(".")}: deleted`),
    ...setsIfAbsent.filter((keys) => rawJsonValue(text, keys) === undefined).map((keys) => `${keys.join(".")}: added`),
  ];
}
