// The real server in this process, over TCP on an ephemeral port.
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { requestTimeout } from "../src/app.js";
import { startServer, type RunningServer } from "../src/server.js";
import { httpRequest } from "./helpers/process.js";
import { createTestService, sleep, type TestService } from "./helpers/service.js";

const running: RunningServer[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) {
    server.server.closeAllConnections();
    await server.shutdown("test end");
  }
});

async function listen(service: TestService, env: Partial<Record<string, number>> = {}): Promise<RunningServer> {
  const config = { ...service.config, ...env };
  const server = await startServer({ app: service.app, config, logger: service.logger, onDrain: () => service.setDraining(true) });
  running.push(server);
  return server;
}

describe("server over TCP", () => {
  it("serves requests and round-trips the request id", async () => {
    const service = createTestService();
    const { address } = await listen(service);
    const res = await httpRequest(address.port, "/api/greeting?name=Ada", { headers: { "X-Request-Id": "tcp-42" } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ greeting: "Hello, Ada!" });
    expect(res.headers["x-request-id"]).toBe("tcp-42");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["content-security-policy"]).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(service.logs.find((line) => line.msg === "request")).toMatchObject({ requestId: "tcp-42", status: 200 });
  });

  it("keeps connections alive and reuses them, with the load-balancer timeouts", async () => {
    const service = createTestService({ KEEP_ALIVE_TIMEOUT_MS: "65000" });
    const { address, server } = await listen(service);
    expect(server.keepAliveTimeout).toBe(65_000);
    // The headers timeout is independent of keep-alive: slow clients are cut after it, idle keep-alive connections are not.
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(40_000);

    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: "127.0.0.1", port: address.port, path: "/healthz", agent }, resolve).once("error", reject));
      ports.push(res.socket.localPort!);
      expect(res.headers["keep-alive"]).toBe("timeout=65");
      res.resume();
      await new Promise((resolve) => res.once("end", resolve));
    }
    agent.destroy();
    expect(new Set(ports).size).toBe(1);
  });

  it("rejects when the port is taken", async () => {
    const first = await listen(createTestService());
    const second = createTestService();
    await expect(startServer({ app: second.app, config: { ...second.config, port: first.address.port }, logger: second.logger, onDrain: () => undefined })).rejects.toMatchObject({
      code: "EADDRINUSE",
    });
  });

  it("during the drain: readiness is 503, in-flight requests finish, new connections are refused", async () => {
    const service = createTestService({ REQUEST_TIMEOUT_MS: "60000" });
    service.app.get("/api/test/slow", requestTimeout(service.config.requestTimeoutMs), async (c) => {
      await sleep(400);
      return c.json({ done: true });
    });
    const server = await listen(service, { shutdownGraceMs: 5000 });
    const inFlight = httpRequest(server.address.port, "/api/test/slow");
    await sleep(100);

    const exitCode = server.shutdown("test");
    expect((await service.app.request("/readyz")).status).toBe(503);
    await expect(httpRequest(server.address.port, "/readyz")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBe("close");
    expect(await exitCode).toBe(0);
    expect(server.shutdown("again")).toBe(exitCode);
  });
});
