import { describe, expect, it } from "vitest";
import { readBuildInfo } from "../src/build-info.js";
import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("applies the defaults when nothing is set (empty counts as unset)", () => {
    const defaults = {
      port: 8080,
      host: "0.0.0.0",
      logLevel: "info",
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 10_000,
      shutdownGraceMs: 25_000,
      keepAliveTimeoutMs: 65_000,
      headersTimeoutMs: 10_000,
    };
    expect(loadConfig({})).toEqual(defaults);
    expect(loadConfig({ PORT: "", LOG_LEVEL: "" })).toEqual(defaults);
  });

  it("defaults fit an ECS Fargate task behind an ALB", () => {
    const config = loadConfig({});
    expect(config.shutdownGraceMs).toBeLessThan(30_000); // Fargate sends SIGKILL 30 s after SIGTERM by default
    expect(config.keepAliveTimeoutMs).toBeGreaterThan(60_000); // ALB idle timeout
    expect(config.headersTimeoutMs).toBeLessThanOrEqual(10_000); // slow clients are cut long before keep-alive ends
  });

  it("parses valid values", () => {
    expect(
      loadConfig({ PORT: "0", HOST: "::1", LOG_LEVEL: "debug", BODY_LIMIT_BYTES: "10", REQUEST_TIMEOUT_MS: "5", SHUTDOWN_GRACE_MS: "0", KEEP_ALIVE_TIMEOUT_MS: "70000", HEADERS_TIMEOUT_MS: "2000" }),
    ).toEqual({ port: 0, host: "::1", logLevel: "debug", bodyLimitBytes: 10, requestTimeoutMs: 5, shutdownGraceMs: 0, keepAliveTimeoutMs: 70_000, headersTimeoutMs: 2_000 });
  });

  it("reports every invalid variable in one error, quoting long values only in part", () => {
    const error = (() => {
      try {
        loadConfig({ PORT: "http", LOG_LEVEL: "x".repeat(500) });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toBe(
      `PORT="http" is invalid: expected an integer from 0 to 65535; LOG_LEVEL="${"x".repeat(64)}..." is invalid: expected one of fatal, error, warn, info, debug, trace, silent`,
    );
  });

  it.each(["1e3", "0x10", "08080 ", "+1", "99999999999999999999"])("rejects PORT=%j", (value) => {
    expect(() => loadConfig({ PORT: value })).toThrow(ConfigError);
  });
});

describe("readBuildInfo", () => {
  it("from source, takes name and version from npm's environment and says unknown for the rest", () => {
    const saved = { name: process.env.npm_package_name, version: process.env.npm_package_version };
    try {
      process.env.npm_package_name = "my-service";
      process.env.npm_package_version = "9.9.9";
      expect(readBuildInfo()).toEqual({ name: "my-service", version: "9.9.9", commit: "unknown", buildTime: "unknown" });
      delete process.env.npm_package_name;
      delete process.env.npm_package_version;
      expect(readBuildInfo()).toEqual({ name: "unknown", version: "unknown", commit: "unknown", buildTime: "unknown" });
    } finally {
      if (saved.name === undefined) delete process.env.npm_package_name;
      else process.env.npm_package_name = saved.name;
      if (saved.version === undefined) delete process.env.npm_package_version;
      else process.env.npm_package_version = saved.version;
    }
  });
});
