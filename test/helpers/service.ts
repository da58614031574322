import type { Hono } from "hono";
import { createApp, type AppEnv } from "../../src/app.js";
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
}

export const TEST_BUILD_INFO: BuildInfo = { name: "hono-ecr-service", version: "1.2.3", commit: "abc1234", buildTime: "2026-01-01T00:00:00.000Z" };

/** Builds the real app with a logger that records its JSON lines in memory. */
export function createTestService(env: Record<string, string> = {}): TestService {
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", ...env });
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger("info", { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  let draining = false;
  const app = createApp({ config, logger, buildInfo: TEST_BUILD_INFO, isDraining: () => draining });
  return { app, config, logs, logger, setDraining: (value) => (draining = value) };
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
