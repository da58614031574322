/**
 * How the dagger CLI v0.21 turns the module's registration into a command line, read from its source: dagger/dagger,
 * branch backport-0.21 (commit 00c993cbe4, the line of the pinned v0.21.9), cmd/dagger/.
 */

/**
 * The CLI spelling of a function or argument name (buildEnv -> build-env, accessKeyId -> access-key-id): `cliName` in
 * cmd/dagger/module_inspect.go is `strcase.ToKebab`, github.com/iancoleman/strcase v0.3.0 (dagger's go.mod), whose
 * `ToScreamingDelimited` (snake.go) this follows byte for byte, with delimiter '-', no ignore set, not screaming.
 */
export function cliName(name: string): string {
  const s = name.trim();
  const isCap = (c: string | undefined) => c !== undefined && c >= "A" && c <= "Z";
  const isLow = (c: string | undefined) => c !== undefined && c >= "a" && c <= "z";
  const isNum = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const original = s[i]!;
    const vIsCap = isCap(original);
    const vIsLow = isLow(original);
    const v = vIsCap ? original.toLowerCase() : original;
    if (i + 1 < s.length) {
      const next = s[i + 1];
      const vIsNum = isNum(v);
      // A delimiter where the next character's kind changes; an acronym stays one word (JSONData -> json-data).
      if ((vIsCap && (isLow(next) || isNum(next))) || (vIsLow && (isCap(next) || isNum(next))) || (vIsNum && (isCap(next) || isLow(next)))) {
        if (vIsCap && isLow(next) && i > 0 && isCap(s[i - 1])) out += "-";
        out += v;
        if (vIsLow || vIsNum || isNum(next)) out += "-";
        continue;
      }
    }
    out += v === " " || v === "_" || v === "-" || v === "." ? "-" : v;
  }
  return out;
}

/**
 * The long flags that every command under `dagger call` already has when the module's arguments are added as flags.
 * `AddFlag` (cmd/dagger/flags.go) then fails the whole call with `flag already exists: NAME` for an argument of the
 * same name (dagger/dagger#7032), and `addConstructorLocalFlags` (functions.go) silently skips one. Where they come from:
 */
export const DAGGER_CALL_INHERITED_FLAGS = {
  /** cmd/dagger/main.go: rootCmd.PersistentFlags().BoolP("help", "h", ...). */
  root: ["help"],
  /** cmd/dagger/main.go installGlobalFlags(rootCmd.PersistentFlags()), hidden ones included. */
  global: [
    "workdir",
    "verbose",
    "quiet",
    "silent",
    "debug",
    "progress",
    "lock",
    "interactive",
    "interactive-command",
    "web",
    "no-exit",
    "auto-apply",
    "x-release",
    "dot-output",
    "dot-focus-field",
    "dot-show-internal",
    "cloud",
    "scale-out",
  ],
  /** cmd/dagger/module.go moduleAddFlags(callModCmd.Command(), ...PersistentFlags(), optional = true). */
  module: ["mod", "no-mod", "allow-llm", "eager-runtime"],
  /** cmd/dagger/functions.go FuncCommand.Command(): fc.cmd.PersistentFlags() "output" (-o) and "json" (-j). */
  call: ["output", "json"],
} as const;

/** Every inherited long flag, in one list. */
export const inheritedFlagNames = (): string[] => Object.values(DAGGER_CALL_INHERITED_FLAGS).flat();
