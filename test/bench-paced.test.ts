// The paced latency client of `npm run bench` (bench/paced.ts) against a node:http server in a worker thread (so that
// the server's stall does not stall the client): it keeps its schedule, it charges a stalled server for every request
// that fell due during the stall (no coordinated omission), not only for the few in flight, and it refuses bad options
// and broken answers. Margins are wide (a 300 ms stall against thresholds of 150 ms and 100 ms): what is checked is how
// the client counts, not how fast this machine is.
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { pacedLatency, requestsPerConnection } from "../bench/paced.js";
import { answerReader, rawRequest } from "../bench/raw-http.js";
import type { Route } from "../bench/report.js";

const ROUTE: Route = { name: "GET /healthz", method: "GET", path: "/healthz" };

/**
 * The server: answers 200 with a Content-Length, except that it blocks its thread for `stallMs` before its
 * `stallAt`-th answer, answers `status` instead of 200 when given, and closes the connection after `closeAfter` answers.
 * Posts its port, and on "arrivals" the times (ms since its start) each request arrived at.
 */
const SERVER = `
const http = require("node:http");
const { parentPort, workerData: { stallAt, stallMs, status, closeAfter } } = require("node:worker_threads");
const arrivals = [];
const server = http.createServer((request, response) => {
  arrivals.push(performance.now());
  if (arrivals.length === stallAt) { const until = performance.now() + stallMs; while (performance.now() < until); }
  if (arrivals.length === closeAfter) return request.socket.destroy();
  response.writeHead(status, { "Content-Type": "application/json", "Content-Length": "15" }).end('{"status":"ok"}');
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", () => parentPort.postMessage({ arrivals }));
`;
let worker: Worker | undefined;

async function start(options: { stallAt?: number; stallMs?: number; status?: number; closeAfter?: number } = {}): Promise<number> {
  worker = new Worker(SERVER, { eval: true, workerData: { stallAt: 0, stallMs: 0, status: 200, closeAfter: 0, ...options } });
  const [{ port }] = (await once(worker, "message")) as [{ port: number }];
  return port;
}

async function arrivals(): Promise<number[]> {
  worker!.postMessage("arrivals");
  const [message] = (await once(worker!, "message")) as [{ arrivals: number[] }];
  return message.arrivals;
}

afterEach(async () => {
  await worker?.terminate();
  worker = undefined;
});

describe("paced latency (bench/paced.ts)", () => {
  it("keeps its schedule: rate x seconds requests, spread over the run, none in a burst", async () => {
    const port = await start();
    const result = await pacedLatency(port, ROUTE, { connections: 4, rate: 200, seconds: 1 });
    expect(result.requests).toBe(200);
    const times = await arrivals();
    expect(times).toHaveLength(200);
    // A client sending as fast as it could would be done in a few ms; paced, the requests span about 1 s, and no 100 ms
    // holds more than twice its share (20).
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(900);
    const perTenth = Array.from({ length: 10 }, (_, tenth) => times.filter((time) => time - times[0]! >= tenth * 100 && time - times[0]! < (tenth + 1) * 100).length);
    expect(Math.max(...perTenth)).toBeLessThanOrEqual(40);
    expect(result.achievedRate).toBeGreaterThan(180);
    expect(result.achievedRate).toBeLessThan(220);
  });

  it("charges a stall to every request that fell due during it, from when it was due", async () => {
    // 2 connections at 500 req/s for 1 s: 500 requests, about 150 of them due during the 300 ms stall. Timed from when
    // they could be sent, only the 2 in flight (0.4%) would show it and p99 would stay small.
    const port = await start({ stallAt: 100, stallMs: 300 });
    const result = await pacedLatency(port, ROUTE, { connections: 2, rate: 500, seconds: 1 });
    expect(result.requests).toBe(500);
    expect(result.maxMs).toBeGreaterThanOrEqual(290);
    expect(result.p99Ms).toBeGreaterThanOrEqual(150);
    expect(result.p50Ms).toBeLessThan(100);
  });

  it("refuses, before connecting, a run that gives a connection no request or splits unevenly", async () => {
    expect(() => requestsPerConnection({ connections: 50, rate: 10, seconds: 1 })).toThrow(
      "a paced run of 10 req/s for 1 s over 50 connections is invalid: rate x seconds (10) must be a whole multiple of the connections",
    );
    expect(() => requestsPerConnection({ connections: 50, rate: 5010, seconds: 1 })).toThrow(/rate x seconds \(5010\) must be a whole multiple/);
    expect(requestsPerConnection({ connections: 50, rate: 5000, seconds: 5 })).toBe(500);
    await expect(pacedLatency(1, ROUTE, { connections: 3, rate: 10, seconds: 1 })).rejects.toThrow(/is invalid/);
  });

  it("rejects, naming the route, an answer that is not 200", async () => {
    const port = await start({ status: 503 });
    await expect(pacedLatency(port, ROUTE, { connections: 1, rate: 10, seconds: 1 })).rejects.toThrow(/^GET \/healthz: unexpected answer "HTTP\/1\.1 503 /);
  });

  it("rejects a connection the server closes before its last answer", async () => {
    const port = await start({ closeAfter: 5 });
    await expect(pacedLatency(port, ROUTE, { connections: 1, rate: 10, seconds: 1 })).rejects.toThrow("GET /healthz: the server closed a connection after 4 of 10 answers");
  });
});

describe("raw HTTP parts (bench/raw-http.ts)", () => {
  it("writes the POST route with its JSON body and length, keep-alive", () => {
    expect(rawRequest({ name: "POST /api/greeting", method: "POST", path: "/api/greeting" })).toBe(
      'POST /api/greeting HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{"name":"Ada"}',
    );
  });

  it("reads answers split anywhere and several in one chunk", () => {
    let answers = 0;
    const read = answerReader(ROUTE, () => (answers += 1));
    const one = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    read(one.slice(0, 10));
    read(one.slice(10, 38));
    expect(answers).toBe(0);
    read(one.slice(38) + one + one.slice(0, 5));
    expect(answers).toBe(2);
    read(one.slice(5));
    expect(answers).toBe(3);
  });

  it("reads chunked answers (node:http's when the length is not set) to their last chunk", () => {
    let answers = 0;
    const read = answerReader(ROUTE, () => (answers += 1));
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n{"status":"ok"}\r\n3\r\nabc\r\n0\r\n\r\n';
    read(chunked.slice(0, chunked.length - 3));
    expect(answers).toBe(0);
    read(chunked.slice(-3) + chunked);
    expect(answers).toBe(2);
  });

  it("refuses an answer that is not 200 or has a body of neither kind", () => {
    expect(() => answerReader(ROUTE, () => undefined)("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")).toThrow('GET /healthz: unexpected answer "HTTP/1.1 200 OK');
    expect(() => answerReader(ROUTE, () => undefined)("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")).toThrow("unexpected answer");
  });
});
