// Graceful shutdown of a real service process (test/fixtures/slow-server.ts: the real server plus a slow route) on SIGTERM/SIGINT.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { httpRequest, spawnService, type ServiceProcess } from "./helpers/process.js";

const FIXTURE = ["--import", "tsx", "test/fixtures/slow-server.ts"];
const started: ServiceProcess[] = [];

async function startFixture(env: Record<string, string>): Promise<ServiceProcess> {
  const service = await spawnService(FIXTURE, { REQUEST_TIMEOUT_MS: "60000", ...env });
  started.push(service);
  return service;
}

afterEach(() => {
  for (const service of started.splice(0)) if (service.child.exitCode === null) service.child.kill("SIGKILL");
});

function logIndex(service: ServiceProcess, msg: string): number {
  return service.logs.findIndex((line) => line.msg === msg);
}

describe("graceful shutdown", () => {
  it("SIGTERM: the in-flight request completes with 200, new connections are refused, exit 0", async () => {
    const service = await startFixture({ SHUTDOWN_GRACE_MS: "10000" });
    const inFlight = httpRequest(service.port, "/api/test/slow?ms=1500");
    await service.waitForLog("slow request started");

    service.child.kill("SIGTERM");
    await service.waitForLog("listener closed: no new connections; connections without a response in progress closed; draining in-flight requests");
    await expect(httpRequest(service.port, "/healthz")).rejects.toMatchObject({ code: "ECONNREFUSED" });

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ sleptMs: 1500 });
    expect(response.headers.connection).toBe("close");
    expect(await service.exitCode).toBe(0);

    const steps = ["shutdown started: readiness fails from now on", "all connections closed", "exiting"].map((msg) => logIndex(service, msg));
    expect(steps.every((index) => index >= 0)).toBe(true);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(service.logs.find((line) => line.msg === "exiting")).toMatchObject({ exitCode: 0 });
    expect(service.logs.find((line) => line.msg === "shutdown started: readiness fails from now on")).toMatchObject({ reason: "SIGTERM" });
  });

  it("SIGINT drains the same way", async () => {
    const service = await startFixture({ SHUTDOWN_GRACE_MS: "10000" });
    const inFlight = httpRequest(service.port, "/api/test/slow?ms=300");
    await service.waitForLog("slow request started");
    service.child.kill("SIGINT");
    expect((await inFlight).status).toBe(200);
    expect(await service.exitCode).toBe(0);
  });

  it("idle keep-alive connections are closed at once instead of holding the exit for the keep-alive timeout", async () => {
    const service = await startFixture({ SHUTDOWN_GRACE_MS: "20000", KEEP_ALIVE_TIMEOUT_MS: "60000" });
    const socket = net.connect(service.port, "127.0.0.1");
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    await new Promise((resolve) => socket.once("data", resolve));

    const signalled = Date.now();
    service.child.kill("SIGTERM");
    await closed;
    expect(await service.exitCode).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(15_000);
  });

  it("the access log is written asynchronously, and every line reaches stdout before the exit", async () => {
    const service = await startFixture({ SHUTDOWN_GRACE_MS: "5000" });
    const agent = new (await import("node:http")).Agent({ keepAlive: true, maxSockets: 8 });
    const ids = Array.from({ length: 300 }, (_, i) => `flush-${i}`);
    await Promise.all(ids.map((id) => httpRequest(service.port, "/api/greeting?name=Ada", { agent, headers: { "X-Request-Id": id } })));
    agent.destroy();
    service.child.kill("SIGTERM");
    expect(await service.exitCode).toBe(0);
    const logged = new Set(service.logs.filter((line) => line.msg === "request").map((line) => line.requestId));
    expect(ids.filter((id) => !logged.has(id))).toEqual([]);
    expect(service.logs.at(-1)).toMatchObject({ msg: "exiting", exitCode: 0 });
  }, 20_000);

  it("SIGTERM exits when the log reader has gone (stdout a closed pipe: EPIPE), instead of retrying the last lines forever", async () => {
    // sonic-boom 4.2.1's flushSync, which pino runs at exit, retries a failed write in a loop whatever the error, and
    // pino only stops writing once the asynchronous write's EPIPE has been handled (pino 10.4.0 lib/tools.js,
    // filterBrokenPipe): exiting before that spun forever. The service flushes asynchronously before it exits.
    const service = await startFixture({ SHUTDOWN_GRACE_MS: "5000" });
    await service.waitForLog("started"); // logged in the same tick as the signal handlers are installed
    service.child.stdout!.destroy();
    service.child.kill("SIGTERM");
    const exited = await Promise.race([service.exitCode, new Promise((resolve) => setTimeout(() => resolve("still running 15 s after SIGTERM"), 15_000))]);
    expect({ exited, signal: service.child.signalCode }).toEqual({ exited: 0, signal: null });
  }, 25_000);

  it("a connection that has sent half its headers is closed at SIGTERM, while the in-flight request completes: exit 0", async () => {
    // Node counts such a connection as busy; left alone it would hold the exit for the whole grace period (then exit 1).
    const service = await startFixture({ SHUTDOWN_GRACE_MS: "8000" });
    const halfSent = net.connect(service.port, "127.0.0.1");
    const halfClosed = new Promise<void>((resolve) => halfSent.once("close", () => resolve()));
    halfSent.on("error", () => undefined);
    await new Promise((resolve) => halfSent.once("connect", resolve));
    halfSent.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow:");
    const inFlight = httpRequest(service.port, "/api/test/slow?ms=500");
    await service.waitForLog("slow request started");

    service.child.kill("SIGTERM");
    await halfClosed;
    expect((await inFlight).status).toBe(200);
    expect(await service.exitCode).toBe(0);
    expect(service.logs.find((line) => line.msg?.toString().startsWith("listener closed"))).toMatchObject({ closedWithoutResponse: 1 });
    expect(logIndex(service, "all connections closed")).toBeGreaterThan(0);
  }, 20_000);

  it("a request that outlives the grace period is cut off and the process exits 1", async () => {
    const service = await startFixture({ SHUTDOWN_GRACE_MS: "300" });
    const inFlight = httpRequest(service.port, "/api/test/slow?ms=20000");
    await service.waitForLog("slow request started");
    service.child.kill("SIGTERM");
    await expect(inFlight).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await service.exitCode).toBe(1);
    expect(logIndex(service, "grace period over: force-closing the remaining connections")).toBeGreaterThanOrEqual(0);
    expect(service.logs.find((line) => line.msg === "exiting")).toMatchObject({ exitCode: 1 });
  });

  it("a second signal during the drain exits at once with 1", async () => {
    const service = await startFixture({ SHUTDOWN_GRACE_MS: "20000" });
    void httpRequest(service.port, "/api/test/slow?ms=20000").catch(() => undefined);
    await service.waitForLog("slow request started");
    service.child.kill("SIGTERM");
    await service.waitForLog("listener closed: no new connections; connections without a response in progress closed; draining in-flight requests");
    service.child.kill("SIGTERM");
    expect(await service.exitCode).toBe(1);
    expect(logIndex(service, "second signal during shutdown: exiting now")).toBeGreaterThanOrEqual(0);
  });
});
