/**
 * Process entry point (bundled to dist/server.mjs): validate the config, start the service, exit cleanly on SIGTERM/SIGINT.
 * Exit codes: 0 drained cleanly, 1 forced or crashed, 78 invalid configuration (EX_CONFIG).
 */
import { readBuildInfo } from "./build-info.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createLogger, flushLogs } from "./logger.js";
import { startService } from "./service.js";

/** Exit code for an invalid configuration (sysexits EX_CONFIG). */
const EXIT_CONFIG = 78;

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`configuration error: ${error.message}\n`);
  process.exit(EXIT_CONFIG);
}

const logger = createLogger(config.logLevel);
/** Logs `message` as fatal, writes every buffered log line, and exits 1. */
const die = (fields: Record<string, unknown>, message: string): never => {
  logger.fatal(fields, message);
  flushLogs(logger);
  process.exit(1);
};
process.on("uncaughtException", (err) => die({ err }, "uncaught exception: exiting"));
process.on("unhandledRejection", (err) => die({ err }, "unhandled promise rejection: exiting"));

try {
  await startService({ config, logger, buildInfo: readBuildInfo() });
} catch (err) {
  die({ err, host: config.host, port: config.port }, "could not start listening: exiting");
}
