/**
 * In-process cost of the app layer, without sockets: microseconds per `app.fetch()` for a bare Hono app and for the
 * service's app (every middleware, access log to a discarding stream), alternating, best of 5 rounds each.
 * Usage: npx tsx bench/app-overhead.ts   (figures quoted in docs/performance.md)
 */
import { Hono } from "hono";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";

const bare = new Hono();
bare.get("/healthz", (c) => c.json({ status: "ok" }));
const service = createApp({
  config: loadConfig({}),
  logger: createLogger("info", { write: () => undefined }),
  buildInfo: { name: "bench", version: "bench", commit: "bench", buildTime: "bench" },
  isDraining: () => false,
});

/** Something that answers a fetch Request, as a Hono app does. */
type Fetcher = { fetch: (request: Request) => Response | Promise<Response> };

async function microsPerRequest(app: Fetcher, path: string, count: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await app.fetch(new Request(`http://localhost${path}`));
  return ((performance.now() - started) * 1000) / count;
}

const cases: [string, Fetcher, string][] = [
  ["bare Hono", bare, "/healthz"],
  ["service", service, "/healthz"],
  ["service", service, "/api/greeting?name=Ada"],
];
for (const [, app, path] of cases) await microsPerRequest(app, path, 30_000);
const best = new Map<string, number>();
for (let round = 0; round < 5; round++) {
  for (const [name, app, path] of cases) {
    const key = `${name} ${path}`;
    best.set(key, Math.min(best.get(key) ?? Infinity, await microsPerRequest(app, path, 50_000)));
  }
}
for (const [key, micros] of best) console.log(`${key.padEnd(36)} ${micros.toFixed(1)} µs/request`);
