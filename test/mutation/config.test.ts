// src/config.ts at its edges: each variable's bounds (both ends in, one past out), the host and log-level rules, and
// the error, which names the variable, the value (quoted in part past 64 characters) and the rule it breaks.
import { describe, expect, it } from "vitest";
import { ConfigError, LOG_LEVELS, SETTINGS, loadConfig } from "../../src/config.js";

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    // Its name, as a stack trace or a log's err.type shows it.
    expect((error as Error).name).toBe("ConfigError");
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

const BOUNDS: [string, keyof ReturnType<typeof loadConfig>, number, number][] = [
  ["PORT", "port", 0, 65_535],
  ["BODY_LIMIT_BYTES", "bodyLimitBytes", 1, 104_857_600],
  ["REQUEST_TIMEOUT_MS", "requestTimeoutMs", 1, 600_000],
  ["SHUTDOWN_GRACE_MS", "shutdownGraceMs", 0, 120_000],
  ["KEEP_ALIVE_TIMEOUT_MS", "keepAliveTimeoutMs", 1, 600_000],
  ["HEADERS_TIMEOUT_MS", "headersTimeoutMs", 1_000, 120_000],
];

describe("loadConfig: whole numbers within each variable's bounds", () => {
  it.each(BOUNDS)("%s accepts %s's bounds and refuses one past each, naming the rule", (env, key, min, max) => {
    expect(loadConfig({ [env]: String(min) })[key]).toBe(min);
    expect(loadConfig({ [env]: String(max) })[key]).toBe(max);
    const rule = SETTINGS.find((setting) => setting.env === env)!.rule;
    expect(rule).toContain(String(max));
    expect(configError({ [env]: String(max + 1) })).toBe(`${env}="${max + 1}" is invalid: expected ${rule}`);
    if (min > 0) expect(configError({ [env]: String(min - 1) })).toBe(`${env}="${min - 1}" is invalid: expected ${rule}`);
  });

  it("the rules say what the bounds are", () => {
    expect(SETTINGS.map((setting) => [setting.env, setting.rule])).toEqual([
      ["PORT", "an integer from 0 to 65535"],
      ["HOST", "a host name or IP address (letters, digits, '.', ':', '-', '_')"],
      ["LOG_LEVEL", "one of fatal, error, warn, info, debug, trace, silent"],
      ["BODY_LIMIT_BYTES", "an integer number of bytes from 1 to 104857600"],
      ["REQUEST_TIMEOUT_MS", "an integer number of milliseconds from 1 to 600000"],
      ["SHUTDOWN_GRACE_MS", "an integer number of milliseconds from 0 to 120000 (ECS stopTimeout is at most 120 s)"],
      ["KEEP_ALIVE_TIMEOUT_MS", "an integer number of milliseconds from 1 to 600000"],
      ["HEADERS_TIMEOUT_MS", "an integer number of milliseconds from 1000 to 120000"],
    ]);
  });

  it("only decimal digits, at most 15 of them, nothing around them", () => {
    expect(loadConfig({ PORT: "000000000000080" }).port).toBe(80);
    for (const raw of ["0000000000000080", " 80", "80 ", "8a", "-1", "1.0", "a80", "80a"]) expect(configError({ PORT: raw })).toContain(`PORT=${JSON.stringify(raw)} is invalid`);
  });
});

describe("loadConfig: HOST and LOG_LEVEL", () => {
  it.each(["localhost", "127.0.0.1", "::1", "my_host-1.example.com", "a", "a".repeat(253)])("HOST=%s is accepted", (host) => {
    expect(loadConfig({ HOST: host }).host).toBe(host);
  });
  it.each(["a".repeat(254), "host name", "host/x", "höst", "[::1]", "x\n"])("HOST=%j is refused", (host) => {
    expect(configError({ HOST: host })).toContain("HOST=");
  });
  it("every level is accepted; another word is refused with the list", () => {
    for (const level of LOG_LEVELS) expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
    expect(configError({ LOG_LEVEL: "INFO" })).toBe('LOG_LEVEL="INFO" is invalid: expected one of fatal, error, warn, info, debug, trace, silent');
    expect(configError({ LOG_LEVEL: "verbose" })).toContain("LOG_LEVEL");
  });
});

describe("loadConfig: the error", () => {
  it("quotes a value of 64 characters whole and a longer one cut at 64", () => {
    expect(configError({ LOG_LEVEL: "x".repeat(64) })).toContain(`LOG_LEVEL="${"x".repeat(64)}" is invalid`);
    expect(configError({ LOG_LEVEL: "y".repeat(65) })).toContain(`LOG_LEVEL="${"y".repeat(64)}..." is invalid`);
  });

  it("lists every invalid variable, in the settings' order, and sets nothing from the valid ones", () => {
    expect(configError({ HEADERS_TIMEOUT_MS: "1", PORT: "x", HOST: "127.0.0.1" })).toBe(
      'PORT="x" is invalid: expected an integer from 0 to 65535; HEADERS_TIMEOUT_MS="1" is invalid: expected an integer number of milliseconds from 1000 to 120000',
    );
  });

  it("unset and empty variables take the defaults; a valid value replaces only its own", () => {
    expect(loadConfig({ PORT: "", LOG_LEVEL: "debug" })).toEqual({
      port: 8080,
      host: "0.0.0.0",
      logLevel: "debug",
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 10_000,
      shutdownGraceMs: 25_000,
      keepAliveTimeoutMs: 65_000,
      headersTimeoutMs: 10_000,
    });
  });
});
