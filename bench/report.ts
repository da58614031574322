/**
 * The benchmark report: its shape (docs/benchmarks.json), the targets it is checked against, and the Markdown written
 * from it (docs/benchmarks.md and the README's Performance summary). The test suite re-renders both from the JSON, so
 * the docs always say what was measured.
 */

/** One load run's figures. */
export interface LoadResult {
  target: string;
  path: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  errors: number;
  non2xx: number;
}

/** Everything one `npm run bench` measured. */
export interface BenchReport {
  date: string;
  command: string;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; os: string };
  connections: number;
  runs: LoadResult[];
  ratioToBare: number;
  coldStartMs: { median: number; all: number[]; minimalNodeHttpMedian: number };
  rssMiB: { idle: number; afterLoad: number };
  soak?: { seconds: number; connections: number; samplesMiB: number[]; growthPercent: number; requests: number; errors: number };
}

/** A target of issue 6 with what was measured against it. */
export interface TargetCheck {
  target: string;
  value: string;
  pass: boolean;
}

const production = (report: BenchReport) => report.runs.filter((run) => run.target === "production");

/** The targets (2-core machine): throughput ratio, p99, cold start, idle RSS, soak growth, zero errors. */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const worstP99 = Math.max(...production(report).map((run) => run.p99Ms));
  const failures = report.runs.reduce((sum, run) => sum + run.errors + run.non2xx, 0) + (report.soak?.errors ?? 0);
  return [
    { target: "production /healthz throughput >= 0.8x bare Hono", value: `${report.ratioToBare}x`, pass: report.ratioToBare >= 0.8 },
    { target: `p99 <= 10 ms at ${report.connections} connections (every production route)`, value: `${worstP99} ms`, pass: worstP99 <= 10 },
    { target: "cold start <= 150 ms (median)", value: `${report.coldStartMs.median} ms`, pass: report.coldStartMs.median <= 150 },
    { target: "idle RSS <= 60 MB", value: `${report.rssMiB.idle} MiB`, pass: report.rssMiB.idle <= 60 },
    ...(report.soak ? [{ target: "RSS growth under soak <= 10%", value: `${report.soak.growthPercent}%`, pass: report.soak.growthPercent <= 10 }] : []),
    { target: "zero errors and non-2xx", value: String(failures), pass: failures === 0 },
  ];
}

/** The throughput and latency table. */
export function renderRunsTable(report: BenchReport): string {
  return [
    "| target | route | req/s | p50 ms | p99 ms | max ms | requests | errors | non-2xx |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ...report.runs.map((r) => `| ${r.target} | \`${r.path}\` | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.requests} | ${r.errors} | ${r.non2xx} |`),
  ].join("\n");
}

/** The targets table. */
export function renderTargetsTable(report: BenchReport): string {
  return ["| target | measured | met |", "|---|---|---|", ...checkTargets(report).map((t) => `| ${t.target} | ${t.value} | ${t.pass ? "yes" : "**no**"} |`)].join("\n");
}

const addedColdStart = (report: BenchReport) => Math.round((report.coldStartMs.median - report.coldStartMs.minimalNodeHttpMedian) * 10) / 10;

/** docs/benchmarks.md. */
export function renderBenchmarksMarkdown(report: BenchReport): string {
  const { machine, soak } = report;
  return [
    "# Benchmarks",
    "",
    `Measured ${report.date.slice(0, 10)} with \`${report.command}\` (written by bench/run.ts; raw figures in benchmarks.json).`,
    "Where the time goes, and why two targets are missed: [performance.md](performance.md).",
    "",
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, ${machine.os}, Node.js ${machine.node}. The load generator`,
    "(autocannon) and the server share the machine; both servers are bundles started with `node` on loopback. The production",
    "configuration has every middleware on and writes its JSON access log to a pipe, as a log driver would read it (`/healthz`",
    "is not logged). Compare ratios measured in one run, not absolute figures across machines.",
    "",
    "## Throughput and latency",
    "",
    renderRunsTable(report),
    "",
    `Production \`/healthz\` throughput is **${report.ratioToBare}x** the bare Hono app's (both measured in two alternating halves).`,
    "",
    "## Cold start and memory",
    "",
    `Cold start (spawn to first 200 on \`/healthz\`): median **${report.coldStartMs.median} ms** over ${report.coldStartMs.all.length} starts (${report.coldStartMs.all.join(", ")} ms).`,
    `A minimal \`node:http\` server, started alike in the same run, takes ${report.coldStartMs.minimalNodeHttpMedian} ms: the service adds ${addedColdStart(report)} ms to Node's own start.`,
    "",
    `RSS: **${report.rssMiB.idle} MiB** idle after start, **${report.rssMiB.afterLoad} MiB** after the load runs.`,
    ...(soak
      ? [
          "",
          "## Soak",
          "",
          `${soak.seconds} s of steady load on \`/api/greeting\` at ${soak.connections} connections: ${soak.requests} requests, ${soak.errors} errors.`,
          `RSS sampled every second: ${soak.samplesMiB[0]} MiB at the start, ${soak.samplesMiB.at(-1)} MiB at the end, **${soak.growthPercent}%** growth after warm-up.`,
        ]
      : []),
    "",
    "## Targets",
    "",
    renderTargetsTable(report),
    "",
  ].join("\n");
}

/** The README's Performance summary (between the bench markers). */
export function renderReadmeSummary(report: BenchReport): string {
  const greeting = production(report).find((run) => run.path.startsWith("/api/greeting"));
  const healthz = production(report).find((run) => run.path === "/healthz");
  return [
    `Latest run (${report.date.slice(0, 10)}, ${report.machine.cores} cores, Node.js ${report.machine.node}, \`${report.command}\`):`,
    "",
    `- throughput: ${healthz?.requestsPerSecond} req/s on \`/healthz\` (**${report.ratioToBare}x** a bare Hono app measured in the same run), ${greeting?.requestsPerSecond} req/s on \`/api/greeting\` with its access log line;`,
    `- latency at ${report.connections} connections: p99 ${Math.max(...production(report).map((run) => run.p99Ms))} ms or less on every route; no errors;`,
    `- cold start: median ${report.coldStartMs.median} ms to the first 200 (Node's own start, measured alike: ${report.coldStartMs.minimalNodeHttpMedian} ms);`,
    `- memory: ${report.rssMiB.idle} MiB RSS idle, ${report.rssMiB.afterLoad} MiB after load${report.soak ? `, ${report.soak.growthPercent}% growth over a ${report.soak.seconds} s soak` : ""}.`,
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
