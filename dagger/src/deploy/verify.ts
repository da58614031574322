/**
 * The proof that a release serves: the new tasks healthy in the load balancer's target group, and `GET /version`
 * through the load balancer answering the released commit several times in a row.
 */
import { DeployError } from "./errors.js";

/** A target as the target group reports it. */
export interface TargetState {
  ip: string;
  state: string;
  reason?: string;
}

/** What the checks need; `fetch` is the global one outside tests. */
export interface VerifyRuntime {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
  fetch: typeof fetch;
  pollMs: number;
}

/**
 * Waits until every address in `addresses` (the new tasks) is `healthy` in the target groups, until `deadline`.
 * `health` reads the target groups' current state.
 */
export async function waitForHealthyTargets(runtime: VerifyRuntime, addresses: string[], health: () => Promise<TargetState[]>, deadline: number): Promise<void> {
  if (addresses.length === 0) throw new DeployError("not-serving", "no running task of the new revision: nothing serves the release");
  for (;;) {
    const targets = await health();
    const missing = addresses.filter((ip) => !targets.some((target) => target.ip === ip && target.state === "healthy"));
    if (missing.length === 0) {
      runtime.log(`target group: the ${addresses.length} new task(s) are healthy (${addresses.join(", ")})`);
      return;
    }
    if (runtime.now() >= deadline) {
      const states = missing.map((ip) => {
        const target = targets.find((candidate) => candidate.ip === ip);
        return `${ip}: ${target ? `${target.state}${target.reason ? ` (${target.reason})` : ""}` : "not registered"}`;
      });
      throw new DeployError("not-serving", `the new tasks are not healthy in the target group: ${states.join("; ")}`);
    }
    await runtime.sleep(runtime.pollMs);
  }
}

/**
 * Asks `GET <url>/version` until `consecutive` answers in a row report `commit`, until `deadline`. An answer with
 * another commit (an old task still draining, a cached response) starts the count again.
 */
export async function waitForVersion(runtime: VerifyRuntime, url: string, commit: string, consecutive: number, deadline: number): Promise<void> {
  let streak = 0;
  let last: string;
  for (;;) {
    try {
      const response = await runtime.fetch(`${url}/version`, { signal: AbortSignal.timeout(5_000), headers: { "cache-control": "no-cache" } });
      const body = (await response.json().catch(() => ({}))) as { commit?: unknown };
      last = response.ok ? `commit ${JSON.stringify(body.commit)}` : `HTTP ${response.status}`;
      streak = response.ok && body.commit === commit ? streak + 1 : 0;
    } catch (error) {
      last = `no answer (${error instanceof Error ? error.message : String(error)})`;
      streak = 0;
    }
    if (streak >= consecutive) {
      runtime.log(`GET ${url}/version: ${consecutive} answers in a row report ${commit}`);
      return;
    }
    if (runtime.now() >= deadline) {
      throw new DeployError("not-serving", `GET ${url}/version did not report ${commit} ${consecutive} times in a row before the deadline; last: ${last}`);
    }
    await runtime.sleep(streak > 0 ? 1_000 : runtime.pollMs);
  }
}
