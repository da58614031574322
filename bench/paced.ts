/**
 * Latency below saturation: `connections` keep-alive connections send `rate` requests per second in all, each on a fixed
 * schedule (connection i sends its k-th request at start + (i / connections + k) x interval; the schedule starts once
 * every connection is open). A request that could not be sent on time because the last answer came late has its
 * latency counted from its scheduled time, so a server that falls behind is charged for the wait (no coordinated
 * omission); one sent on a timer, from when the timer fired. The client's own lateness (its event loop's delay,
 * `monitorEventLoopDelay`) is reported beside the figures: a late client shows there, not only in the latencies. Node
 * timers fire in whole milliseconds (lib/internal/timers.js truncates the delay), so requests due within one
 * millisecond leave together.
 *
 * wrk measures at saturation, where p99 is the queue its own connections keep full, and autocannon 9's `overallRate`
 * sends each second's quota in a burst (lib/httpClient.js resets its count once a second), so neither measures this.
 * `npm run bench` runs it in a child process of its own (`pacedLatencyInChild`), away from the event loop that reads
 * the service's access log.
 */
import { fork } from "node:child_process";
import net from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Route } from "./report.js";
import { rawRequest, readAnswers } from "./raw-http.js";

/** How a paced run is driven. */
export interface PacedOptions {
  connections: number;
  rate: number;
  seconds: number;
}

/** What one paced run measured. */
export interface PacedResult {
  requests: number;
  /** Requests answered per second, from the first scheduled send to the last answer. */
  achievedRate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The client's event-loop delay at p99 during the run, in ms. */
  clientLagP99Ms: number;
}

/** The `fraction` quantile of sorted `values` (nearest rank). */
const quantile = (sorted: number[], fraction: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
const round2 = (value: number): number => Math.round(value * 100) / 100;

/**
 * The requests each connection sends; throws, naming the values, unless `rate x seconds` is a whole multiple (>= 1) of
 * the connections (every connection gets the same number of requests, none is left out).
 */
export function requestsPerConnection({ connections, rate, seconds }: PacedOptions): number {
  const total = rate * seconds;
  if (!Number.isInteger(total / connections) || total < connections) {
    throw new Error(`a paced run of ${rate} req/s for ${seconds} s over ${connections} connections is invalid: rate x seconds (${total}) must be a whole multiple of the connections`);
  }
  return total / connections;
}

/** Opens a connection to `port`; resolves once it is connected. */
const open = (port: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1").once("error", reject);
    socket.once("connect", () => resolve(socket.off("error", reject)));
  });

/**
 * Runs `route` on `port` at `rate` requests per second over `connections` connections for `seconds`. Rejects before
 * sending anything when the options are invalid (`requestsPerConnection`), then on any answer other than 200 and on a
 * connection closed before its last answer.
 */
export async function pacedLatency(port: number, route: Route, options: PacedOptions): Promise<PacedResult> {
  const perConnection = requestsPerConnection(options);
  const { connections, rate } = options;
  const interval = (connections / rate) * 1000;
  const request = rawRequest(route);
  const sockets = await Promise.all(Array.from({ length: connections }, () => open(port)));
  const latencies: number[] = [];
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const start = performance.now() + 20;
  let lastAnswer = start;
  const drive = (socket: net.Socket, index: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let sent = 0;
      let answered = 0;
      let sentAt = 0;
      const sendNext = (): void => {
        const scheduledAt = start + (index / connections + sent) * interval;
        sent += 1;
        const wait = scheduledAt - performance.now();
        if (wait <= 0) {
          sentAt = scheduledAt;
          socket.write(request);
        } else {
          setTimeout(() => {
            if (socket.destroyed) return;
            sentAt = performance.now();
            socket.write(request);
          }, wait);
        }
      };
      const answer = (): void => {
        lastAnswer = performance.now();
        latencies.push(lastAnswer - sentAt);
        answered += 1;
        if (answered === perConnection) resolve();
        else sendNext();
      };
      readAnswers(socket, route, answer, reject);
      socket.once("error", reject);
      socket.once("close", () => {
        if (answered < perConnection) reject(new Error(`${route.name}: the server closed a connection after ${answered} of ${perConnection} answers`));
      });
      sendNext();
    });
  try {
    await Promise.all(sockets.map(drive));
  } finally {
    lag.disable();
    for (const socket of sockets) socket.destroy();
  }
  const sorted = latencies.sort((a, b) => a - b);
  return {
    requests: sorted.length,
    achievedRate: Math.round(sorted.length / ((lastAnswer - start) / 1000)),
    p50Ms: round2(quantile(sorted, 0.5)),
    p99Ms: round2(quantile(sorted, 0.99)),
    maxMs: round2(sorted.at(-1)!),
    clientLagP99Ms: round2(lag.percentile(99) / 1e6),
  };
}

/**
 * `pacedLatency` in a child process of its own (this file, forked with the parent's loader flags), after a warm-up run
 * of one second at the same rate whose figures are dropped.
 */
export function pacedLatencyInChild(port: number, route: Route, options: PacedOptions): Promise<PacedResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(import.meta.url), ["--paced-child", JSON.stringify({ port, route, options })]);
    let result: PacedResult | undefined;
    child.once("message", (message: { result?: PacedResult; error?: string }) => {
      if (message.error) reject(new Error(message.error));
      else result = message.result;
    });
    child.once("error", reject);
    child.once("exit", (code) => (result ? resolve(result) : reject(new Error(`the paced client for ${route.name} exited with ${code} and no result`))));
  });
}

if (process.argv[2] === "--paced-child" && process.send) {
  const { port, route, options } = JSON.parse(process.argv[3]!) as { port: number; route: Route; options: PacedOptions };
  const warmUp = { ...options, seconds: 1, rate: Math.max(options.connections, Math.round(options.rate / options.connections) * options.connections) };
  pacedLatency(port, route, warmUp)
    .then(() => pacedLatency(port, route, options))
    .then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (error: Error) => process.send!({ error: error.message }, () => process.exit(1)),
    );
}
