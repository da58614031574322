/**
 * Checks `dagger call ...` command lines written in docs and workflows against the module's registered surface:
 * the function must exist, every `--flag` must be one of its arguments (or the constructor's), and a chained call must
 * be a core method of the function's return type.
 */
import { cliName } from "./dagger-cli.js";
import type { ModuleSurface } from "./module-surface.js";

/** Core methods that may follow a function returning these types in the commands we write. */
const CHAINABLE: Record<string, string[]> = {
  Container: ["export", "terminal", "publish", "as-tarball", "stdout", "with-exec", "up", "as-service"],
  Service: ["up", "endpoint"],
  File: ["export", "contents"],
};

/** Splits a shell command line into words, keeping quoted strings, $(...) and ${{ ... }} inside one word. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word += c;
    } else if ((c === "$" && (line[i + 1] === "(" || line[i + 1] === "{")) || (depth > 0 && (c === "(" || c === "{"))) {
      if (c === "$") {
        word += c + line[i + 1]!;
        i++;
      } else word += c;
      depth++;
    } else if (depth > 0 && (c === ")" || c === "}")) {
      depth--;
      word += c;
    } else if (/\s/.test(c) && depth === 0) {
      if (word) words.push(word);
      word = "";
    } else word += c;
  }
  if (word) words.push(word);
  return words;
}

/** Every `dagger call ...` command in `text` (backslash continuations joined; stops at `|`, `&&`, `;`, a backtick, or markup: `<`, `"`, `]`). */
export function daggerCallsIn(text: string): string[] {
  const joined = text.replace(/\\\n\s*/g, " ");
  return [...joined.matchAll(/dagger call ([^`\n|;&<"\]]*)/g)].map((match) => `dagger call ${match[1]!.trim()}`);
}

/**
 * The problems of one `dagger call ...` command; empty when it matches the module. A function that returns one of the
 * module's own objects (`aws`) is followed by a function of that object, each with its own flags.
 */
export function checkDaggerCall(command: string, surface: ModuleSurface): string[] {
  // `${VAR:+--flag=$VAR}` (a flag passed only when the variable is set) is checked as `--flag=...`.
  const words = shellWords(command)
    .slice(2)
    .map((word) => /^\$\{\w+:\+(--[\w-]+=.*)\}$/.exec(word)?.[1] ?? word);
  let object = surface.objects[0]!;
  const problems: string[] = [];
  const flagName = (word: string) => word.replace(/^--/, "").split("=")[0]!;
  while (words[0]?.startsWith("--")) {
    const flag = flagName(words.shift()!);
    if (!object.constructorArgs.some((arg) => cliName(arg.name) === flag)) problems.push(`${command}: --${flag} is not a module (constructor) argument`);
  }
  for (;;) {
    const name = words.shift();
    const fn = object.functions.find((candidate) => cliName(candidate.name) === name);
    if (!fn) return [...problems, `${command}: no function named ${String(name)}${object === surface.objects[0] ? "" : ` on ${object.name}`}`];
    const given: string[] = [];
    // Prose may elide a function's flags with "..." (`dagger call aws ... deploy`): its required ones are then not checked.
    const elided = words[0] === "...";
    if (elided) words.shift();
    while (words[0]?.startsWith("--")) {
      const word = words.shift()!;
      const flag = flagName(word);
      given.push(flag);
      const arg = fn.args.find((candidate) => cliName(candidate.name) === flag);
      // A boolean may be given bare (--offline); everything else as --flag=VALUE.
      if (!word.includes("=") && arg?.type !== "boolean") problems.push(`${command}: write --${flag}=VALUE`);
      if (!arg) problems.push(`${command}: ${name} has no argument --${flag}`);
    }
    // Required as the CLI sees it (IsRequired in cmd/dagger/module_inspect.go: not optional, no default), where the engine
    // has made every argument with a defaultPath optional (core/schema/module.go functionWithArg; both backport-0.21).
    const required = fn.args.filter((arg) => !arg.optional && arg.defaultValue === undefined && arg.defaultPath === undefined).map((arg) => cliName(arg.name));
    if (!elided) for (const arg of required) if (!given.includes(arg)) problems.push(`${command}: required argument --${arg} of ${name} is missing`);
    const next = surface.objects.find((candidate) => candidate.name === fn.returnType);
    if (next) {
      object = next;
      if (words.length === 0) problems.push(`${command}: ${name} returns ${next.name}: name one of its functions`);
      else continue;
    }
    const chained = words.shift();
    if (chained !== undefined && !(CHAINABLE[fn.returnType] ?? []).includes(chained)) problems.push(`${command}: ${chained} cannot follow ${name}, which returns ${fn.returnType}`);
    return problems;
  }
}
