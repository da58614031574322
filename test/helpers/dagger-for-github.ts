/**
 * A minimal model of how dagger/dagger-for-github turns a step's `args` into the words the `dagger` CLI receives, to
 * replay it in bash. Derived from dagger/dagger-for-github, tag v8.4.1 (commit 27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77),
 * `action.yml`: the composite action's steps `assemble` (line 141) and `exec` (lines 171-177). Only those lines are
 * modelled, copied verbatim (`ASSEMBLE_LINE`, `EXEC_LINES`); the rest of the action is not part of this repository.
 *
 * What they do:
 * 1. GitHub evaluates the expressions in our `with.args` (a `${{ vars.X }}` there becomes its value, as text).
 * 2. `assemble` pastes `toJSON(inputs.args)` between single quotes into its bash script, decodes it with jq and joins
 *    lines; the result goes to a step output. A `'` in the text ends the quoting: what follows is shell code.
 * 3. `exec` pastes that output, unquoted, into the bash command line that runs `dagger`: bash parses it as code
 *    (`;`, `$(...)`, backticks run; `$VAR` expands from the step's environment, where our `env:` values are).
 * So the only safe `args` is constant text whose variable parts are `"$VAR"` expansions of the step's environment.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const DAGGER_FOR_GITHUB = {
  repository: "dagger/dagger-for-github",
  tag: "v8.4.1",
  commit: "27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77",
  path: "action.yml",
} as const;

/** action.yml line 141 (step `assemble`), verbatim. */
export const ASSEMBLE_LINE = "args=$(echo '${{ toJSON(inputs.args) }}' | jq -rj . | sed -z 's/\\\\\\n/ /g; s/\\n/ /g')";

/** action.yml lines 171-177 (step `exec`), verbatim. */
export const EXEC_LINES = [
  "cd ${{ inputs.workdir }} && { \\",
  "DAGGER_CLOUD_TOKEN=${{ inputs.cloud-token }} \\",
  "dagger \\",
  "${{ steps.assemble.outputs.dagger-flags }} \\",
  "${VERB} \\",
  "${INPUT_MODULE:+-m $INPUT_MODULE} \\",
  "${{ steps.assemble.outputs.args || steps.assemble.outputs.call || steps.assemble.outputs.script || steps.assemble.outputs.check }}; } 1> >(tee \"${tmpout}\") 2> >(tee \"${tmperr}\" >&2)",
].join("\n");

/**
 * GitHub's evaluation of the expressions in an input (step 1): each `${{ expr }}` replaced by `values[expr]`, as text.
 * Throws on an expression it was not given a value for.
 */
export function evaluateExpressions(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expr: string) => {
    const value = values[expr];
    if (value === undefined) throw new Error(`no value for the expression ${expr}`);
    return value;
  });
}

/** What a replay saw: the words `dagger` received, and the files that appeared in its working directory. */
export interface Replay {
  argv: string[];
  /** Files created by the replay in the working directory (anything but the planted `decoy`): code that ran. */
  created: string[];
  /** The exit status of each step's script, `assemble` then `exec` (0: it succeeded). */
  status: [number | null, number | null];
}

/**
 * Runs the action's `assemble` and `exec` lines in bash (GitHub's `bash --noprofile --norc -eo pipefail`), with `args`
 * as the step's `with.args` after GitHub's expression evaluation and `env` as the step's environment. `dagger` is a
 * bash function that records its words. The working directory holds one file, `decoy`, so that an unquoted glob
 * would visibly expand.
 */
export function replayDaggerForGithub(args: string, env: Record<string, string>): Replay {
  const dir = mkdtempSync(path.join(tmpdir(), "dagger-for-github-"));
  try {
    const work = path.join(dir, "work");
    execFileSync("mkdir", [work]);
    writeFileSync(path.join(work, "decoy"), "");
    const bash = (script: string, extraEnv: Record<string, string> = {}) =>
      spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
        cwd: work,
        env: { PATH: process.env.PATH, HOME: dir, ...env, ...extraEnv },
        encoding: "utf8",
      });
    // Step `assemble`: GitHub substitutes toJSON(inputs.args) into the script text, then bash runs it.
    const assemble = `${ASSEMBLE_LINE.replace("${{ toJSON(inputs.args) }}", () => JSON.stringify(args))}\nprintf '%s' "$args"`;
    const assembled = bash(assemble);
    // Step `exec`: GitHub substitutes the inputs and the assembled output into the script text; `dagger` records argv.
    const argvFile = path.join(dir, "argv");
    const exec = [
      `dagger() { printf '%s\\0' "$@" > ${JSON.stringify(argvFile)}; }`,
      'tmpout="$(mktemp)"; tmperr="$(mktemp)"',
      EXEC_LINES.replace("${{ inputs.workdir }}", ".")
        .replace("${{ inputs.cloud-token }}", "")
        .replace("${{ steps.assemble.outputs.dagger-flags }}", "--progress plain")
        .replace(/\$\{\{ steps\.assemble\.outputs\.args \|\|.*?\}\}/, () => assembled.stdout),
    ].join("\n");
    const ran = bash(exec, { VERB: "call", INPUT_MODULE: "" });
    const argv = existsSync(argvFile) ? readFileSync(argvFile, "utf8").split("\0").slice(0, -1) : [];
    return { argv, created: readdirSync(work).filter((file) => file !== "decoy"), status: [assembled.status, ran.status] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The action.yml at the pinned commit, read from a local clone of dagger/dagger-for-github (its git directory). */
export function pinnedActionYml(gitDir: string): string {
  return execFileSync("git", ["--git-dir", gitDir, "show", `${DAGGER_FOR_GITHUB.commit}:${DAGGER_FOR_GITHUB.path}`], { encoding: "utf8" });
}
