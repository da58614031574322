// Releases only go forward, tip side: ci.yml's publish job decides what to release when it runs, inside the publish-main
// group (main's tip, once the tip's own ci job passed). Its script is replayed in bash with a fake `gh` (real jq applies
// the script's own --jq filters to canned API answers), and GitHub's documented group semantics (one running, one
// pending; a newly queued job cancels the pending one, whatever cancel-in-progress says) are modelled to show that no
// order of CI completions loses the tip, where skipping a stale publish did.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./helpers/process.js";

interface Step { id?: string; run?: string; env?: Record<string, string> }
const ci = parse(readFileSync(path.join(ROOT, ".github/workflows/ci.yml"), "utf8")) as { jobs: Record<string, { name: string; steps: Step[] }> };
const tipStep = ci.jobs.publish!.steps.find((step) => step.id === "tip")!;

const REPO = "acme/shop";
const SELF = "a".repeat(40);
const TIP = "b".repeat(40);
const CI_JOB = ci.jobs.ci!.name;
const refPath = `repos/${REPO}/git/ref/heads/main`;
const runsPath = (sha: string) => `repos/${REPO}/actions/workflows/ci.yml/runs?head_sha=${sha}&event=push&branch=main&per_page=100`;
const jobsPath = (run: number) => `repos/${REPO}/actions/runs/${run}/jobs`;
const job = (name: string, conclusion: string | null) => ({ name, status: conclusion === null ? "in_progress" : "completed", conclusion });

const FAKE_GH = `#!/usr/bin/env bash
# gh api PATH --jq EXPR: the canned answer for PATH, through jq; no answer is an API error.
set -euo pipefail
[ "$1" = api ] && [ "$3" = --jq ] && [ "$#" -eq 4 ] || { echo "fake gh: unexpected call: $*" >&2; exit 2; }
printf '%s\\n' "$2" >> "$FAKE_GH_DIR/calls"
file="$FAKE_GH_DIR/$(printf '%s' "$2" | tr -c 'A-Za-z0-9' '_').json"
[ -f "$file" ] || { echo "gh: Not Found (HTTP 404)" >&2; exit 1; }
jq -r "$4" "$file"
`;

/** Runs the tip step's script as the runner would (bash -e, the step's env), against the canned `answers`. */
function replayTip(answers: Record<string, unknown>, sha = SELF) {
  const dir = mkdtempSync(path.join(tmpdir(), "publish-tip-"));
  try {
    writeFileSync(path.join(dir, "gh"), FAKE_GH);
    chmodSync(path.join(dir, "gh"), 0o755);
    writeFileSync(path.join(dir, "calls"), "");
    for (const [api, answer] of Object.entries(answers)) writeFileSync(path.join(dir, `${api.replace(/[^A-Za-z0-9]/g, "_")}.json`), JSON.stringify(answer));
    for (const name of ["out", "summary"]) writeFileSync(path.join(dir, name), "");
    const ran = spawnSync("bash", ["--noprofile", "--norc", "-e", "-o", "pipefail", "-c", tipStep.run!], {
      env: {
        PATH: `${dir}:${process.env.PATH}`,
        FAKE_GH_DIR: dir,
        ...tipStep.env,
        GH_TOKEN: "t",
        GITHUB_REPOSITORY: REPO,
        GITHUB_SHA: sha,
        GITHUB_WORKFLOW_REF: `${REPO}/.github/workflows/ci.yml@refs/heads/main`,
        GITHUB_OUTPUT: path.join(dir, "out"),
        GITHUB_STEP_SUMMARY: path.join(dir, "summary"),
      },
      encoding: "utf8",
    });
    const read = (name: string) => readFileSync(path.join(dir, name), "utf8");
    return { status: ran.status, stderr: ran.stderr, output: read("out"), summary: read("summary"), calls: read("calls").split("\n").filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("publish's tip decision, replayed in bash", () => {
  it("names the ci job exactly as ci.yml does, and reads only through the API with the step's token", () => {
    expect(tipStep.env).toEqual({ GH_TOKEN: "${{ github.token }}", CI_JOB });
    expect(tipStep.run).toMatch(/^set -euo pipefail\n/);
  });

  it("releases its own commit when it is still the tip, without asking about runs", () => {
    const ran = replayTip({ [refPath]: { object: { sha: SELF } } });
    expect(ran).toMatchObject({ status: 0, output: `release=${SELF}\n`, summary: "", calls: [refPath] });
  });

  it("releases main's newer tip once the tip's ci job passed (the tip's own publish may have been cancelled)", () => {
    const ran = replayTip({
      [refPath]: { object: { sha: TIP } },
      [runsPath(TIP)]: { workflow_runs: [{ id: 7 }, { id: 8 }] },
      [jobsPath(7)]: { jobs: [job(CI_JOB, "failure")] },
      [jobsPath(8)]: { jobs: [job(CI_JOB, "success"), job("publish to ECR (dagger call publish)", null)] },
    });
    expect(ran).toMatchObject({ status: 0, output: `release=${TIP}\n`, calls: [refPath, runsPath(TIP), jobsPath(7), jobsPath(8)] });
    expect(ran.summary).toContain(`Releasing main's tip ${TIP} (its ci passed), not ${SELF}`);
  });

  it("leaves a tip whose ci has not finished (or has no run yet) to its own publish, releasing nothing", () => {
    for (const runs of [[{ id: 7 }], []]) {
      const ran = replayTip({ [refPath]: { object: { sha: TIP } }, [runsPath(TIP)]: { workflow_runs: runs }, [jobsPath(7)]: { jobs: [job(CI_JOB, null)] } });
      expect(ran).toMatchObject({ status: 0, output: "" });
      expect(ran.summary).toContain(`main's tip ${TIP} has not passed ci yet; its own publish releases it`);
    }
  });

  it("releases nothing when the tip's ci failed, even if other jobs of its run passed (only the ci job counts)", () => {
    const ran = replayTip({
      [refPath]: { object: { sha: TIP } },
      [runsPath(TIP)]: { workflow_runs: [{ id: 7 }] },
      [jobsPath(7)]: { jobs: [job("lint, test, build, smoke (dagger call ci) ", "success"), job(CI_JOB, "failure"), job("other", "success")] },
    });
    expect(ran).toMatchObject({ status: 0, output: "" });
    expect(ran.summary).toContain("did not pass ci; nothing older is released");
  });

  it("fails closed: an API error or an odd answer fails the step instead of passing for a skip or a release", () => {
    const broken: Record<string, Record<string, unknown>> = {
      "no tip": {},
      "tip not a commit id": { [refPath]: { object: { sha: "null" } } },
      "tip abbreviated": { [refPath]: { object: { sha: TIP.slice(0, 12) } } },
      "runs unreadable": { [refPath]: { object: { sha: TIP } } },
      "odd run id": { [refPath]: { object: { sha: TIP } }, [runsPath(TIP)]: { workflow_runs: [{ id: "7;touch x" }] } },
      "jobs unreadable": { [refPath]: { object: { sha: TIP } }, [runsPath(TIP)]: { workflow_runs: [{ id: 7 }] } },
    };
    for (const [what, answers] of Object.entries(broken)) {
      const ran = replayTip(answers);
      expect(ran.status, what).not.toBe(0);
      expect(ran.output, what).toBe("");
    }
  });
});

/**
 * GitHub's concurrency group, modelled from its documentation: at most one running and one pending job; a job that
 * queues cancels the pending one (cancel-in-progress: false spares only the running one). Commits 1..n are pushed in
 * order before any ci finishes; their ci jobs finish in `order`, each then queueing its publish; between two of those
 * the running publish may finish or not (every branch is explored). A publish decides when it starts, from the tip and
 * the ci results of that moment. Returns every final `latest` reachable.
 */
type Decide = (own: number, tip: number, ciPassed: Set<number>) => number | undefined;
function finalLatest(n: number, order: number[], decide: Decide): Set<number | undefined> {
  const results = new Set<number | undefined>();
  const start = (commit: number | undefined, passed: Set<number>) => (commit === undefined ? undefined : { commit, released: decide(commit, n, passed) });
  type Running = ReturnType<typeof start>;
  const explore = (i: number, running: Running, pending: number | undefined, latest: number | undefined, passed: Set<number>) => {
    if (running !== undefined) explore(i, start(pending, passed), undefined, running.released ?? latest, passed); // it finishes now
    if (i === order.length) {
      if (running === undefined) results.add(latest);
      return;
    }
    const commit = order[i]!;
    const nowPassed = new Set([...passed, commit]);
    // The commit's publish queues: it starts if the group is free, else it becomes the pending one, cancelling any other.
    if (running === undefined) explore(i + 1, start(commit, nowPassed), undefined, latest, nowPassed);
    else explore(i + 1, running, commit, latest, nowPassed);
  };
  explore(0, undefined, undefined, undefined, new Set());
  return results;
}

const permutations = (items: number[]): number[][] =>
  items.length <= 1 ? [items] : items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));

describe("publish-main under GitHub's concurrency semantics", () => {
  const releaseTip = (own: number, tip: number, passed: Set<number>) => (own === tip || passed.has(tip) ? tip : undefined);
  const skipIfStale = (own: number, tip: number) => (own === tip ? own : undefined);

  it("always ends with main's tip released, whatever order the commits' ci runs finish in", () => {
    for (const n of [1, 2, 3, 4]) {
      for (const order of permutations(Array.from({ length: n }, (_, k) => k + 1))) {
        expect([...finalLatest(n, order, releaseTip)], `${n} commits, ci finishing in order ${order.join(",")}`).toEqual([n]);
      }
    }
  });

  it("where a stale publish that skips itself (the old design) can lose the tip", () => {
    // Commit 1's publish running (stale: it skips), the tip 3's pending, then the older 2's ci finishes: 2's publish
    // cancels 3's and skips itself. Nothing is ever published: main's tip is lost.
    expect(finalLatest(3, [1, 3, 2], skipIfStale)).toContain(undefined);
    expect(finalLatest(3, [1, 2, 3], skipIfStale)).toEqual(new Set([3]));
  });
});
