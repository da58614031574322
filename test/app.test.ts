import { describe, expect, it } from "vitest";
import { HTTPException } from "hono/http-exception";
import { requestTimeout } from "../src/app.js";
import { createTestService, sleep, TEST_BUILD_INFO } from "./helpers/service.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface ErrorJson {
  error: { code: string; message: string; requestId: string };
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorJson> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorJson;
  expect(body.error.code).toBe(code);
  expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
  expect(body.error.requestId).not.toBe("");
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(ts|js|mjs):\d+/);
  return body;
}

describe("routes", () => {
  it("GET / greets with the service name and version", async () => {
    const { request } = createTestService();
    const res = await request("/");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ service: "hono-ecr-service", version: "1.2.3", message: "Hello from Hono" });
  });

  it("GET /healthz answers 200 even while draining", async () => {
    const service = createTestService();
    expect(await (await service.request("/healthz")).json()).toEqual({ status: "ok" });
    service.setDraining(true);
    expect((await service.request("/healthz")).status).toBe(200);
  });

  it("GET /readyz is 200 until the drain begins, then 503", async () => {
    const service = createTestService();
    const ready = await service.request("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    service.setDraining(true);
    const draining = await service.request("/readyz");
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: "draining" });
    // Connection: close during the drain is the server's (test/server.test.ts, "during the drain").
  });

  it("GET /version reports the build info and the Node version", async () => {
    const { request } = createTestService();
    expect(await (await request("/version")).json()).toEqual({ ...TEST_BUILD_INFO, node: process.version });
  });

  it("HEAD is answered wherever GET is, without a body", async () => {
    const { request } = createTestService();
    const res = await request("/healthz", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });
});

describe("example API: /api/greeting", () => {
  it("greets the world by default and a valid name when given", async () => {
    const { request } = createTestService();
    expect(await (await request("/api/greeting")).json()).toEqual({ greeting: "Hello, world!" });
    expect(await (await request("/api/greeting?name=Zo%C3%AB%20O'Neil-Smith")).json()).toEqual({ greeting: "Hello, Zoë O'Neil-Smith!" });
  });

  it.each([
    ["/api/greeting?name=", "query parameter name \"\" is invalid"],
    ["/api/greeting?name=%3Cscript%3E", "query parameter name \"<script>\" is invalid"],
    ["/api/greeting?name=1abc", "query parameter name \"1abc\" is invalid"],
    [`/api/greeting?name=${"a".repeat(101)}`, "is invalid: expected 1 to 100 letters"],
    ["/api/greeting?name=a&name=b", "query parameter name is a list"],
  ])("GET %s -> 400 naming the value and the rule", async (path, message) => {
    const { request } = createTestService();
    const body = await expectError(await request(path), 400, "bad_request");
    expect(body.error.message).toContain(message);
    expect(body.error.message).toContain("expected");
  });

  it("POST with a JSON body greets the name", async () => {
    const { request } = createTestService();
    const res = await request("/api/greeting", { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"Ada"}' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ greeting: "Hello, Ada!" });
  });

  it.each([
    ['{"name":', "Malformed JSON"],
    ["[1,2]", "body field name is missing"],
    ['{"name":42}', "body field name is a number"],
    ['{"nom":"Ada"}', "body field name is missing"],
  ])("POST %s -> 400", async (body, message) => {
    const { request } = createTestService();
    const res = await request("/api/greeting", { method: "POST", headers: { "content-type": "application/json" }, body });
    expect((await expectError(res, 400, "bad_request")).error.message).toContain(message);
  });

  it("POST without a JSON content type -> 415", async () => {
    const { request } = createTestService();
    const res = await request("/api/greeting", { method: "POST", headers: { "content-type": "text/plain" }, body: "Ada" });
    await expectError(res, 415, "unsupported_media_type");
  });
});

describe("errors", () => {
  it("unknown route -> 404 JSON", async () => {
    const { request } = createTestService();
    const body = await expectError(await request("/does-not-exist"), 404, "not_found");
    expect(body.error.message).toBe("no route for GET /does-not-exist");
  });

  it.each(["DELETE", "PUT", "PATCH", "OPTIONS"])("%s on an existing GET path -> 405 with Allow", async (method) => {
    const { request } = createTestService();
    const res = await request("/healthz", { method });
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });

  it("405 lists every method of a path that has several", async () => {
    const { request } = createTestService();
    const res = await request("/api/greeting", { method: "DELETE" });
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET, HEAD, POST");
  });

  it("body over the limit -> 413, with and without Content-Length", async () => {
    const { request } = createTestService({ BODY_LIMIT_BYTES: "64" });
    const body = JSON.stringify({ name: "a".repeat(100) });
    const withLength = await request("/api/greeting", { method: "POST", headers: { "content-type": "application/json", "content-length": String(body.length) }, body });
    expect((await expectError(withLength, 413, "payload_too_large")).error.message).toContain("64 bytes");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(body));
        controller.close();
      },
    });
    const chunked = await request("/api/greeting", { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" });
    await expectError(chunked, 413, "payload_too_large");
  });

  it("a handler slower than REQUEST_TIMEOUT_MS -> 503", async () => {
    const { app, request, config } = createTestService({ REQUEST_TIMEOUT_MS: "50" });
    app.get("/api/test/slow", requestTimeout(config.requestTimeoutMs), async (c) => {
      await sleep(500);
      return c.text("late");
    });
    const body = await expectError(await request("/api/test/slow"), 503, "request_timeout");
    expect(body.error.message).toContain("50 ms");
  });

  it("an unexpected error -> 500 without internals, logged with the request id", async () => {
    const service = createTestService();
    service.app.get("/test/boom", () => {
      throw new Error("secret database password in message");
    });
    const res = await service.request("/test/boom");
    const body = await expectError(res, 500, "internal_error");
    expect(body.error.message).toBe("internal server error");
    expect(JSON.stringify(body)).not.toContain("secret");
    const logged = service.logs.find((line) => line.msg === "unhandled error");
    expect(logged).toMatchObject({ level: "error", requestId: body.error.requestId });
    expect(JSON.stringify(logged)).toContain("secret database password");
  });

  it("HTTPException thrown by a handler keeps its status and message", async () => {
    const { app, request } = createTestService();
    app.get("/test/teapot", () => {
      throw new HTTPException(418, { message: "short and stout" });
    });
    const body = await expectError(await request("/test/teapot"), 418, "client_error");
    expect(body.error.message).toBe("short and stout");
  });
});

describe("the app without the server (app.request())", () => {
  it("answers its routes and errors, with a request id in every error body", async () => {
    const { app } = createTestService();
    expect(await (await app.request("/api/greeting?name=Ada")).json()).toEqual({ greeting: "Hello, Ada!" });
    const invalid = await app.request("/api/greeting?name=1", { headers: { "X-Request-Id": "unit-1" } });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as ErrorJson).error).toMatchObject({ code: "bad_request", requestId: "unit-1" });
    // The HTTP layer (security headers, X-Request-Id, access log) is the server's: not here.
    expect(invalid.headers.get("x-request-id")).toBeNull();
  });
});

describe("headers and request ids", () => {
  it("generates a UUID request id when none is sent", async () => {
    const { request } = createTestService();
    expect((await request("/")).headers.get("x-request-id")).toMatch(UUID);
  });

  it("reuses a valid incoming X-Request-Id and echoes it", async () => {
    const { request } = createTestService();
    const res = await request("/nope", { headers: { "X-Request-Id": "trace-abc_123=" } });
    expect(res.headers.get("x-request-id")).toBe("trace-abc_123=");
    expect(((await res.json()) as ErrorJson).error.requestId).toBe("trace-abc_123=");
  });

  it.each([["has spaces"], ["semi;colon"], ["x".repeat(256)], ["new\u00e9"]])("replaces an invalid incoming request id (%#)", async (id) => {
    const { request } = createTestService();
    const res = await request("/", { headers: { "X-Request-Id": id } });
    expect(res.headers.get("x-request-id")).toMatch(UUID);
  });

  it("sets a JSON API's security headers on every response, errors included, and no HTML-era ones", async () => {
    const { request } = createTestService();
    for (const path of ["/", "/nope", "/healthz"]) {
      const res = await request(path);
      const transport = ["content-type", "content-length", "x-request-id", "date", "connection", "keep-alive"];
      expect(Object.fromEntries([...res.headers].filter(([name]) => !transport.includes(name)))).toEqual({
        "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "referrer-policy": "no-referrer",
        "strict-transport-security": "max-age=15552000; includeSubDomains",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
      });
    }
  });
});

describe("access log", () => {
  it("writes one JSON line per request with method, path, status, duration and request id", async () => {
    const service = createTestService();
    await service.request("/api/greeting?name=Ada", { headers: { "X-Request-Id": "req-1" } });
    await service.request("/nope");
    const lines = service.logs.filter((line) => line.msg === "request");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: "info", method: "GET", path: "/api/greeting", status: 200, requestId: "req-1" });
    expect(lines[1]).toMatchObject({ method: "GET", path: "/nope", status: 404 });
    expect(typeof lines[0]!.durationMs).toBe("number");
    expect(typeof lines[0]!.time).toBe("string");
  });

  it("does not log health and readiness probes", async () => {
    const service = createTestService();
    await service.request("/healthz");
    await service.request("/readyz");
    expect(service.logs.filter((line) => line.msg === "request")).toHaveLength(0);
  });

  it("cuts very long paths", async () => {
    const service = createTestService();
    await service.request(`/${"x".repeat(5000)}`);
    const line = service.logs.find((entry) => entry.msg === "request");
    expect((line!.path as string).length).toBe(1024);
  });
});

describe("error codes", () => {
  it("a plain HTTPException 503 from a handler is service_unavailable, not a timeout", async () => {
    const { app, request } = createTestService();
    app.get("/test/unavailable", () => {
      throw new HTTPException(503, { message: "database is down" });
    });
    const res = await request("/test/unavailable");
    expect(((await res.json()) as ErrorJson).error).toMatchObject({ code: "service_unavailable", message: "database is down" });
  });
});
