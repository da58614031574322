/**
 * Process entry point (bundled to dist/server.mjs): validate the config, start the service, exit cleanly on SIGTERM/SIGINT.
 * Exit codes: 0 drained cleanly, 1 forced or crashed, 78 invalid configuration (EX_CONFIG).
 */
import { readBuildInfo } from "./build-info.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createLogger } from "./logger.js";
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
process.on("uncaughtException", (err) => {
  logger.fatal({ err }, "uncaught exception: exiting");
  process.exit(1);
});
process.on("unhandledRejection", (err) => {
  logger.fatal({ err }, "unhandled promise rejection: exiting");
  process.exit(1);
});

try {
  await startService({ config, logger, buildInfo: readBuildInfo() });
} catch (err) {
  logger.fatal({ err, host: config.host, port: config.port }, "could not start listening: exiting");
  process.exit(1);
}
