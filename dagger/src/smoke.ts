/**
 * The smoke test: HTTP probes run against the built image started as a service, from a second container.
 * The probe script is plain JavaScript run by `node`, so the test suite runs the very same script against the
 * bundled service on the host.
 */
import { dag, type Container } from "@dagger.io/dagger";
import { runStage } from "./stages.js";
import { BUNDLE_PATH, NODE_IMAGE, SERVICE_NODE_FLAGS, SERVICE_PORT } from "./versions.js";

/** One HTTP probe: a GET of `path` must answer `status` with a JSON body holding each `json` field (dotted paths). */
export interface SmokeProbe {
  path: string;
  status: number;
  json: Record<string, string>;
}

/** What a healthy image of the service named `service` (package.json `name`) answers. */
export function smokeProbes(service: string): SmokeProbe[] {
  return [
    { path: "/healthz", status: 200, json: { status: "ok" } },
    { path: "/readyz", status: 200, json: { status: "ready" } },
    { path: "/", status: 200, json: { service } },
    { path: "/smoke/no-such-route", status: 404, json: { "error.code": "not_found" } },
  ];
}

/**
 * The probe script. Environment: SMOKE_BASE_URL (e.g. http://app:8080), SMOKE_PROBES (JSON of SmokeProbe[]).
 * Retries connection errors for up to 10 s, then prints one line per probe and exits 1 if any probe failed.
 */
export const SMOKE_SCRIPT = String.raw`
const base = process.env.SMOKE_BASE_URL;
const probes = JSON.parse(process.env.SMOKE_PROBES);
const field = (value, path) => path.split(".").reduce((v, key) => (v == null ? undefined : v[key]), value);

async function get(url) {
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      return await fetch(url, { signal: AbortSignal.timeout(5000) });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const failures = [];
for (const probe of probes) {
  const problems = [];
  try {
    const res = await get(base + probe.path);
    const text = await res.text();
    if (res.status !== probe.status) problems.push("status " + res.status + ", expected " + probe.status);
    if (!res.headers.get("x-request-id")) problems.push("no X-Request-Id header");
    let body;
    try { body = JSON.parse(text); } catch { problems.push("body is not JSON: " + text.slice(0, 200)); }
    for (const [path, want] of Object.entries(probe.json)) {
      if (body !== undefined && field(body, path) !== want) problems.push(path + " is " + JSON.stringify(field(body, path)) + ", expected " + JSON.stringify(want));
    }
  } catch (error) {
    problems.push("request failed: " + error.message);
  }
  console.log((problems.length ? "FAIL " : "ok   ") + "GET " + probe.path + (problems.length ? ": " + problems.join("; ") : ""));
  if (problems.length) failures.push(probe.path);
}
if (failures.length) {
  console.log("smoke test failed: " + failures.length + " of " + probes.length + " probes (" + failures.join(", ") + ")");
  process.exit(1);
}
console.log("smoke test passed: " + probes.length + " probes");
`;

/**
 * Smoke-tests `image` (a runtime image of the engine's own platform): checks that it runs as a non-root user, then
 * starts it as a service and runs the probes from a second container. Resolves with the report; rejects naming what failed.
 */
export async function smokeTest(image: Container, service: string): Promise<string> {
  const uid = (await (await runStage("smoke", image, ["node", "-e", "process.stdout.write(String(process.getuid()))"])).stdout()).trim();
  if (uid === "0" || uid === "") throw new Error(`smoke failed: the image runs as uid ${JSON.stringify(uid)}; it must run as a non-root user`);
  const probe = dag
    .container()
    .from(NODE_IMAGE)
    .withServiceBinding("app", image.asService({ useEntrypoint: true }))
    .withEnvVariable("SMOKE_BASE_URL", `http://app:${SERVICE_PORT}`)
    .withEnvVariable("SMOKE_PROBES", JSON.stringify(smokeProbes(service)))
    .withNewFile("/smoke.mjs", SMOKE_SCRIPT);
  const report = await (await runStage("smoke", probe, ["node", "/smoke.mjs"])).stdout();
  return `${report.trimEnd()}\nimage runs as uid ${uid}, entrypoint node ${[...SERVICE_NODE_FLAGS, BUNDLE_PATH].join(" ")}`;
}
