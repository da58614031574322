// The smoke test's probe script (dagger/src/smoke.ts), run with node against the real bundled service and a broken one.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMOKE_SCRIPT, smokeProbes } from "../../dagger/src/smoke.js";
import { buildBundle, spawnService, type ServiceProcess } from "../helpers/process.js";

const run = promisify(execFile);
let folder: string;
let script: string;

beforeAll(() => {
  folder = mkdtempSync(path.join(tmpdir(), "smoke-"));
  script = path.join(folder, "smoke.mjs");
  writeFileSync(script, SMOKE_SCRIPT);
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

async function probe(baseUrl: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [script], { env: { ...process.env, SMOKE_BASE_URL: baseUrl, SMOKE_PROBES: JSON.stringify(smokeProbes("hono-ecr-service")) } });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe("smoke probe script", () => {
  let service: ServiceProcess;
  beforeAll(async () => {
    buildBundle(path.join(folder, "server.mjs"));
    service = await spawnService([path.join(folder, "server.mjs")]);
  }, 60_000);
  afterAll(() => void service.child.kill("SIGKILL"));

  it("passes against the real service", async () => {
    const result = await probe(`http://127.0.0.1:${service.port}`);
    expect(result.stdout).toBe(["ok   GET /healthz", "ok   GET /readyz", "ok   GET /", "ok   GET /smoke/no-such-route", "smoke test passed: 4 probes", ""].join("\n"));
    expect(result.code).toBe(0);
  });

  it("fails, saying what is wrong, against a server that answers 503 with plain text", async () => {
    const broken = http.createServer((_req, res) => res.writeHead(503, { "content-type": "text/plain" }).end("down"));
    await new Promise<void>((resolve) => broken.listen(0, "127.0.0.1", resolve));
    try {
      const result = await probe(`http://127.0.0.1:${(broken.address() as AddressInfo).port}`);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain("FAIL GET /healthz: status 503, expected 200; no X-Request-Id header; body is not JSON: down");
      expect(result.stdout).toContain("smoke test failed: 4 of 4 probes (/healthz, /readyz, /, /smoke/no-such-route)");
    } finally {
      broken.close();
    }
  });
});
