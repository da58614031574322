// A replay of dagger/dagger-for-github's own script (v8.4.1, action.yml; modelled in test/helpers/dagger-for-github.ts)
// with every Dagger step of our workflows: their `args` expand only the step's environment variables, each as one word,
// whatever the values hold; and the same args with a `${{ vars.X }}` in them run code planted in the variable.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ASSEMBLE_LINE, DAGGER_FOR_GITHUB, EXEC_LINES, evaluateExpressions, pinnedActionYml, replayDaggerForGithub } from "./helpers/dagger-for-github.js";
import { ROOT } from "./helpers/process.js";

interface Step {
  id?: string;
  uses?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
const DIR = path.join(ROOT, ".github/workflows");
const daggerSteps = readdirSync(DIR)
  .filter((file) => file.endsWith(".yml"))
  .flatMap((file) => {
    const workflow = parse(readFileSync(path.join(DIR, file), "utf8")) as { jobs: Record<string, { steps: Step[] }> };
    return Object.entries(workflow.jobs).flatMap(([job, { steps }]) =>
      steps.filter((step) => step.uses?.startsWith("dagger/dagger-for-github@") && step.with?.args).map((step) => ({ where: `${file} ${job}`, step })),
    );
  });

/** The runner's own variables that an args may expand (fixed by GitHub, not by any event). */
const RUNNER_VARIABLES = ["GITHUB_SHA", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY"];
/** Shell syntax of every kind: quote breaks, command substitution, backticks, separators, a comment, a glob, a variable. */
const HOSTILE = `'$(touch q)' "$(touch d)" \`touch b\` ;touch s;: # * $HOME`;

function environmentOf(step: Step, value: (name: string) => string): Record<string, string> {
  const names = [...Object.keys(step.env ?? {}), ...RUNNER_VARIABLES];
  return Object.fromEntries(names.map((name) => [name, value(name)]));
}

describe("dagger-for-github's script, replayed with our Dagger steps", () => {
  it("covers every Dagger step that passes args", () => {
    expect(daggerSteps.map(({ where }) => where)).toEqual([
      "ci.yml ci",
      "ci.yml plan",
      "ci.yml publish",
      "ci.yml sbom",
      "ci.yml provision-staging",
      "ci.yml deploy-staging",
      "ci.yml provision-production",
      "ci.yml deploy-production",
      "rollback.yml rollback",
      "setup-registry.yml setup-registry",
    ]);
  });

  it("hands dagger each environment value as part of one word, running nothing, whatever the values hold", () => {
    for (const { where, step } of daggerSteps) {
      // GitHub evaluates no expression in our args: there is none (evaluateExpressions throws on any).
      const args = evaluateExpressions(step.with!.args!, {});
      const plain = replayDaggerForGithub(args, environmentOf(step, (name) => `value-of-${name}`));
      expect(plain.status, where).toEqual([0, 0]);
      expect(plain.argv.slice(0, 3), where).toEqual(["--progress", "plain", "call"]);
      const hostile = replayDaggerForGithub(args, environmentOf(step, (name) => `value-of-${name}${HOSTILE}`));
      expect(hostile.created, where).toEqual([]);
      expect(hostile.status, where).toEqual([0, 0]);
      // The same words as with plain values, each value landing whole where its plain counterpart was.
      expect(hostile.argv, where).toEqual(plain.argv.map((word) => word.replace(/value-of-(\w+)/g, (found) => `${found}${HOSTILE}`)));
    }
  });

  it("drops an optional flag whose variable is empty, and keeps the rest", () => {
    const deploy = daggerSteps.find(({ where }) => where === "ci.yml deploy-staging")!.step;
    const withUrl = replayDaggerForGithub(deploy.with!.args!, environmentOf(deploy, (name) => `value-of-${name}`)).argv;
    const withoutUrl = replayDaggerForGithub(deploy.with!.args!, environmentOf(deploy, (name) => (name === "SERVICE_URL" ? "" : `value-of-${name}`))).argv;
    expect(withUrl).toContain("--url=value-of-SERVICE_URL");
    expect(withoutUrl).toEqual(withUrl.filter((word) => word !== "--url=value-of-SERVICE_URL"));
  });

  it("runs code planted in a repository variable that args expands as ${{ vars.X }}", () => {
    const publish = daggerSteps.find(({ where }) => where === "ci.yml publish")!.step;
    const asExpression = publish.with!.args!.replace('--region="$AWS_REGION"', "--region=${{ vars.AWS_REGION }}");
    expect(asExpression).not.toBe(publish.with!.args);
    const env = environmentOf(publish, (name) => `value-of-${name}`);
    // A quote ends the action's '...' in step assemble (line 141): the command substitution runs there.
    expect(replayDaggerForGithub(evaluateExpressions(asExpression, { "vars.AWS_REGION": "eu-west-1'$(touch pwned)'" }), env).created).toEqual(["pwned"]);
    // Without a quote the text survives assemble and step exec (line 177) runs it: command substitution, separators.
    expect(replayDaggerForGithub(evaluateExpressions(asExpression, { "vars.AWS_REGION": "eu-west-1$(touch pwned)" }), env).created).toEqual(["pwned"]);
    expect(replayDaggerForGithub(evaluateExpressions(asExpression, { "vars.AWS_REGION": "eu-west-1;touch pwned;:" }), env).created).toEqual(["pwned"]);
    // A value with a space becomes flags of its own (argument injection), even without any shell syntax.
    const split = replayDaggerForGithub(evaluateExpressions(asExpression, { "vars.AWS_REGION": "eu-west-1 --repository=other" }), env).argv;
    expect(split).toContain("--repository=other");
  });

  // The model's lines are the action's own: checked against a clone of dagger/dagger-for-github when one is given
  // (DAGGER_FOR_GITHUB_GIT_DIR=<its git directory>), since a fresh clone of this repository has none.
  it.skipIf(!process.env.DAGGER_FOR_GITHUB_GIT_DIR)(`models ${DAGGER_FOR_GITHUB.repository}@${DAGGER_FOR_GITHUB.tag} action.yml lines 141 and 171-177 verbatim`, () => {
    const lines = pinnedActionYml(process.env.DAGGER_FOR_GITHUB_GIT_DIR!).split("\n").map((line) => line.trim());
    expect(lines[140]).toBe(ASSEMBLE_LINE);
    expect(lines.slice(170, 177).join("\n")).toBe(EXEC_LINES);
  });
});
