// Malformed and hostile requests against the real server over TCP: clear JSON errors, no crash, health intact.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server.js";
import { httpRequest } from "./helpers/process.js";
import { expectServiceAnswer, jsonBodyOf, parseResponses, rawExchange as rawExchangeWith, statusOf } from "./helpers/raw-http.js";
import { createTestService, type TestService } from "./helpers/service.js";

let service: TestService;
let server: RunningServer;

beforeAll(async () => {
  service = createTestService({ BODY_LIMIT_BYTES: "1024" });
  server = await startServer({ app: service.app, config: service.config, logger: service.logger, onDrain: () => undefined });
});
afterAll(async () => {
  server.server.closeAllConnections();
  await server.shutdown("test end");
});

/** Writes raw bytes on a new connection and returns everything the server sent until it closed (or 2 s passed). */
const rawExchange = (payload: string | Buffer): Promise<string> => rawExchangeWith(server.address.port, payload);

async function expectHealthy(): Promise<void> {
  expect((await httpRequest(server.address.port, "/healthz")).status).toBe(200);
}

describe("bad input over TCP", () => {
  it.each([
    ["a garbage request line", "\u0000\u0001garbage\r\n\r\n", 400],
    ["an unknown method", "FROB / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["a header line without a colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400],
    ["a 20 KB path", `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
    ["a 20 KB header", `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`, 431],
  ])("%s -> JSON %d from the parser-error handler, then the server is still healthy", async (_name, payload, status) => {
    const raw = await rawExchange(payload);
    expect(statusOf(raw)).toBe(status);
    const body = jsonBodyOf(raw);
    expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(raw).toContain(`X-Request-Id: ${body.error.requestId}`);
    await expectHealthy();
  });

  it.each([
    ["HTTP/1.0 without a Host", 400, "bad_request", "GET / HTTP/1.0\r\n\r\n"],
    ["HTTP/1.1 without a Host", 400, "bad_request", "GET /healthz HTTP/1.1\r\n\r\n"],
    ["a Host with a space", 400, "bad_request", "GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"],
    ["a Host with a bad port", 400, "bad_request", "GET / HTTP/1.1\r\nHost: x:99999\r\nConnection: close\r\n\r\n"],
    ["OPTIONS *", 400, "bad_request", "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["absolute form with port 99999", 400, "bad_request", "GET http://x:99999/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["absolute form with an ftp: scheme", 400, "bad_request", "GET ftp://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    ["an HTTP/0.9 request line", 400, "bad_request", "GET /\r\n\r\n"],
    ["Expect: 200-ok", 417, "expectation_failed", "GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n"],
    ["CONNECT", 405, "method_not_allowed", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"],
    ["a garbage request line", 400, "bad_request", "\u0000\u0001garbage\r\n\r\n"],
    ["a 20 KB header", 431, "headers_too_large", `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`],
  ])("%s -> JSON %d %s with the request id and the security headers", async (_name, status, code, payload) => {
    const raw = await rawExchange(payload);
    expect(statusOf(raw), raw.slice(0, 200)).toBe(status);
    expect(jsonBodyOf(raw).error.code).toBe(code);
    expectServiceAnswer(parseResponses(raw)[0]!);
    await expectHealthy();
  });

  it("answers written by Hono carry the same headers, written on Node's response before the app runs", async () => {
    for (const request of ["GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]) {
      const raw = await rawExchange(request);
      const head = raw.slice(0, raw.indexOf("\r\n\r\n")).toLowerCase();
      expect(head).toContain("x-content-type-options: nosniff");
      expect(head).toMatch(/x-request-id: [0-9a-f-]{36}/);
      // Each header once: Node's response and Hono's answer did not both write them.
      expect(head.match(/x-frame-options/g)).toHaveLength(1);
      expect(head.match(/x-request-id/g)).toHaveLength(1);
    }
  });

  it("a POST body over the route's limit is refused from Content-Length, unread; a chunked one is cut as it streams", async () => {
    const big = JSON.stringify({ name: "a".repeat(5000) });
    const declared = await rawExchange(`POST /api/greeting HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999\r\nConnection: close\r\n\r\n{}`);
    expect(statusOf(declared)).toBe(413);
    expect(jsonBodyOf(declared).error.code).toBe("payload_too_large");
    const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
    const chunked = await rawExchange(
      `POST /api/greeting HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk(big.slice(0, 3000))}${chunk(big.slice(3000))}0\r\n\r\n`,
    );
    expect(statusOf(chunked)).toBe(413);
    expect(jsonBodyOf(chunked).error.message).toContain("1024 bytes");
    await expectHealthy();
  });

  it.each([
    ["/%ff%fe", 404],
    ["/%00", 404],
    ["/..%2f..%2fetc%2fpasswd", 404],
    ["/api/greeting?name=%ff", 400],
    ["/api/greeting?name=%E2%80%AE", 400],
    [`/${"x/".repeat(3000)}`, 404],
    ["/healthz/", 404],
    ["//healthz", 404],
  ])("odd path %s -> %d JSON", async (path, status) => {
    const res = await httpRequest(server.address.port, path);
    expect(res.status).toBe(status);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    await expectHealthy();
  });

  it("oversized, truncated and invalid JSON bodies get 413 or 400", async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      httpRequest(server.address.port, "/api/greeting", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    expect((await post(JSON.stringify({ name: "a".repeat(2000) }))).status).toBe(413);
    expect((await post('{"name": "Ada"')).status).toBe(400);
    expect((await post("\u0000\u0001")).status).toBe(400);
    expect((await post('{"name": "Ada"}', { "transfer-encoding": "chunked" })).status).toBe(200);
    const truncated = await rawExchange('POST /api/greeting HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"name":');
    expect(truncated).toBe(""); // the client never finished its body: nothing to answer, connection closed by the test timeout
    await expectHealthy();
  });

  it("invalid request ids are replaced, valid ones kept", async () => {
    const bad = await httpRequest(server.address.port, "/", { headers: { "X-Request-Id": "<script>alert(1)</script>" } });
    expect(bad.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const good = await httpRequest(server.address.port, "/", { headers: { "X-Request-Id": "abc-123" } });
    expect(good.headers["x-request-id"]).toBe("abc-123");
  });

  it("logged no unhandled errors", () => {
    expect(service.logs.filter((line) => line.level === "error" || line.level === "fatal")).toEqual([]);
  });
});
