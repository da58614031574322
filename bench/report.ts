/**
 * The benchmark report: its shape (docs/benchmarks.json), the targets it is checked against, and the Markdown written
 * from it (docs/benchmarks.md and the README's Performance summary). The test suite re-renders both from the JSON, so
 * the docs always say what was measured.
 */
import type { PacedResult } from "./paced.js";

/** A route the benchmark loads. */
export interface Route {
  name: string;
  method: "GET" | "POST";
  path: string;
}

/** Every route of the service, the POST one included. */
export const BENCH_ROUTES: Route[] = [
  { name: "GET /healthz", method: "GET", path: "/healthz" },
  { name: "GET /", method: "GET", path: "/" },
  { name: "GET /api/greeting", method: "GET", path: "/api/greeting?name=Ada" },
  { name: "POST /api/greeting", method: "POST", path: "/api/greeting" },
];
/** Connection counts each route is loaded at. */
export const BENCH_CONNECTIONS = [32, 50];

/** The targets compared in every round. */
export const SERVICE = "service";
export const SERVICE_WARN = "service, LOG_LEVEL=warn";
export const BARE = "bare Hono";
export const NODE_HTTP = "node:http";
export const GUNICORN = "Flask + Gunicorn (2 workers)";

/** One target's figures on one route at one connection count (median throughput over the rounds, worst p99). */
export interface LoadResult {
  target: string;
  route: string;
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The server process's CPU time (user + system) per request, in microseconds (Gunicorn: its master only, not meaningful). */
  cpuMicrosPerRequest: number;
  requests: number;
  errors: number;
  non2xx: number;
}

/** Everything one `npm run bench` measured. */
export interface BenchReport {
  date: string;
  command: string;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; os: string };
  loadGenerator: string;
  bundleSettings: Record<string, string | boolean>;
  runs: LoadResult[];
  coldStartMs: { median: number; all: number[]; nodeHttpMedian: number; nodeHttpAll: number[] };
  rssMiB: { idle: number; afterPostLoad: number; postLoadSeconds: number; postLoadRequests: number };
  soak: { seconds: number; samplesMiB: number[]; growthPercent: number; requests: number; errors: number };
  /** Latency below saturation (bench/paced.ts): service and bare Hono, each route at a fixed request rate. */
  paced: { connections: number; rate: number; seconds: number; runs: PacedRun[] };
}

/** One target's paced latency on one route. */
export interface PacedRun extends PacedResult {
  target: string;
  route: string;
}

/**
 * One `npm run bench`: the same measurements on each Node.js the service runs on, one after the other in one run: the
 * machine's and the runtime image's (NODE_IMAGE_TAG, from tools/node), so the two can be compared side by side.
 */
export interface BenchRun {
  reports: BenchReport[];
}

/** A target of the service-speed issue with what was measured against it. */
export interface TargetCheck {
  target: string;
  value: string;
  pass: boolean;
}

const find = (report: BenchReport, target: string, route: string, connections: number) =>
  report.runs.find((run) => run.target === target && run.route === route && run.connections === connections);
const ratio = (a?: LoadResult, b?: LoadResult): number => (a && b && b.requestsPerSecond > 0 ? Math.round((a.requestsPerSecond / b.requestsPerSecond) * 100) / 100 : 0);

/** The service's throughput over a baseline's on each route and connection count. */
export function ratios(report: BenchReport, target: string, baseline: string): { route: string; connections: number; ratio: number }[] {
  return BENCH_ROUTES.flatMap((route) =>
    BENCH_CONNECTIONS.map((connections) => ({ route: route.name, connections, ratio: ratio(find(report, target, route.name, connections), find(report, baseline, route.name, connections)) })),
  );
}

const worst = (values: { ratio: number }[]) => Math.min(...values.map((value) => value.ratio));

/**
 * Not a target of the issue but beside it: the same p99 bound below saturation, at the paced run's fixed rate (its share
 * of the service's throughput at saturation at the same connection count, shown), every route answered at that rate.
 */
function pacedCheck(report: BenchReport): TargetCheck {
  const { connections, rate, seconds } = report.paced;
  const runs = report.paced.runs.filter((run) => run.target === SERVICE);
  const target = `p99 <= 5 ms at ${connections} connections, every route, paced at ${rate} req/s (not a target of the issue)`;
  if (runs.length !== BENCH_ROUTES.length) return { target, value: `${runs.length} of ${BENCH_ROUTES.length} routes measured`, pass: false };
  const worstRun = runs.reduce((high, run) => (run.p99Ms > high.p99Ms ? run : high));
  const shares = runs.map((run) => rate / (find(report, SERVICE, run.route, connections)?.requestsPerSecond ?? Infinity));
  const complete = runs.every((run) => run.requests === rate * seconds && run.achievedRate >= 0.95 * rate);
  const lag = Math.max(...report.paced.runs.map((run) => run.clientLagP99Ms));
  return {
    target,
    value: `worst ${worstRun.p99Ms} ms (${worstRun.route}); the rate is ${Math.round(Math.min(...shares) * 100)}-${Math.round(Math.max(...shares) * 100)}% of the service's saturation throughput; client lag p99 <= ${lag} ms${complete ? "" : "; **a route was not answered at the rate**"}`,
    pass: complete && runs.every((run) => run.p99Ms <= 5),
  };
}

/** The targets (2-core machine), each with its measured value. */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const service = report.runs.filter((run) => run.target === SERVICE);
  const toBare = ratios(report, SERVICE, BARE);
  const worstToBare = toBare.reduce((low, value) => (value.ratio < low.ratio ? value : low));
  const worstP99 = service.reduce((high, run) => (run.p99Ms > high.p99Ms ? run : high));
  const failures = report.runs.reduce((sum, run) => sum + run.errors + run.non2xx, 0) + report.soak.errors;
  const added = Math.round((report.coldStartMs.median - report.coldStartMs.nodeHttpMedian) * 10) / 10;
  const gunicorn = [32, 50].map((connections) => ratio(find(report, SERVICE, "GET /healthz", connections), find(report, GUNICORN, "GET /healthz", connections)));
  return [
    {
      target: "every route, 32 and 50 connections: >= 0.8x bare Hono",
      value: `worst ${worstToBare.ratio}x (${worstToBare.route} at ${worstToBare.connections})`,
      pass: worstToBare.ratio >= 0.8,
    },
    { target: "p99 <= 5 ms at 50 connections, every route", value: `worst ${worstP99.p99Ms} ms (${worstP99.route} at ${worstP99.connections})`, pass: service.filter((run) => run.connections === 50).every((run) => run.p99Ms <= 5) },
    pacedCheck(report),
    { target: "zero errors", value: String(failures), pass: failures === 0 },
    { target: `RSS <= 120 MiB after ${report.rssMiB.postLoadSeconds} s of POST load`, value: `${report.rssMiB.afterPostLoad} MiB`, pass: report.rssMiB.afterPostLoad <= 120 },
    { target: `RSS growth <= 10% over a ${report.soak.seconds} s soak of mixed routes`, value: `${report.soak.growthPercent}%`, pass: report.soak.growthPercent <= 10 },
    { target: "cold start <= node:http + 15 ms (medians)", value: `${report.coldStartMs.median} ms, node:http ${report.coldStartMs.nodeHttpMedian} ms (+${added})`, pass: added <= 15 },
    ...(gunicorn.every((value) => value > 0)
      ? [{ target: "GET /healthz >= 6x Flask + Gunicorn (2 workers)", value: `${Math.min(...gunicorn)}x (32 and 50 connections: ${gunicorn.join("x, ")}x)`, pass: Math.min(...gunicorn) >= 6 }]
      : []),
  ];
}

/** Per route and connection count: each target's throughput and p99, and the service's ratios. */
export function renderRoutesTable(report: BenchReport): string {
  const targets = [...new Set(report.runs.map((run) => run.target))];
  const rows = BENCH_ROUTES.flatMap((route) =>
    BENCH_CONNECTIONS.map((connections) => {
      const cells = targets.map((target) => {
        const run = find(report, target, route.name, connections);
        return run ? `${run.requestsPerSecond} / ${run.p99Ms} / ${target === GUNICORN ? "-" : run.cpuMicrosPerRequest}` : "";
      });
      const service = find(report, SERVICE, route.name, connections);
      return `| ${route.name} | ${connections} | ${cells.join(" | ")} | ${ratio(service, find(report, BARE, route.name, connections))}x | ${ratio(service, find(report, NODE_HTTP, route.name, connections))}x | ${ratio(find(report, SERVICE_WARN, route.name, connections), find(report, BARE, route.name, connections))}x |`;
    }),
  );
  return [
    `| route | connections | ${targets.map((target) => `${target}: req/s / p99 ms / CPU µs per request`).join(" | ")} | service / bare Hono | service / node:http | service without access log / bare Hono |`,
    `|---|---:|${targets.map(() => "---:").join("|")}|---:|---:|---:|`,
    ...rows,
  ].join("\n");
}

/** Per route: the paced run's p50, p99 and slowest answer, the rate answered and the client's lag, bare Hono and the service. */
export function renderPacedTable(report: BenchReport): string {
  const targets = [...new Set(report.paced.runs.map((run) => run.target))];
  const rows = BENCH_ROUTES.map((route) => {
    const cells = targets.map((target) => {
      const run = report.paced.runs.find((one) => one.target === target && one.route === route.name);
      return run ? `${run.p50Ms} / ${run.p99Ms} / ${run.maxMs} / ${run.achievedRate} / ${run.clientLagP99Ms}` : "";
    });
    return `| ${route.name} | ${cells.join(" | ")} |`;
  });
  return [`| route | ${targets.map((target) => `${target}: p50 / p99 / max ms / answered req/s / client lag p99 ms`).join(" | ")} |`, `|---|${targets.map(() => "---:").join("|")}|`, ...rows].join("\n");
}

/** The targets of every report side by side: a row per target, a column per Node. */
export function renderTargetsSideBySide(run: BenchRun): string {
  const checks = run.reports.map(checkTargets);
  const targets = [...new Set(checks.flat().map((check) => check.target))];
  const cell = (list: TargetCheck[], target: string) => {
    const check = list.find((candidate) => candidate.target === target);
    return check ? `${check.value} (${check.pass ? "met" : "**missed**"})` : "-";
  };
  return [
    `| target | ${run.reports.map((report) => `Node.js ${report.machine.node}`).join(" | ")} |`,
    `|---|${run.reports.map(() => "---").join("|")}|`,
    ...targets.map((target) => `| ${target} | ${checks.map((list) => cell(list, target)).join(" | ")} |`),
  ].join("\n");
}

/** docs/benchmarks.md. */
export function renderBenchmarksMarkdown(run: BenchRun): string {
  const [first] = run.reports;
  if (!first) throw new Error("a bench run with no report");
  const { machine } = first;
  const settings = Object.entries(first.bundleSettings).map(([key, value]) => `${key}: ${String(value)}`).join(", ");
  return [
    "# Benchmarks",
    "",
    `Measured ${first.date.slice(0, 10)} with \`${first.command}\` (written by bench/run.ts; raw figures in benchmarks.json),`,
    `on ${run.reports.map((report) => `Node.js ${report.machine.node}`).join(" and ")}: the same bundles and measurements, one Node after the other.`,
    "Where the time goes: [performance.md](performance.md).",
    "",
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, ${machine.os}. Load generator:`,
    `${first.loadGenerator}, on the same machine, loopback. Every Node server is a bundle built with the same esbuild settings`,
    `(${settings}) and started with that \`node\`. The service runs its production configuration and writes its JSON access`,
    "log to a pipe that the benchmark reads, as a log driver would (`/healthz` is not logged). Each figure is the median",
    "throughput of alternating rounds (the order reversed every round) and the worst p99 of them; the CPU time per request",
    "is the server process's own (user + system, from /proc), which does not depend on how much of the machine the load",
    "generator takes. Compare ratios from one run, not absolute figures across machines.",
    "",
    "## Targets, side by side",
    "",
    renderTargetsSideBySide(run),
    ...run.reports.flatMap((report) => {
      const { soak, rssMiB, coldStartMs } = report;
      return [
        "",
        `## Node.js ${report.machine.node}: throughput and latency`,
        "",
        renderRoutesTable(report),
        "",
        `Below saturation (bench/paced.ts, in a process of its own): ${report.paced.connections} keep-alive connections sending ${report.paced.rate} requests per second in all on a fixed schedule, ${report.paced.seconds} s per route and target`,
        "after a 1 s warm-up; a request held back by a late answer is timed from when it was due, and the client's own event-loop delay is shown beside it.",
        "",
        renderPacedTable(report),
        "",
        `## Node.js ${report.machine.node}: cold start and memory`,
        "",
        `Cold start (spawn to the first 200 on \`/healthz\`, the socket polled every 1 ms): median **${coldStartMs.median} ms** over ${coldStartMs.all.length} starts (${coldStartMs.all.join(", ")} ms);`,
        `a minimal \`node:http\` server, started in the same pairs: median ${coldStartMs.nodeHttpMedian} ms (${coldStartMs.nodeHttpAll.join(", ")} ms).`,
        "",
        `RSS: **${rssMiB.idle} MiB** idle after start, **${rssMiB.afterPostLoad} MiB** after ${rssMiB.postLoadSeconds} s of \`POST /api/greeting\` at 50 connections (${rssMiB.postLoadRequests} requests).`,
        "",
        `Soak: ${soak.seconds} s of all four routes at once (4 connections each): ${soak.requests} requests, ${soak.errors} errors;`,
        `RSS sampled every second from ${soak.samplesMiB[0]} to ${soak.samplesMiB.at(-1)} MiB, **${soak.growthPercent}%** growth after warm-up.`,
      ];
    }),
    "",
  ].join("\n");
}

/** The README's Performance summary (between the bench markers): the targets side by side, then each Node's ratios. */
export function renderReadmeSummary(run: BenchRun): string {
  const [first] = run.reports;
  if (!first) throw new Error("a bench run with no report");
  const span = (values: { ratio: number }[]) => `${worst(values)}x to ${Math.max(...values.map((value) => value.ratio))}x`;
  return [
    `Latest run (${first.date.slice(0, 10)}, ${first.machine.cores} cores, ${first.loadGenerator}, \`${first.command}\`), on ${run.reports.map((report) => `Node.js ${report.machine.node}`).join(" and ")}:`,
    "",
    renderTargetsSideBySide(run),
    "",
    ...run.reports.map((report) => {
      const cpu = (target: string) => report.runs.filter((one) => one.target === target && one.connections === 50).map((one) => `${one.route} ${one.cpuMicrosPerRequest}`);
      return (
        `- Node.js ${report.machine.node}: throughput against a bare Hono app with the same routes ${span(ratios(report, SERVICE, BARE))}, without the access log (LOG_LEVEL=warn) ` +
        `${span(ratios(report, SERVICE_WARN, BARE))}, against plain node:http ${span(ratios(report, SERVICE, NODE_HTTP))}; server CPU per request at 50 connections, µs: service ${cpu(SERVICE).join(", ")}; bare Hono ${cpu(BARE).join(", ")}.`
      );
    }),
  ].join("\n");
}

export const README_START = "<!-- bench:start (written by npm run bench) -->";
export const README_END = "<!-- bench:end -->";

/** `readme` with the text between the bench markers replaced by `summary`. */
export function replaceReadmeSummary(readme: string, summary: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_START} ... ${README_END} block`);
  return `${readme.slice(0, start + README_START.length)}\n${summary}\n${readme.slice(end)}`;
}
