/**
 * Machine instructions per request, counted by valgrind's callgrind: a figure that does not depend on how loaded the
 * machine is (wall-clock throughput on our shared 2-core machines varies by 40% between runs). Each server bundle runs
 * under `valgrind --tool=callgrind` on each Node. First its start is counted: the instructions from exec to the first
 * 200 on `/healthz` (the cold start as a count of work; `npm run bench` times it). Then instrumentation is switched
 * off (`callgrind_control --instr=off`); `--warmup` requests of every route, then per route `--warmup` more, let V8 tier
 * its code up, then instrumentation is switched on and the counters zeroed (`callgrind_control --instr=on`, `-z`),
 * `--requests` requests are sent on `--connections` keep-alive connections by a raw client outside valgrind (far faster
 * than the server under valgrind, so every connection always has a request waiting), and the counters are read
 * (`callgrind_control -e`). Every thread of the process is counted (V8's compiler and GC threads, libuv's pool):
 * instructions per request = total / N. A GC cycle or a function's optimization falling inside a window or not moves
 * one window's figure by tens of percent (docs/performance.md), so each route is counted in `--windows` windows one
 * after the other and both the median (the typical window) and the mean (rare costly events in proportion) are
 * reported, with the lowest and highest window.
 *
 * Usage: npm run bench:instructions [-- --requests 3000 --warmup 3000 --connections 32 --windows 5] [--nodes both|machine|image]
 *          [--target name=entry.ts ...] [--env name=VAR=value ...] [--node-flags name=--flag,--flag ...] [--only name ...]
 * Default targets: the service (production config, access log on, started with SERVICE_NODE_FLAGS as the image starts
 * it), the service with LOG_LEVEL=warn, the bare Hono app and the node:http floor (Node's defaults). `--target` adds a
 * bundle of another entry (another checkout's src/main.ts, say), run with the service's timeouts and no flags. Prints
 * a table of the start and the instructions per request, with the ratios to bare Hono, then the figures as JSON;
 * writes nothing.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { SERVICE_NODE_FLAGS } from "../dagger/src/versions.js";
import { positiveInteger } from "./args.js";
import { freePort } from "./free-port.js";
import { bundle } from "../scripts/bundle.js";
import { rawRequest, readAnswers } from "./raw-http.js";
import { BENCH_ROUTES, type Route } from "./report.js";
import { median } from "./stats.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "3000" },
    warmup: { type: "string", default: "3000" },
    connections: { type: "string", default: "32" },
    windows: { type: "string", default: "5" },
    target: { type: "string", multiple: true, default: [] },
    env: { type: "string", multiple: true, default: [] },
    "node-flags": { type: "string", multiple: true, default: [] },
    only: { type: "string", multiple: true },
    nodes: { type: "string", default: "both" },
  },
});

const REQUESTS = positiveInteger("requests", args.requests);
const WARMUP = positiveInteger("warmup", args.warmup);
const CONNECTIONS = positiveInteger("connections", args.connections);
const WINDOWS = positiveInteger("windows", args.windows);
if (!["both", "machine", "image"].includes(args.nodes)) throw new Error(`--nodes ${JSON.stringify(args.nodes)} is invalid: expected both, machine or image`);

/** `name=rest` pairs of a repeated flag, as a map (one clear error for a value without `=`). */
function pairs(flag: string, values: string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const value of values) {
    const at = value.indexOf("=");
    if (at < 1) throw new Error(`--${flag} ${JSON.stringify(value)} is invalid: expected name=value`);
    map.set(value.slice(0, at), [...(map.get(value.slice(0, at)) ?? []), value.slice(at + 1)]);
  }
  return map;
}

/** A server to count: the bundle of `entry`, with extra environment and Node flags. */
interface Target {
  name: string;
  entry: string;
  env: Record<string, string>;
  nodeFlags: string[];
}

/**
 * The service's timeouts at their maximum: under valgrind a request can wait seconds for its turn (instrumentation
 * switched on retranslates all code), which the production headers timeout would answer with a 408. Only timer values
 * change, not the work per request.
 */
const SLOW_SERVER_ENV = { HEADERS_TIMEOUT_MS: "120000", REQUEST_TIMEOUT_MS: "600000", KEEP_ALIVE_TIMEOUT_MS: "600000" };

function targets(): Target[] {
  const list: Target[] = [
    { name: "service", entry: "src/main.ts", env: { ...SLOW_SERVER_ENV }, nodeFlags: [...SERVICE_NODE_FLAGS] },
    { name: "service, LOG_LEVEL=warn", entry: "src/main.ts", env: { ...SLOW_SERVER_ENV, LOG_LEVEL: "warn" }, nodeFlags: [...SERVICE_NODE_FLAGS] },
    { name: "bare Hono", entry: "bench/bare-app.ts", env: {}, nodeFlags: [] },
    { name: "node:http", entry: "bench/node-http-app.ts", env: {}, nodeFlags: [] },
  ];
  for (const [name, [entry]] of pairs("target", args.target)) list.push({ name, entry: entry!, env: { ...SLOW_SERVER_ENV }, nodeFlags: [] });
  for (const [name, values] of pairs("env", args.env)) {
    const target = list.find((one) => one.name === name);
    if (!target) throw new Error(`--env ${name}=...: no target named ${JSON.stringify(name)}`);
    for (const value of values) {
      const at = value.indexOf("=");
      if (at < 1) throw new Error(`--env ${name}=${value} is invalid: expected name=VAR=value`);
      target.env[value.slice(0, at)] = value.slice(at + 1);
    }
  }
  for (const [name, values] of pairs("node-flags", args["node-flags"])) {
    const target = list.find((one) => one.name === name);
    if (!target) throw new Error(`--node-flags ${name}=...: no target named ${JSON.stringify(name)}`);
    target.nodeFlags.push(...values.flatMap((value) => value.split(",")));
  }
  const only = args.only;
  const unknown = only?.filter((name) => !list.some((one) => one.name === name));
  if (unknown?.length) throw new Error(`--only ${JSON.stringify(unknown[0])}: no target of that name (targets: ${list.map((one) => one.name).join("; ")})`);
  return only?.length ? list.filter((one) => only.includes(one.name)) : list;
}

/**
 * Resolves once `port` answers 200 to `GET /healthz` (a fresh connection every 50 ms); rejects on any other answer, and
 * when `child` exits first. The probes refused before the server listens never reach it, so the instructions counted up to here are the
 * server's start.
 */
async function waitForHealthy(port: number, child: ChildProcess): Promise<void> {
  const route = BENCH_ROUTES.find((one) => one.path === "/healthz")!;
  for (;;) {
    const healthy = await new Promise<boolean | Error>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      readAnswers(socket, route, () => resolve(socket.destroy() !== undefined), resolve);
      socket.once("connect", () => socket.write(rawRequest(route)));
      socket.once("error", () => resolve(false));
      socket.once("close", () => resolve(false));
    });
    if (healthy instanceof Error) throw healthy;
    if (healthy) return;
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before answering`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `amount` requests of `route` over `CONNECTIONS` keep-alive connections, each sending its next request once the answer
 * to the last one is complete (its Content-Length read). A connection the server closes or resets (Node's 5 s
 * keep-alive timeout can fire on a server that valgrind stalls while it retranslates) is replaced and its unanswered
 * request sent again, up to 100 times; any status other than 200 rejects.
 */
async function send(port: number, route: Route, amount: number): Promise<void> {
  const request = rawRequest(route);
  let left = amount;
  let replaced = 0;
  const connection = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      let waiting = false;
      const next = () => {
        if (left === 0) return void socket.end(resolve);
        left -= 1;
        waiting = true;
        socket.write(request);
      };
      let failed = false;
      const answer = (): void => {
        waiting = false;
        next();
      };
      readAnswers(socket, route, answer, (error) => {
        failed = true;
        reject(error);
      });
      socket.once("connect", next);
      socket.once("error", () => undefined);
      socket.once("close", () => {
        if (failed) return;
        if (waiting) left += 1;
        if (left === 0) return resolve();
        if (++replaced > 100) return reject(new Error(`${route.name}: the server closed more than 100 connections`));
        connection().then(resolve, reject);
      });
    });
  await Promise.all(Array.from({ length: Math.min(CONNECTIONS, amount) }, connection));
}

/** Runs `callgrind_control OPTION PID` and returns its output; throws unless it reached the process (it exits 0 either way). */
async function control(option: "-z" | "-e" | "--instr=on" | "--instr=off", pid: number): Promise<string> {
  // valgrind names its vgdb pipes after the HOST variable, which the servers get as their listen address: the same here.
  const { stdout } = await run("callgrind_control", [option, String(pid)], { env: { ...process.env, HOST: "127.0.0.1" } });
  if (!stdout.includes(option === "-e" ? "Totals:" : "OK.")) throw new Error(`callgrind_control ${option} ${pid} did not reach the process: ${stdout.trim()}`);
  return stdout;
}

/** Instructions counted since the last zeroing, every thread summed (`callgrind_control -e` prints a "Th N count" line per thread). */
async function counted(pid: number): Promise<number> {
  const text = await control("-e", pid);
  const lines = [...text.matchAll(/^\s*Th\s+\d+\s+([\d,]+)\s*$/gm)];
  if (lines.length === 0) throw new Error(`callgrind_control -e ${pid} printed no per-thread totals: ${JSON.stringify(text)}`);
  return lines.reduce((sum, line) => sum + Number(line[1]!.replaceAll(",", "")), 0);
}

/**
 * Instructions per request of one route: the median of the windows (the typical window), the mean over all of them
 * (which carries the rare costly events, a mark-compact say, in proportion), the lowest and the highest.
 */
interface Counted {
  median: number;
  mean: number;
  low: number;
  high: number;
}

/** Instructions per request on every route for one target on one Node. */
async function countTarget(node: string, file: string, target: Target, dir: string): Promise<{ start: number; perRequest: Record<string, Counted> }> {
  const port = await freePort();
  const child = spawn("valgrind", ["--tool=callgrind", "--vgdb=yes", `--callgrind-out-file=${path.join(dir, "callgrind.out.%p")}`, node, ...target.nodeFlags, file], {
    env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", ...target.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const perRequest: Record<string, Counted> = {};
  try {
    await waitForHealthy(port, child);
    const start = await counted(child.pid!);
    await control("--instr=off", child.pid!);
    console.error(`  ${target.name}: ${start} instructions from exec to the first 200 on /healthz`);
    // Every route first, so that code shared by the routes is not still tiering up in the first route's windows.
    for (const route of BENCH_ROUTES) await send(port, route, WARMUP);
    for (const route of BENCH_ROUTES) {
      await send(port, route, WARMUP);
      await control("--instr=on", child.pid!);
      const windows: number[] = [];
      for (let window = 0; window < WINDOWS; window++) {
        await control("-z", child.pid!);
        await send(port, route, REQUESTS);
        windows.push(Math.round((await counted(child.pid!)) / REQUESTS));
      }
      await control("--instr=off", child.pid!);
      const mean = windows.reduce((sum, value) => sum + value, 0) / windows.length;
      perRequest[route.name] = { median: Math.round(median(windows)), mean: Math.round(mean), low: Math.min(...windows), high: Math.max(...windows) };
      console.error(`  ${target.name}, ${route.name}: ${windows.join(", ")} instructions per request (median ${perRequest[route.name]!.median})`);
    }
    return { start, perRequest };
  } catch (error) {
    throw new Error(`${target.name} on ${node}: ${(error as Error).message}\n${stderr}`, { cause: error });
  } finally {
    child.kill("SIGKILL");
  }
}

async function main(): Promise<void> {
  if (spawnSync("valgrind", ["--version"]).error) throw new Error("valgrind is not installed (apt-get install valgrind)");
  const dir = mkdtempSync(path.join(os.tmpdir(), "instructions-"));
  try {
    const list = targets();
    const files = new Map<string, string>();
    for (const entry of new Set(list.map((target) => target.entry))) {
      const file = path.join(dir, `${files.size}.mjs`);
      await bundle({ entryPoint: path.resolve(ROOT, entry), outfile: file });
      files.set(entry, file);
    }
    const image = spawnSync(path.join(ROOT, "scripts/image-node.sh"), ["node", "-p", "process.execPath"], { encoding: "utf8" });
    if (args.nodes === "image" && image.status !== 0) throw new Error(`--nodes image: the image's Node is not available here: ${image.stderr.trim()}`);
    const nodes = [...(args.nodes === "image" ? [] : [process.execPath]), ...(image.status === 0 && args.nodes !== "machine" ? [image.stdout.trim()] : [])];
    const results: { node: string; target: string; start: number; perRequest: Record<string, Counted> }[] = [];
    for (const node of nodes) {
      const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
      console.error(`Node.js ${version}: ${WARMUP} warm-up requests per route, then ${WINDOWS} windows of ${REQUESTS} counted requests, ${CONNECTIONS} connections`);
      for (const target of list) results.push({ node: version, target: target.name, ...(await countTarget(node, files.get(target.entry)!, target, dir)) });
    }
    const lines = [`| Node | target | start | ${BENCH_ROUTES.map((route) => route.name).join(" | ")} |`, `|---|---|---:|${BENCH_ROUTES.map(() => "---:").join("|")}|`];
    for (const result of results) {
      const bare = results.find((one) => one.node === result.node && one.target === "bare Hono");
      const floor = results.find((one) => one.node === result.node && one.target === "node:http");
      const start = `${(result.start / 1e6).toFixed(1)} M${floor && result !== floor ? ` (+${((result.start - floor.start) / 1e6).toFixed(1)} M)` : ""}`;
      const cells = BENCH_ROUTES.map((route) => {
        const own = result.perRequest[route.name]!;
        const base = bare?.perRequest[route.name]?.median;
        const spread = `${own.median} / ${own.mean} [${own.low}-${own.high}]`;
        return base && result.target !== "bare Hono" ? `${spread} (${(base / own.median).toFixed(2)}x)` : spread;
      });
      lines.push(`| ${result.node} | ${result.target} | ${start} | ${cells.join(" | ")} |`);
    }
    console.log(`Instructions (callgrind). start: from exec to the first 200 on /healthz (in brackets: more than node:http). Per request: median / mean of ${WINDOWS} windows of ${REQUESTS} requests [lowest-highest] (bare Hono's median / this one's: the throughput ratio on a CPU-bound server)\n${lines.join("\n")}`);
    console.log(JSON.stringify(results));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
