/**
 * Service configuration: read from the environment once at start, validated strictly.
 * An invalid value stops the start with a ConfigError naming the variable, the value and the rule.
 */

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated configuration of one service process. */
export interface Config {
  /** TCP port to listen on (0 picks a free port). */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Minimum pino level written to stdout. */
  logLevel: LogLevel;
  /** Largest request body accepted, in bytes; larger bodies get 413. */
  bodyLimitBytes: number;
  /** Time a handler may take before the request is answered with 503. */
  requestTimeoutMs: number;
  /** Time in-flight requests get to finish after SIGTERM before connections are force-closed. */
  shutdownGraceMs: number;
  /** Idle keep-alive time; must exceed the load balancer's idle timeout (ALB: 60 s). */
  keepAliveTimeoutMs: number;
  /** Time a client gets to send its request headers once it has begun; slower ones are cut (408). */
  headersTimeoutMs: number;
}

/** One configurable variable: its name, default, meaning and parser. Drives parsing and the README table. */
interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  default: Config[K];
  meaning: string;
  parse: (raw: string) => Config[K] | undefined;
  rule: string;
}

/** Thrown when an environment variable holds a value the service does not accept. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

function integerIn(min: number, max: number): (raw: string) => number | undefined {
  return (raw) => {
    if (!/^\d{1,15}$/.test(raw)) return undefined;
    const value = Number(raw);
    return value >= min && value <= max ? value : undefined;
  };
}

const MAX_TIMEOUT_MS = 600_000;

/** Every variable the service reads, in the order the README lists them. */
export const SETTINGS = [
  { key: "port", env: "PORT", default: 8080, meaning: "TCP port to listen on (0 picks a free port)", parse: integerIn(0, 65_535), rule: "an integer from 0 to 65535" },
  {
    key: "host",
    env: "HOST",
    default: "0.0.0.0",
    meaning: "interface to bind (0.0.0.0 in a container, 127.0.0.1 for local only)",
    parse: (raw: string) => (/^[A-Za-z0-9.:_-]{1,253}$/.test(raw) ? raw : undefined),
    rule: "a host name or IP address (letters, digits, '.', ':', '-', '_')",
  },
  {
    key: "logLevel",
    env: "LOG_LEVEL",
    default: "info",
    meaning: "minimum level of the JSON logs on stdout",
    parse: (raw: string) => LOG_LEVELS.find((level) => level === raw),
    rule: `one of ${LOG_LEVELS.join(", ")}`,
  },
  {
    key: "bodyLimitBytes",
    env: "BODY_LIMIT_BYTES",
    default: 1_048_576,
    meaning: "largest request body accepted; larger bodies get 413",
    parse: integerIn(1, 100 * 1_048_576),
    rule: "an integer number of bytes from 1 to 104857600",
  },
  {
    key: "requestTimeoutMs",
    env: "REQUEST_TIMEOUT_MS",
    default: 10_000,
    meaning: "time a handler that awaits I/O may take before the request is answered with 503 (routes with requestTimeout)",
    parse: integerIn(1, MAX_TIMEOUT_MS),
    rule: `an integer number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`,
  },
  {
    key: "shutdownGraceMs",
    env: "SHUTDOWN_GRACE_MS",
    default: 25_000,
    meaning: "after SIGTERM, time in-flight requests get before connections are force-closed (keep below ECS stopTimeout, 30 s on Fargate)",
    parse: integerIn(0, 120_000),
    rule: "an integer number of milliseconds from 0 to 120000 (ECS stopTimeout is at most 120 s)",
  },
  {
    key: "keepAliveTimeoutMs",
    env: "KEEP_ALIVE_TIMEOUT_MS",
    default: 65_000,
    meaning: "idle keep-alive timeout; keep above the load balancer's idle timeout (ALB: 60 s)",
    parse: integerIn(1, MAX_TIMEOUT_MS),
    rule: `an integer number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`,
  },
  {
    key: "headersTimeoutMs",
    env: "HEADERS_TIMEOUT_MS",
    default: 10_000,
    meaning: "time a client gets to send its request headers; slower clients are cut with 408 (slow-client protection), the body gets 30 s more",
    parse: integerIn(1_000, 120_000),
    rule: "an integer number of milliseconds from 1000 to 120000",
  },
] as const satisfies readonly Setting<keyof Config>[];

/** Largest number of characters of a rejected value quoted back in an error. */
const QUOTE_LIMIT = 64;

function quote(raw: string): string {
  const shown = raw.length > QUOTE_LIMIT ? `${raw.slice(0, QUOTE_LIMIT)}...` : raw;
  return JSON.stringify(shown);
}

/**
 * Parses the service configuration from `env`. Unset or empty variables take their defaults.
 * Throws one ConfigError that lists every invalid variable with its value and the accepted values.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const setting of SETTINGS) {
    const raw = env[setting.env];
    if (raw === undefined || raw === "") {
      config[setting.key] = setting.default;
      continue;
    }
    const value = (setting.parse as (raw: string) => unknown)(raw);
    if (value === undefined) problems.push(`${setting.env}=${quote(raw)} is invalid: expected ${setting.rule}`);
    else config[setting.key] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems.join("; "));
  return config as unknown as Config;
}
