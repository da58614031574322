// src/app.ts through app.request() (no server): the greeting name's rule at its edges, the greeting body's limit
// (the smaller of 4 KiB and BODY_LIMIT_BYTES), 404/405 with the Allow list, and the error handler's cases.
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import { createTestService } from "../helpers/service.js";

interface ErrorJson {
  error: { code: string; message: string; requestId: string };
}

async function answer(res: Response | Promise<Response>): Promise<{ status: number; body: Record<string, unknown> & Partial<ErrorJson>; allow: string | null }> {
  const response = await res;
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & Partial<ErrorJson>, allow: response.headers.get("allow") };
}

const post = (body: string, env: Record<string, string> = {}) =>
  createTestService(env).app.request("/api/greeting", { method: "POST", headers: { "content-type": "application/json" }, body });

describe("the greeting name", () => {
  it.each(["A", "a".repeat(100), "Zoë", "O'Neil", "Jean-Luc", "J. R. R.", "José", "Ñandú", "Łukasz", "李小龍", "Ame\u0301lie"])("accepts %j", async (name) => {
    const { app } = createTestService();
    expect(await answer(app.request(`/api/greeting?name=${encodeURIComponent(name)}`))).toMatchObject({ status: 200, body: { greeting: `Hello, ${name}!` } });
    expect(await answer(post(JSON.stringify({ name })))).toMatchObject({ status: 200, body: { greeting: `Hello, ${name}!` } });
  });

  it.each(["", "a".repeat(101), " Ada", "'Ada", "-Ada", ".Ada", "\u0301Ada", "Ada!", "Ada\n", "Ada1", "A_b"])("refuses %j", async (name) => {
    const { app } = createTestService();
    const { status, body } = await answer(app.request(`/api/greeting?name=${encodeURIComponent(name)}`));
    expect(status).toBe(400);
    expect(body.error!.message).toContain("expected 1 to 100 letters, spaces, apostrophes, hyphens or dots, starting with a letter");
  });

  it("quotes a refused name of 40 characters whole and a longer one cut at 40", async () => {
    const { app } = createTestService();
    const forty = `1${"a".repeat(39)}`;
    expect((await answer(app.request(`/api/greeting?name=${forty}`))).body.error!.message).toBe(`query parameter name ${JSON.stringify(forty)} is invalid: expected 1 to 100 letters, spaces, apostrophes, hyphens or dots, starting with a letter`);
    const long = `1${"b".repeat(40)}`;
    expect((await answer(app.request(`/api/greeting?name=${long}`))).body.error!.message).toContain(`${JSON.stringify(`${long.slice(0, 40)}...`)} is invalid`);
  });

  it("another query parameter beside one name is fine; the same name twice is a list", async () => {
    const { app } = createTestService();
    expect((await answer(app.request("/api/greeting?name=Ada&lang=en"))).body).toEqual({ greeting: "Hello, Ada!" });
    expect((await answer(app.request("/api/greeting?lang=en&name=Ada"))).body).toEqual({ greeting: "Hello, Ada!" });
    expect((await answer(app.request("/api/greeting?lang=en"))).body).toEqual({ greeting: "Hello, world!" });
    expect((await answer(app.request("/api/greeting?name=Ada&name=Bob"))).body.error!.message).toBe("query parameter name is a list: expected a string of 1 to 100 letters, spaces, apostrophes, hyphens or dots, starting with a letter");
  });

  it.each([
    ['{"name":["Ada"]}', "body field name is a list"],
    ['{"name":{"first":"Ada"}}', "body field name is a object"],
    ['{"name":true}', "body field name is a boolean"],
    ['{"name":null}', "body field name is a object"],
    ["null", "body field name is missing"],
    ['"Ada"', "body field name is missing"],
    ['["Ada"]', "body field name is missing"],
    ["{}", "body field name is missing"],
  ])("a body of %s: 400, %s", async (text, message) => {
    const { status, body } = await answer(post(text));
    expect(status).toBe(400);
    expect(body.error!.message).toBe(`${message}: expected a string of 1 to 100 letters, spaces, apostrophes, hyphens or dots, starting with a letter`);
  });
});

describe("the greeting body's limit", () => {
  const sized = (bytes: number) => {
    const text = JSON.stringify({ name: "Ada", pad: "" });
    return JSON.stringify({ name: "Ada", pad: "x".repeat(bytes - text.length) });
  };

  it("4096 bytes pass and 4097 do not, whatever larger BODY_LIMIT_BYTES says", async () => {
    expect(sized(4096)).toHaveLength(4096);
    expect((await answer(post(sized(4096)))).status).toBe(200);
    const over = await answer(post(sized(4097)));
    expect(over.status).toBe(413);
    expect(over.body.error!.message).toContain("4096 bytes");
  });

  it("a smaller BODY_LIMIT_BYTES is the limit", async () => {
    expect((await answer(post(sized(100), { BODY_LIMIT_BYTES: "100" }))).status).toBe(200);
    const over = await answer(post(sized(101), { BODY_LIMIT_BYTES: "100" }));
    expect(over.status).toBe(413);
    expect(over.body.error!.message).toContain("100 bytes");
  });
});

describe("routes", () => {
  it("GET / names the service; /readyz follows the drain; /version adds the Node version", async () => {
    const service = createTestService();
    expect((await answer(service.app.request("/"))).body).toEqual({ service: "hono-ecr-service", version: "1.2.3", message: "Hello from Hono" });
    expect(await answer(service.app.request("/readyz"))).toMatchObject({ status: 200, body: { status: "ready" } });
    service.setDraining(true);
    expect(await answer(service.app.request("/readyz"))).toMatchObject({ status: 503, body: { status: "draining" } });
    expect(await answer(service.app.request("/healthz"))).toMatchObject({ status: 200, body: { status: "ok" } });
    expect((await answer(service.app.request("/version"))).body.node).toBe(process.version);
  });

  it("404 names the method and the path, cut at 200 characters", async () => {
    const { app } = createTestService();
    expect((await answer(app.request("/nope", { method: "DELETE" }))).body.error).toMatchObject({ code: "not_found", message: "no route for DELETE /nope" });
    const path = `/${"p".repeat(199)}`;
    expect((await answer(app.request(path))).body.error!.message).toBe(`no route for GET ${path}`);
    const longer = `/${"q".repeat(200)}`;
    expect((await answer(app.request(longer))).body.error!.message).toBe(`no route for GET ${longer.slice(0, 200)}...`);
  });

  it("405 names the method, the path and the allowed methods, sorted, HEAD wherever GET is", async () => {
    const { app } = createTestService();
    const put = await answer(app.request("/api/greeting", { method: "PUT" }));
    expect(put).toMatchObject({ status: 405, allow: "GET, HEAD, POST" });
    expect(put.body.error).toMatchObject({ code: "method_not_allowed", message: "method PUT is not allowed on /api/greeting; allowed: GET, HEAD, POST" });
    expect((await answer(app.request("/readyz", { method: "POST" }))).allow).toBe("GET, HEAD");
  });

  it("a POST-only route's 405 has no HEAD", async () => {
    const { app } = createTestService();
    app.post("/test/post-only", (c) => c.json({}));
    expect((await answer(app.request("/test/post-only"))).allow).toBe("POST");
  });

  it("middleware (registered for every method) is not a method of the path's 405", async () => {
    const { app } = createTestService();
    app.use("/api/*", async (_c, next) => next());
    expect((await answer(app.request("/api/greeting", { method: "DELETE" }))).allow).toBe("GET, HEAD, POST");
  });

  it("a route for every method (app.all) does not make other paths' 405s list it", async () => {
    const { app } = createTestService();
    app.all("/test/any", (c) => c.json({}));
    expect((await answer(app.request("/healthz", { method: "DELETE" }))).allow).toBe("GET, HEAD");
  });
});

describe("the error handler", () => {
  it("an HTTPException without a message says the request failed, with its status's code", async () => {
    const { app } = createTestService();
    app.get("/test/bare", () => {
      throw new HTTPException(404);
    });
    expect((await answer(app.request("/test/bare"))).body.error).toMatchObject({ code: "not_found", message: "request failed" });
  });

  it("a client gone while its body was read is a 400, logged at info, not an unhandled error", async () => {
    const service = createTestService();
    service.app.get("/test/reset", () => {
      throw Object.assign(new Error("aborted"), { code: "ECONNRESET" });
    });
    const { status, body } = await answer(service.app.request("/test/reset", { headers: { "x-request-id": "gone-1" } }));
    expect(status).toBe(400);
    expect(body.error).toEqual({ code: "bad_request", message: "the request was aborted before its body was received", requestId: "gone-1" });
    expect(service.logs).toEqual([expect.objectContaining({ level: "info", msg: "request aborted by the client", requestId: "gone-1" })]);
  });

  it("any other error is a 500 logged as an error", async () => {
    const service = createTestService();
    service.app.get("/test/other", () => {
      throw Object.assign(new Error("boom"), { code: "EPIPE" });
    });
    expect((await answer(service.app.request("/test/other"))).status).toBe(500);
    expect(service.logs).toEqual([expect.objectContaining({ level: "error", msg: "unhandled error" })]);
  });
});
