import type { EventEmitter } from "node:events";
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";

/** The ISO time of the last millisecond a line was logged in: lines of one millisecond share one `toISOString()`. */
let lastMs = -1;
let lastIso = "";
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}
const isoTime = (): string => `,"time":"${isoNow()}"`;

/**
 * Creates the service logger: one JSON object per line, ISO timestamps, level names instead of numbers. By default it
 * writes to stdout asynchronously (SonicBoom coalesces the lines that arrive while a write is in flight, so a busy
 * service makes few write calls and an idle one writes each line at once); pino writes what is left synchronously when
 * the process exits (test/shutdown.test.ts checks that no line is lost).
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** One exchange, as its access log line reports it. */
export interface AccessEntry {
  /** Only `[A-Za-z0-9_=-]` (a valid client id or a UUID: src/headers.ts), so written without escaping. */
  requestId: string;
  /** A method token as Node's parser accepted it (token characters only), so written without escaping. */
  method: string;
  path: string;
  status: number;
  durationMs: number;
  /** True when the connection was gone before the response was complete. */
  aborted: boolean;
}

/**
 * Returns a writer of access log lines for `logger`: the very line `logger.info({ requestId, method, path, status,
 * durationMs, aborted? }, "request")` writes (test/logger.test.ts compares them), built as one template string and
 * handed straight to the logger's destination. pino's generic serialization (a pass over the object's keys, a quoting
 * function per value, the level formatter, the mixin and hook checks) was about 5% of the service's CPU profile on
 * GET / on Node 24 (docs/performance.md); the line is the same, and nothing is written below the logger's level.
 */
export function accessLogWriter(logger: Logger): (entry: AccessEntry) => void {
  const stream = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  if (!stream) throw new Error("accessLogWriter: the logger has no destination stream (pino.symbols.streamSym)");
  const infoValue = logger.levels.values.info!;
  return (entry) => {
    if (logger.levelVal > infoValue) return;
    stream.write(
      `{"level":"info","time":"${isoNow()}","requestId":"${entry.requestId}","method":"${entry.method}","path":${JSON.stringify(entry.path)},` +
        `"status":${entry.status},"durationMs":${entry.durationMs}${entry.aborted ? ',"aborted":true' : ""},"msg":"request"}\n`,
    );
  };
}

/**
 * Waits, before the process exits, until the log destination has no write in flight (pino's default destination,
 * sonic-boom 4.2.1: `_writing` is set while an asynchronous write runs, then 'drain' or 'error' is emitted, index.js
 * release()). pino's own exit hook flushes synchronously with sonic-boom's flushSync, which retries a failed write
 * forever whatever the error: with stdout a closed pipe (EPIPE) the process would spin and never exit. Letting the
 * asynchronous write report EPIPE first makes pino stop writing (pino 10.4.0 lib/tools.js, filterBrokenPipe), so its exit
 * hook has nothing left to do. Bounded by `timeoutMs` for a reader that is alive but slow: the exit hook then writes the
 * rest, as before. (`logger.flush(cb)` does not wait: with minLength 0 sonic-boom calls `cb` at once.)
 */
export function flushLogs(logger: Logger, timeoutMs: number): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as (EventEmitter & { _writing?: boolean }) | undefined;
  if (!stream?._writing || typeof stream.once !== "function") return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stream.off("drain", done);
      stream.off("error", done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    stream.once("drain", done);
    stream.once("error", done);
  });
}
