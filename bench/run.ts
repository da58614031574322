/**
 * Benchmarks of the bundled service on loopback, all measured in one run so that ratios hold on a noisy machine:
 * throughput and latency (autocannon) for /healthz, / and /api/greeting against the production configuration, the same
 * for a bare Hono app, cold start (spawn to first 200 on /healthz), RSS idle and after load, and with --soak N a steady
 * load for N seconds with RSS sampled. Prints a table, checks the targets, writes docs/benchmarks.{md,json} and the
 * README's Performance summary.
 *
 * Usage: npm run bench [-- --duration 10] [--connections 50] [--starts 15] [--soak 60]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { bundle } from "../scripts/bundle.js";
import { rssMiB } from "../scripts/rss.js";
import { checkTargets, renderBenchmarksMarkdown, renderReadmeSummary, renderRunsTable, renderTargetsTable, replaceReadmeSummary, type BenchReport, type LoadResult } from "./report.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    starts: { type: "string", default: "15" },
    soak: { type: "string" },
  },
});
const DURATION_S = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const STARTS = Number(args.starts);
const SOAK_S = args.soak === undefined ? undefined : Number(args.soak);

/** A server process under test. */
interface Server {
  child: ChildProcess;
  port: number;
}

async function startServer(file: string): Promise<Server> {
  const child = spawn(process.execPath, [file], { env: { ...process.env, NODE_ENV: "production", PORT: "0", HOST: "127.0.0.1" }, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split("\n").find((text) => text.includes('"listening"'));
      if (line) {
        // Keep reading (and discarding) the access log, as a log driver would, so the pipe never fills.
        child.stdout.off("data", onData).resume();
        resolve((JSON.parse(line) as { port: number }).port);
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${file} exited (${code}) before listening`)));
  });
  return { child, port };
}

/** Sends SIGTERM and waits for the exit (at once if the process has already exited). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function load(target: string, server: Server, urlPath: string, durationS = DURATION_S, connections = CONNECTIONS): Promise<LoadResult> {
  const result = await autocannon({ url: `http://127.0.0.1:${server.port}${urlPath}`, connections, duration: durationS, pipelining: 1 });
  return {
    target,
    path: urlPath,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Two or more runs of the same target and path as one: throughput averaged, latencies the worst, counts summed. */
function combine(parts: LoadResult[]): LoadResult {
  return {
    target: parts[0]!.target,
    path: parts[0]!.path,
    requestsPerSecond: Math.round(parts.reduce((sum, part) => sum + part.requestsPerSecond, 0) / parts.length),
    p50Ms: Math.max(...parts.map((part) => part.p50Ms)),
    p99Ms: Math.max(...parts.map((part) => part.p99Ms)),
    maxMs: Math.max(...parts.map((part) => part.maxMs)),
    requests: parts.reduce((sum, part) => sum + part.requests, 0),
    errors: parts.reduce((sum, part) => sum + part.errors, 0),
    non2xx: parts.reduce((sum, part) => sum + part.non2xx, 0),
  };
}

/** Milliseconds from spawn to the first 200 on /healthz, polling every millisecond. */
async function coldStart(file: string, port: number): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [file], { env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1" }, stdio: "ignore" });
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (res.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null) throw new Error(`cold start: the service exited with ${child.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } finally {
    await stop(child);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-"));
  try {
    const service = path.join(dir, "server.mjs");
    const bare = path.join(dir, "bare.mjs");
    await bundle({ entryPoint: path.join(ROOT, "src/main.ts"), outfile: service });
    await bundle({ entryPoint: path.join(ROOT, "bench/bare-app.ts"), outfile: bare });
    console.error(`benchmark: ${DURATION_S} s per run, ${CONNECTIONS} connections, ${STARTS} cold starts${SOAK_S ? `, soak ${SOAK_S} s` : ""}`);

    // Cold start first, on an idle machine; a minimal node:http server measured alike shows what Node itself costs.
    const minimal = path.join(dir, "minimal.mjs");
    writeFileSync(minimal, 'import http from "node:http";\nhttp.createServer((req, res) => res.end("{}")).listen(Number(process.env.PORT), process.env.HOST);\n');
    const freePort = 18_000 + Math.floor(Math.random() * 1000);
    const starts: number[] = [];
    const minimalStarts: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      starts.push(await coldStart(service, freePort));
      minimalStarts.push(await coldStart(minimal, freePort));
    }

    const production = await startServer(service);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleRss = rssMiB(production.child.pid!);
    const runs: LoadResult[] = [];
    const baseline = await startServer(bare);
    await load("warm-up", production, "/healthz", 2);
    await load("warm-up", baseline, "/healthz", 2);
    // The /healthz comparison alternates bare and production in two halves each, so drift on a shared machine hits both.
    const halves: LoadResult[] = [];
    for (let round = 0; round < 2; round++) {
      halves.push(await load("bare Hono", baseline, "/healthz", DURATION_S / 2));
      halves.push(await load("production", production, "/healthz", DURATION_S / 2));
    }
    await stop(baseline.child);
    runs.push(combine(halves.filter((run) => run.target === "bare Hono")), combine(halves.filter((run) => run.target === "production")));
    for (const urlPath of ["/", "/api/greeting?name=Ada"]) runs.push(await load("production", production, urlPath));
    const afterLoadRss = rssMiB(production.child.pid!);

    let soak: BenchReport["soak"];
    if (SOAK_S) {
      const samples: number[] = [];
      const sampler = setInterval(() => samples.push(round(rssMiB(production.child.pid!))), 1000);
      const soakRun = await load("soak", production, "/api/greeting?name=Ada", SOAK_S, 10);
      clearInterval(sampler);
      // Growth from the end of the first tenth (warmed up) to the end.
      const warm = samples[Math.max(0, Math.floor(samples.length / 10) - 1)]!;
      soak = { seconds: SOAK_S, connections: 10, samplesMiB: samples, growthPercent: round(((samples.at(-1)! - warm) / warm) * 100), requests: soakRun.requests, errors: soakRun.errors + soakRun.non2xx };
    }
    await stop(production.child);

    const bareHealthz = runs.find((run) => run.target === "bare Hono")!;
    const prodHealthz = runs.find((run) => run.target === "production" && run.path === "/healthz")!;
    const report: BenchReport = {
      date: new Date().toISOString(),
      command: `npm run bench -- --duration ${DURATION_S} --connections ${CONNECTIONS} --starts ${STARTS}${SOAK_S ? ` --soak ${SOAK_S}` : ""}`,
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? "unknown", memoryGiB: round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.type()} ${os.release()}` },
      connections: CONNECTIONS,
      runs,
      ratioToBare: round(prodHealthz.requestsPerSecond / bareHealthz.requestsPerSecond, 2),
      coldStartMs: { median: round(median(starts)), all: starts.map((s) => round(s)), minimalNodeHttpMedian: round(median(minimalStarts)) },
      rssMiB: { idle: round(idleRss), afterLoad: round(afterLoadRss) },
      ...(soak ? { soak } : {}),
    };

    console.log(`\n${renderRunsTable(report)}\n`);
    console.log(`cold start: median ${report.coldStartMs.median} ms over ${STARTS} starts (a minimal node:http server: ${report.coldStartMs.minimalNodeHttpMedian} ms)`);
    console.log(`RSS: idle ${report.rssMiB.idle} MiB, after load ${report.rssMiB.afterLoad} MiB`);
    if (soak) console.log(`soak: ${soak.seconds} s at ${soak.connections} connections, ${soak.requests} requests, RSS ${soak.samplesMiB[0]} -> ${soak.samplesMiB.at(-1)} MiB (${soak.growthPercent}% after warm-up)`);
    console.log(`\n${renderTargetsTable(report)}\n`);
    const missed = checkTargets(report).filter((check) => !check.pass).length;
    if (missed > 0) console.log(`${missed} target(s) missed: see docs/performance.md for where the time goes`);

    writeFileSync(path.join(ROOT, "docs/benchmarks.json"), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(path.join(ROOT, "docs/benchmarks.md"), renderBenchmarksMarkdown(report));
    const readmePath = path.join(ROOT, "README.md");
    writeFileSync(readmePath, replaceReadmeSummary(readFileSync(readmePath, "utf8"), renderReadmeSummary(report)));
    console.error("wrote docs/benchmarks.md, docs/benchmarks.json and the README's Performance summary");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
