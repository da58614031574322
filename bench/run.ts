/**
 * Benchmarks of the bundled service on loopback, every figure measured in one run beside its baselines so that ratios
 * hold on a noisy shared machine:
 * - throughput and latency on every route (GET /healthz, GET /, GET /api/greeting, POST /api/greeting) at 32 and 50
 *   connections, in alternating rounds of: a bare Hono app with the same routes (no middleware, same bundler settings),
 *   the service (production config, access log on), the service with LOG_LEVEL=warn (access log off), and a minimal
 *   node:http server with the same routes (the floor); optionally Flask + Gunicorn (2 workers) on /healthz;
 * - latency below saturation: bare Hono and the service, every route, 50 connections paced at `--rate` requests per
 *   second in all for `--paced` seconds (bench/paced.ts, in a child process; wrk's p99 is measured at saturation, where
 *   it is the queue that wrk's connections keep full), reported beside the targets;
 * - cold start: spawn to the first 200 on /healthz, the socket polled every 1 ms, paired rounds against node:http;
 * - memory: RSS idle, after 60 s of POST load, and its growth over a 60 s soak of mixed routes.
 * All of it on each Node the service runs on, one after the other: the machine's and the runtime image's
 * (NODE_IMAGE_TAG, installed by scripts/image-node.sh from tools/node; Linux x64 only, else the machine's alone).
 * The load generator is wrk when installed (`apt-get install wrk`), else autocannon. Prints the tables, checks the
 * targets, writes docs/benchmarks.{md,json} and the README's Performance summary.
 *
 * Usage: npm run bench [-- --duration 3] [--rounds 3] [--starts 15] [--post-load 60] [--soak 60] [--rate 5000] [--paced 5]
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import autocannon from "autocannon";
import { SERVICE_NODE_FLAGS } from "../dagger/src/versions.js";
import { positiveInteger } from "./args.js";
import { freePort } from "./free-port.js";
import { pacedLatencyInChild, requestsPerConnection } from "./paced.js";
import { POST_BODY } from "./raw-http.js";
import { BUNDLE_SETTINGS, bundle } from "../scripts/bundle.js";
import { rssMiB } from "../scripts/rss.js";
import { median } from "./stats.js";
import {
  BENCH_CONNECTIONS,
  BENCH_ROUTES,
  checkTargets,
  renderBenchmarksMarkdown,
  renderReadmeSummary,
  renderRoutesTable,
  renderTargetsSideBySide,
  replaceReadmeSummary,
  type BenchReport,
  type BenchRun,
  type LoadResult,
  type PacedRun,
  type Route,
} from "./report.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    starts: { type: "string", default: "15" },
    "post-load": { type: "string", default: "60" },
    soak: { type: "string", default: "60" },
    rate: { type: "string", default: "5000" },
    paced: { type: "string", default: "5" },
  },
});
const DURATION_S = positiveInteger("duration", args.duration);
const ROUNDS = positiveInteger("rounds", args.rounds);
const STARTS = positiveInteger("starts", args.starts);
const POST_LOAD_S = positiveInteger("post-load", args["post-load"]);
const SOAK_S = positiveInteger("soak", args.soak);
const PACED_RATE = positiveInteger("rate", args.rate);
const PACED_S = positiveInteger("paced", args.paced);
const PACED_CONNECTIONS = 50;
requestsPerConnection({ connections: PACED_CONNECTIONS, rate: PACED_RATE, seconds: PACED_S }); // before anything runs
const run = promisify(execFile);

/** A server process under test. */
interface Server {
  name: string;
  child: ChildProcess;
  port: number;
}

/** Resolves once `port` answers 200 on /healthz, asking on a fresh socket every `pollMs`. */
async function waitForHealthy(port: number, pollMs: number, child: ChildProcess): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      let answer = "";
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => {
        answer += chunk;
        if (answer.includes("\r\n")) socket.destroy();
      });
      socket.once("connect", () => socket.write("GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"));
      socket.once("error", () => resolve(false));
      socket.once("close", () => resolve(/^HTTP\/1\.[01] 200/.test(answer)));
    });
    if (ok) return;
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before answering`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Starts `command args` on a free port; its stdout (the access log) is read and discarded, as a log driver would. */
async function startServer(name: string, command: string, commandArgs: string[], env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const child = spawn(command, commandArgs.map((arg) => arg.replace("{port}", String(port))), {
    env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child.stdout.resume();
  await waitForHealthy(port, 20, child);
  return { name, child, port };
}

/** Sends SIGTERM and waits for the exit (at once if the process has already exited). */
async function stop(server: Server | ChildProcess): Promise<void> {
  const child = "child" in server ? server.child : server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

const hasWrk = spawnSync("wrk", ["--version"], { encoding: "utf8" }).error === undefined;
const WRK_POST_SCRIPT = `wrk.method = "POST"\nwrk.body = '${POST_BODY}'\nwrk.headers["Content-Type"] = "application/json"\n`;

/** Parses wrk's latency figure ("1.23ms", "456.00us", "1.50s") into milliseconds. */
const wrkMs = (text: string): number => {
  const [, value, unit] = /([\d.]+)(us|ms|s)/.exec(text) ?? [];
  return Math.round(Number(value) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1) * 100) / 100;
};

/** CPU time (user + system) the process `pid` has used so far, in microseconds (/proc/PID/stat, clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * One load run of `durationS` seconds at `connections` on `route`, with the server's own CPU time per request: unlike
 * throughput, it does not depend on how much of the machine the load generator takes.
 */
async function load(server: Server, route: Route, connections: number, durationS: number, scriptFile: string): Promise<LoadResult> {
  const before = cpuMicros(server.child.pid!);
  const result = await generateLoad(server, route, connections, durationS, scriptFile);
  const used = cpuMicros(server.child.pid!) - before;
  return { ...result, cpuMicrosPerRequest: result.requests > 0 ? round(used / result.requests) : 0 };
}

async function generateLoad(server: Server, route: Route, connections: number, durationS: number, scriptFile: string): Promise<Omit<LoadResult, "cpuMicrosPerRequest">> {
  const url = `http://127.0.0.1:${server.port}${route.path}`;
  const base = { target: server.name, route: route.name, connections };
  if (hasWrk) {
    const { stdout } = await run("wrk", ["-t2", `-c${connections}`, `-d${durationS}s`, "--latency", ...(route.method === "POST" ? ["-s", scriptFile] : []), url]);
    const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)?.slice(1).reduce((sum, n) => sum + Number(n), 0) ?? 0;
    return {
      ...base,
      requestsPerSecond: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0)),
      // The latency distribution's own lines ("    99%   3.21ms"), not a "69.99%" elsewhere in the output.
      p50Ms: wrkMs(/^\s+50%\s+(\S+)$/m.exec(stdout)?.[1] ?? "0ms"),
      p99Ms: wrkMs(/^\s+99%\s+(\S+)$/m.exec(stdout)?.[1] ?? "0ms"),
      requests,
      errors,
      non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
    };
  }
  const result = await autocannon({
    url,
    method: route.method,
    connections,
    duration: durationS,
    ...(route.method === "POST" ? { body: POST_BODY, headers: { "content-type": "application/json" } } : {}),
  });
  return {
    ...base,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Several rounds of one target as one figure: the median throughput, the worst p99, the counts summed. */
function combine(parts: LoadResult[]): LoadResult {
  return {
    ...parts[0]!,
    requestsPerSecond: median(parts.map((part) => part.requestsPerSecond)),
    p50Ms: median(parts.map((part) => part.p50Ms)),
    p99Ms: Math.max(...parts.map((part) => part.p99Ms)),
    cpuMicrosPerRequest: median(parts.map((part) => part.cpuMicrosPerRequest)),
    requests: parts.reduce((sum, part) => sum + part.requests, 0),
    errors: parts.reduce((sum, part) => sum + part.errors, 0),
    non2xx: parts.reduce((sum, part) => sum + part.non2xx, 0),
  };
}

/** Milliseconds from spawn (`node ...flags file`) to the first 200 on /healthz, the socket polled every millisecond. */
async function coldStart(node: string, file: string, flags: string[] = []): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(node, [...flags, file], { env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1" }, stdio: "ignore" });
  try {
    await waitForHealthy(port, 1, child);
    return performance.now() - started;
  } finally {
    await stop(child);
  }
}

/** Flask and Gunicorn, when both are installed (Debian: `apt-get install gunicorn python3-flask`). */
function gunicornCommand(): string[] | undefined {
  const probe = spawnSync("gunicorn", ["--version"], { encoding: "utf8" });
  if (probe.error) return undefined;
  const python = readFileSync(spawnSync("which", ["gunicorn"], { encoding: "utf8" }).stdout.trim(), "utf8").split("\n")[0]!.replace(/^#!/, "").trim();
  if (spawnSync(python, ["-c", "import flask"]).status !== 0) return undefined;
  return ["gunicorn", "--workers", "2", "--bind", "127.0.0.1:{port}", "--chdir", path.join(ROOT, "bench"), "--log-level", "warning", "flask_app:app"];
}

/** The Node binaries to measure on: this one, and the runtime image's where scripts/image-node.sh can install it. */
function nodesToMeasure(): string[] {
  const image = spawnSync(path.join(ROOT, "scripts/image-node.sh"), ["node", "-p", "process.execPath"], { encoding: "utf8" });
  if (image.status !== 0) {
    console.error(`benchmark: the image's Node is not available here, measuring ${process.version} only: ${image.stderr.trim()}`);
    return [process.execPath];
  }
  return [process.execPath, image.stdout.trim()];
}

/** The bundles and the wrk script every Node's measurement uses. */
interface Inputs {
  files: { service: string; bare: string; nodeHttp: string };
  scriptFile: string;
  gunicorn?: string[];
}

/** Everything measured on `node`: cold starts, every route against the baselines, memory under load and over a soak. */
async function measureOn(node: string, { files, scriptFile, gunicorn }: Inputs): Promise<BenchReport> {
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  console.error(`benchmark on Node.js ${version} (${node})`);
  const servers: Server[] = [];
  try {
    // Cold start first, on an idle machine, paired with a minimal node:http server so that drift hits both.
    const starts: number[] = [];
    const nodeHttpStarts: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      starts.push(await coldStart(node, files.service, SERVICE_NODE_FLAGS));
      nodeHttpStarts.push(await coldStart(node, files.nodeHttp));
    }

    // The service starts as the image starts it: with SERVICE_NODE_FLAGS; the baselines with Node's defaults.
    const service = await startServer("service", node, [...SERVICE_NODE_FLAGS, files.service]);
    servers.push(service);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleRss = rssMiB(service.child.pid!);
    const targets = [
      await startServer("bare Hono", node, [files.bare]),
      service,
      await startServer("service, LOG_LEVEL=warn", node, [...SERVICE_NODE_FLAGS, files.service], { LOG_LEVEL: "warn" }),
      await startServer("node:http", node, [files.nodeHttp]),
    ];
    servers.push(...targets.filter((target) => target !== service));
    const flask = gunicorn ? await startServer("Flask + Gunicorn (2 workers)", gunicorn[0]!, gunicorn.slice(1)) : undefined;
    if (flask) servers.push(flask);
    for (const target of targets) for (const route of BENCH_ROUTES) await load(target, route, 32, 1, scriptFile); // warm-up

    const runs: LoadResult[] = [];
    for (const route of BENCH_ROUTES) {
      for (const connections of BENCH_CONNECTIONS) {
        const routeTargets = flask && route.name === "GET /healthz" ? [...targets, flask] : targets;
        const parts: LoadResult[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          // Alternate the order each round, so that a slow phase of the machine does not always hit the same target.
          const order = i % 2 === 0 ? routeTargets : [...routeTargets].reverse();
          for (const target of order) parts.push(await load(target, route, connections, DURATION_S, scriptFile));
        }
        for (const target of routeTargets) runs.push(combine(parts.filter((part) => part.target === target.name)));
        console.error(`  ${route.name} at ${connections}: done`);
      }
    }

    // Latency below saturation, bare Hono and the service alternating.
    const pacedRuns: PacedRun[] = [];
    for (const [index, route] of BENCH_ROUTES.entries()) {
      const pair = index % 2 === 0 ? [targets[0]!, service] : [service, targets[0]!];
      for (const target of pair) {
        pacedRuns.push({ target: target.name, route: route.name, ...(await pacedLatencyInChild(target.port, route, { connections: PACED_CONNECTIONS, rate: PACED_RATE, seconds: PACED_S })) });
      }
    }
    console.error(`  paced latency at ${PACED_RATE} req/s: done`);

    // Memory under POST load (the route that reads a body), then a soak of mixed routes.
    const postLoad = await load(service, BENCH_ROUTES.find((route) => route.method === "POST")!, 50, POST_LOAD_S, scriptFile);
    const afterPostRss = rssMiB(service.child.pid!);
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(round(rssMiB(service.child.pid!))), 1000);
    const soakParts = await Promise.all(BENCH_ROUTES.map((route) => load(service, route, 4, SOAK_S, scriptFile)));
    clearInterval(sampler);
    const warm = samples[Math.max(0, Math.floor(samples.length / 10) - 1)]!;

    return {
      date: new Date().toISOString(),
      command: `npm run bench -- --duration ${DURATION_S} --rounds ${ROUNDS} --starts ${STARTS} --post-load ${POST_LOAD_S} --soak ${SOAK_S} --rate ${PACED_RATE} --paced ${PACED_S}`,
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? "unknown", memoryGiB: round(os.totalmem() / 2 ** 30), node: version, os: `${os.type()} ${os.release()}` },
      loadGenerator: hasWrk ? "wrk -t2" : "autocannon",
      bundleSettings: BUNDLE_SETTINGS,
      runs,
      coldStartMs: { median: round(median(starts)), all: starts.map((s) => round(s)), nodeHttpMedian: round(median(nodeHttpStarts)), nodeHttpAll: nodeHttpStarts.map((s) => round(s)) },
      rssMiB: { idle: round(idleRss), afterPostLoad: round(afterPostRss), postLoadSeconds: POST_LOAD_S, postLoadRequests: postLoad.requests },
      soak: {
        seconds: SOAK_S,
        samplesMiB: samples,
        growthPercent: round(((samples.at(-1)! - warm) / warm) * 100),
        requests: soakParts.reduce((sum, part) => sum + part.requests, 0),
        errors: soakParts.reduce((sum, part) => sum + part.errors + part.non2xx, 0) + postLoad.errors + postLoad.non2xx,
      },
      paced: { connections: PACED_CONNECTIONS, rate: PACED_RATE, seconds: PACED_S, runs: pacedRuns },
    };
  } finally {
    for (const server of servers) await stop(server);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-"));
  try {
    const files = { service: path.join(dir, "server.mjs"), bare: path.join(dir, "bare.mjs"), nodeHttp: path.join(dir, "node-http.mjs") };
    await bundle({ entryPoint: path.join(ROOT, "src/main.ts"), outfile: files.service });
    await bundle({ entryPoint: path.join(ROOT, "bench/bare-app.ts"), outfile: files.bare });
    await bundle({ entryPoint: path.join(ROOT, "bench/node-http-app.ts"), outfile: files.nodeHttp });
    const scriptFile = path.join(dir, "post.lua");
    writeFileSync(scriptFile, WRK_POST_SCRIPT);
    const gunicorn = gunicornCommand();
    const nodes = nodesToMeasure();
    console.error(
      `benchmark: ${hasWrk ? "wrk -t2" : "autocannon"}, ${ROUNDS} alternating rounds of ${DURATION_S} s per target, route and connection count; ` +
        `${STARTS} paired cold starts; ${POST_LOAD_S} s POST load; ${SOAK_S} s soak${gunicorn ? "; Flask + Gunicorn baseline" : " (no Gunicorn/Flask: baseline skipped)"}; on ${nodes.length} Node builds`,
    );
    const run: BenchRun = { reports: [] };
    for (const node of nodes) run.reports.push(await measureOn(node, { files, scriptFile, ...(gunicorn ? { gunicorn } : {}) }));

    for (const report of run.reports) console.log(`\nNode.js ${report.machine.node}\n${renderRoutesTable(report)}\n`);
    console.log(`\n${renderTargetsSideBySide(run)}\n`);
    const missed = run.reports.flatMap(checkTargets).filter((check) => !check.pass).length;
    if (missed > 0) console.log(`${missed} target(s) missed: see docs/performance.md for where the time goes`);

    writeFileSync(path.join(ROOT, "docs/benchmarks.json"), `${JSON.stringify(run, null, 2)}\n`);
    writeFileSync(path.join(ROOT, "docs/benchmarks.md"), renderBenchmarksMarkdown(run));
    const readmePath = path.join(ROOT, "README.md");
    writeFileSync(readmePath, replaceReadmeSummary(readFileSync(readmePath, "utf8"), renderReadmeSummary(run)));
    console.error("wrote docs/benchmarks.md, docs/benchmarks.json and the README's Performance summary");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
