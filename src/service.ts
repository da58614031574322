import type { Hono } from "hono";
import type { Logger } from "pino";
import { createApp, type AppEnv } from "./app.js";
import type { BuildInfo } from "./build-info.js";
import type { Config } from "./config.js";
import { exitOnSignals, startServer, type RunningServer } from "./server.js";

/** Everything a service process is made of. */
export interface ServiceOptions {
  config: Config;
  logger: Logger;
  buildInfo: BuildInfo;
  /** Adds routes before the server starts (the test fixture adds a slow route with it). */
  extendApp?: (app: Hono<AppEnv>) => void;
}

/**
 * Wires app and server together: builds the app, starts listening, and shuts down and exits on SIGTERM/SIGINT.
 * Rejects when the address cannot be bound.
 */
export async function startService(options: ServiceOptions): Promise<RunningServer> {
  const { config, logger, buildInfo } = options;
  let draining = false;
  const app = createApp({ config, logger, buildInfo, isDraining: () => draining });
  options.extendApp?.(app);
  const running = await startServer({ app, config, logger, onDrain: () => (draining = true) });
  logger.info({ ...buildInfo, node: process.version }, "started");
  exitOnSignals(running, logger);
  return running;
}
