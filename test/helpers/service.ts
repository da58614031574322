import type { Hono } from "hono";
import { afterAll } from "vitest";
import { createApp, type AppEnv } from "../../src/app.js";
import { startServer, type RunningServer } from "../../src/server.js";
import type { BuildInfo } from "../../src/build-info.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";

/** An app under test, with the log lines it wrote (parsed) and a switch for the drain state. */
export interface TestService {
  app: Hono<AppEnv>;
  config: Config;
  logs: Record<string, unknown>[];
  logger: ReturnType<typeof createLogger>;
  setDraining: (draining: boolean) => void;
  /**
   * Sends a request through the real server (src/server.ts, in this process, on an ephemeral loopback port, started on
   * the first call): the app plus the HTTP layer (request id, security headers, access log, global body limit).
   * Routes added to `app` before the first call are served too.
   */
  request: (path: string, init?: RequestInit) => Promise<Response>;
}

const servers: RunningServer[] = [];
afterAll(async () => {
  for (const server of servers.splice(0)) {
    server.server.closeAllConnections();
    await server.shutdown("test end");
  }
});

export const TEST_BUILD_INFO: BuildInfo = { name: "hono-ecr-service", version: "1.2.3", commit: "abc1234", buildTime: "2026-01-01T00:00:00.000Z" };

/** Builds the real app with a logger that records its JSON lines in memory. */
export function createTestService(env: Record<string, string> = {}): TestService {
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", ...env });
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger("info", { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  let draining = false;
  const app = createApp({ config, logger, buildInfo: TEST_BUILD_INFO, isDraining: () => draining });
  let running: Promise<RunningServer> | undefined;
  const request = async (path: string, init?: RequestInit): Promise<Response> => {
    running ??= startServer({ app, config, logger, onDrain: () => undefined }).then((server) => (servers.push(server), server));
    const { address } = await running;
    return fetch(`http://127.0.0.1:${address.port}${path}`, init);
  };
  return { app, config, logs, logger, setDraining: (value) => (draining = value), request };
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
