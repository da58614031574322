import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";

/**
 * Creates the service logger: one JSON object per line, ISO timestamps, level names instead of numbers.
 * Writes synchronously to stdout by default, so the last lines before an exit are never lost.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
