import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";

/** The ISO time of the last millisecond a line was logged in: lines of one millisecond share one `toISOString()`. */
let lastMs = -1;
let lastIso = "";
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return `,"time":"${lastIso}"`;
}

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
