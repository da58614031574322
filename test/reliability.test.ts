// Reliability of the real bundled server under load, shutdown and hostile input. Bounded in count and time; loopback only.
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rssMiB } from "../scripts/rss.js";
import { buildBundle, httpRequest, spawnService, type ServiceProcess } from "./helpers/process.js";

let folder: string;
let bundle: string;
const started: ServiceProcess[] = [];

beforeAll(() => {
  folder = mkdtempSync(path.join(tmpdir(), "reliability-"));
  bundle = path.join(folder, "server.mjs");
  buildBundle(bundle);
}, 60_000);
afterAll(() => {
  for (const service of started) if (service.child.exitCode === null) service.child.kill("SIGKILL");
  rmSync(folder, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}, args?: string[]): Promise<ServiceProcess> {
  const service = await spawnService(args ?? [bundle], env);
  started.push(service);
  return service;
}

describe("drain under load", () => {
  it("answers every request it accepted completely, refuses new connections, exits 0 within the grace period", async () => {
    const service = await start({ SHUTDOWN_GRACE_MS: "10000" });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 40 });
    const ok = new Map<string, { status: number; body: string; connection?: string }>();
    const failed = new Map<string, string>();
    let signalled = false;
    let afterSignal = 0;

    const client = async (index: number) => {
      for (let n = 0; n < 10_000; n++) {
        const id = `c${index}-${n}`;
        try {
          const res = await httpRequest(service.port, "/api/greeting?name=Ada", { agent, headers: { "X-Request-Id": id } });
          ok.set(id, { status: res.status, body: res.body, connection: res.headers.connection });
          if (signalled) afterSignal++;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          failed.set(id, code);
          if (code === "ECONNREFUSED") return;
        }
      }
    };
    const clients = Array.from({ length: 40 }, (_, i) => client(i));
    await new Promise((resolve) => setTimeout(resolve, 400));
    const signalledAt = Date.now();
    signalled = true;
    service.child.kill("SIGTERM");
    await Promise.all(clients);
    const exitCode = await service.exitCode;
    const drainMs = Date.now() - signalledAt;
    agent.destroy();

    const accepted = new Set(service.logs.filter((line) => line.msg === "request").map((line) => String(line.requestId)));
    const summary = { accepted: accepted.size, answered: ok.size, failed: failed.size, answeredAfterSignal: afterSignal, drainMs, failures: [...new Set(failed.values())] };
    console.log(`drain under load: ${JSON.stringify(summary)}`);

    expect(exitCode).toBe(0);
    expect(drainMs).toBeLessThan(10_000);
    expect(accepted.size).toBeGreaterThan(200);
    for (const id of accepted) {
      expect(ok.get(id), id).toEqual({ status: 200, body: '{"greeting":"Hello, Ada!"}', connection: expect.any(String) as string });
    }
    expect([...ok.keys()].filter((id) => !accepted.has(id))).toEqual([]);
    for (const [id, code] of failed) {
      expect(accepted.has(id), `${id} was accepted but failed with ${code}`).toBe(false);
      expect(["ECONNREFUSED", "ECONNRESET", "EPIPE", "socket hang up"]).toContain(code);
    }
    expect([...failed.values()].filter((code) => code === "ECONNREFUSED")).toHaveLength(40);
    expect(service.logs.some((line) => line.msg === "all connections closed")).toBe(true);
  }, 60_000);
});

/** A tiny seeded PRNG (mulberry32), so that a failing sweep can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sends `payload` on a new connection (optionally dribbling it), returns the status code answered, or 0 if none within 3 s. */
function exchange(port: number, payload: Buffer, dribbleMs = 0): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (received.includes("\r\n")) socket.end();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0));
    });
    if (dribbleMs === 0) {
      socket.write(payload);
      return;
    }
    let offset = 0;
    const next = () => {
      if (offset >= payload.length || socket.destroyed) return;
      socket.write(payload.subarray(offset, offset + 16));
      offset += 16;
      setTimeout(next, dribbleMs);
    };
    next();
  });
}

/** One generated hostile or odd request: the bytes to send and whether the server can be expected to answer. */
function generateRequest(random: () => number, index: number): { payload: Buffer; dribbleMs: number; truncated: boolean } {
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const method = pick(["GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FROB", "get", "G E T"]);
  const pathKind = pick(["route", "encoded", "long", "bytes", "traversal", "query"]);
  const paths: Record<string, () => string> = {
    route: () => pick(["/", "/healthz", "/readyz", "/version", "/api/greeting", "/api/greeting?name=Ada"]),
    encoded: () => `/${pick(["%00", "%ff%fe", "%C0%AF", "%E2%80%AE", "%%", "%zz", "%2e%2e%2f"])}${pick(["", "/api", "?name=%ff"])}`,
    long: () => `/${"a".repeat(Math.floor(random() * 20_000))}`,
    bytes: () => `/${bytes(1 + Math.floor(random() * 40)).toString("latin1").replace(/[\r\n ]/g, "x")}`,
    traversal: () => pick(["/../../etc/passwd", "//healthz", "/healthz/", "/./healthz", "/api//greeting"]),
    query: () => `/api/greeting?${pick(["name=", "name=a&name=b", `name=${"x".repeat(500)}`, "name[]=1", "name=%00", "=&&=="])}`,
  };
  const headers = [`Host: x`, `Connection: close`, `X-Request-Id: ${pick(["ok-1", "<bad>", "x".repeat(300), "é", ""])}`];
  if (random() < 0.1) headers.push(`X-Big: ${"h".repeat(Math.floor(random() * 20_000))}`);
  const bodyKind = method === "POST" || method === "PUT" || method === "PATCH" ? pick(["json", "malformed", "oversized", "binary", "truncated", "chunked-bad"]) : "none";
  let body = Buffer.alloc(0);
  let truncated = false;
  if (bodyKind === "json") body = Buffer.from('{"name":"Ada"}');
  if (bodyKind === "malformed") body = Buffer.from(pick(['{"name":', "[1,2", "{'a':1}", "null", '"str"', "{}"]));
  if (bodyKind === "oversized") body = Buffer.from(JSON.stringify({ name: "a".repeat(5000) }));
  if (bodyKind === "binary") body = bytes(200);
  headers.push(`Content-Type: ${pick(["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded"])}`);
  if (bodyKind === "truncated") {
    body = Buffer.from('{"name":"Ad');
    headers.push("Content-Length: 100");
    truncated = true;
  } else if (bodyKind === "chunked-bad") {
    headers.push("Transfer-Encoding: chunked");
    body = Buffer.from("zz\r\nnot a chunk\r\n");
  } else if (bodyKind !== "none") {
    headers.push(`Content-Length: ${body.length}`);
  }
  const head = Buffer.from(`${method} ${paths[pathKind]!()} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n`, "latin1");
  return { payload: Buffer.concat([head, body]), dribbleMs: index % 500 === 0 ? 20 : 0, truncated };
}

describe("bad input sweep", () => {
  it("answers thousands of odd requests with documented statuses only, never crashes, stays healthy, returns near idle memory", async () => {
    const service = await start({ BODY_LIMIT_BYTES: "4096" }, ["--expose-gc", "--require", "./test/fixtures/heap-probe.cjs", bundle]);
    /** Heap used after a full garbage collection in the service, in MiB (see fixtures/heap-probe.cjs). */
    const heapAfterGc = async (): Promise<number> => {
      const seen = service.stderr().split("\n").length;
      service.child.kill("SIGUSR2");
      for (let i = 0; i < 100 && service.stderr().split("\n").length === seen; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const line = service.stderr().trim().split("\n").pop()!;
      return (JSON.parse(line) as { heapProbe: { heapUsed: number } }).heapProbe.heapUsed / 2 ** 20;
    };
    const idle = rssMiB(service.child.pid!);
    const idleHeap = await heapAfterGc();
    const random = prng(20261126);
    const DOCUMENTED = new Set([200, 204, 400, 404, 405, 408, 413, 415, 431, 503]);
    const statuses = new Map<number, number>();
    const PER_ROUND = 2000;
    let unanswered = 0;
    /** One round of PER_ROUND generated requests, 50 at a time; checks /healthz every 250 requests. */
    const sweep = async () => {
      let next = 0;
      const worker = async () => {
        while (next < PER_ROUND) {
          const index = next++;
          const request = generateRequest(random, index);
          const status = await exchange(service.port, request.payload, request.dribbleMs);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 0 && !request.truncated) unanswered++;
          if (index % 250 === 0) expect((await httpRequest(service.port, "/healthz")).status).toBe(200);
        }
      };
      await Promise.all(Array.from({ length: 50 }, worker));
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { rss: rssMiB(service.child.pid!), heap: await heapAfterGc() };
    };
    const afterFirst = await sweep();
    const afterSecond = await sweep();
    console.log(
      `bad input sweep: ${2 * PER_ROUND} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `RSS idle ${idle.toFixed(1)}, round 1 ${afterFirst.rss.toFixed(1)}, round 2 ${afterSecond.rss.toFixed(1)} MiB; ` +
        `heap after GC idle ${idleHeap.toFixed(1)}, round 1 ${afterFirst.heap.toFixed(1)}, round 2 ${afterSecond.heap.toFixed(1)} MiB`,
    );

    expect([...statuses.keys()].filter((status) => status !== 0 && !DOCUMENTED.has(status))).toEqual([]);
    expect(unanswered).toBe(0);
    expect(statuses.get(500)).toBeUndefined();
    expect(service.child.exitCode).toBeNull();
    expect((await httpRequest(service.port, "/healthz")).status).toBe(200);
    expect(service.logs.filter((line) => line.level === "error" || line.level === "fatal")).toEqual([]);
    expect(service.stderr().split("\n").filter((line) => line && !line.startsWith('{"heapProbe"'))).toEqual([]);
    // Live memory after a full GC comes back near idle, and a second identical round retains nothing more: no leak.
    expect(afterSecond.heap).toBeLessThan(idleHeap + 8);
    expect(afterSecond.heap - afterFirst.heap).toBeLessThan(2);
    expect(afterFirst.rss).toBeLessThan(idle + 100);
  }, 120_000);
});

describe("timeouts and body limits under concurrency", () => {
  it("slow handlers time out with 503 while fast requests and body-limit rejections are not held up", async () => {
    const service = await start({ REQUEST_TIMEOUT_MS: "1500", BODY_LIMIT_BYTES: "1024" }, ["--import", "tsx", "test/fixtures/slow-server.ts"]);
    const order: string[] = [];
    const track = async (kind: string, request: Promise<{ status: number; body: string }>) => {
      const res = await request;
      order.push(`${kind}:${res.status}`);
      return res;
    };
    const slow = Array.from({ length: 20 }, () => track("slow", httpRequest(service.port, "/api/test/slow?ms=5000")));
    const big = JSON.stringify({ name: "a".repeat(4000) });
    const oversized = Array.from({ length: 20 }, () =>
      track("oversized", httpRequest(service.port, "/api/greeting", { method: "POST", headers: { "content-type": "application/json" }, body: big })),
    );
    const fast = Array.from({ length: 50 }, () => track("fast", httpRequest(service.port, "/api/greeting?name=Ada")));
    const [slowResults, oversizedResults, fastResults] = await Promise.all([Promise.all(slow), Promise.all(oversized), Promise.all(fast)]);

    expect(slowResults.map((res) => res.status)).toEqual(Array(20).fill(503));
    expect(slowResults.every((res) => res.body.includes('"code":"request_timeout"'))).toBe(true);
    expect(oversizedResults.map((res) => res.status)).toEqual(Array(20).fill(413));
    expect(fastResults.map((res) => res.status)).toEqual(Array(50).fill(200));
    const firstTimeout = order.indexOf("slow:503");
    expect(order.slice(firstTimeout).filter((entry) => !entry.startsWith("slow"))).toEqual([]);
    expect((await httpRequest(service.port, "/healthz")).status).toBe(200);
  }, 60_000);
});
