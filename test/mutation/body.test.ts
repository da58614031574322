// src/body.ts on its own, behind a bare Hono app: which media types are JSON, where the size limit falls (declared,
// streamed from Node's request, streamed from a Web Request), and what happens to the stream once the limit is passed.
import { PassThrough } from "node:stream";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { declaresMoreThan, readJsonBody } from "../../src/body.js";
import { ApiError } from "../../src/errors.js";

const LIMIT = 16;

/** A route that answers the parsed body, or the ApiError's status and code (anything else: 500 with its message). */
function bodyApp(): Hono {
  const app = new Hono();
  app.post("/", async (c) => c.json({ body: await readJsonBody(c, LIMIT) }));
  app.onError((err, c) => (err instanceof ApiError ? c.json({ code: err.code, message: err.message }, err.status) : c.json({ code: "other", message: String(err) }, 500)));
  return app;
}

/** Posts `body` as a Web Request (no Node stream: readJsonBody's Web path). */
function postWeb(body: string | Blob | ReadableStream<Uint8Array> | null, headers: Record<string, string> = { "content-type": "application/json" }): Promise<Response> {
  const init: RequestInit = { method: "POST", headers, body, ...(body instanceof ReadableStream ? { duplex: "half" } : {}) };
  return Promise.resolve(bodyApp().request("/", init));
}

/** Posts through the Node path: `incoming` stands for Node's request stream (what @hono/node-server puts in c.env). */
function postNode(incoming: PassThrough, headers: Record<string, string> = { "content-type": "application/json" }): Promise<Response> {
  return Promise.resolve(bodyApp().request("/", { method: "POST", headers }, { incoming }));
}

/** A Node stream that will emit `chunks` one by one, then end. */
function nodeStream(...chunks: string[]): PassThrough {
  const stream = new PassThrough();
  for (const chunk of chunks) stream.write(Buffer.from(chunk));
  stream.end();
  return stream;
}

/** A Web stream of `chunks`, one read each. */
function webStream(...chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });
}

async function outcome(res: Response | Promise<Response>): Promise<{ status: number; json: Record<string, unknown> }> {
  const answer = await res;
  return { status: answer.status, json: (await answer.json()) as Record<string, unknown> };
}

describe("readJsonBody: the media type", () => {
  it.each([
    "application/json",
    "APPLICATION/JSON",
    "application/json; charset=utf-8",
    "application/json ; charset=utf-8",
    "application/problem+json",
    "application/vnd.api+json",
    "application/vnd.my-app.v2+json",
  ])("accepts %s", async (type) => {
    expect(await outcome(postWeb('{"a":1}', { "content-type": type }))).toEqual({ status: 200, json: { body: { a: 1 } } });
  });

  it.each([
    ["text/application/json", "something before application/"],
    ["xapplication/json", "something before application/"],
    ["application/jsonp", "something after json"],
    ["application/json-seq", "something after json"],
    ["application/json+xml", "something after json"],
    ["application/+json", "an empty suffix owner"],
    ["application/a b+json", "a space in the subtype"],
    ["application/vnd.api+xml", "another structured syntax"],
    ["text/plain", "not JSON at all"],
  ])("refuses %s (%s) with 415, telling the client what it needs", async (type) => {
    const { status, json } = await outcome(postWeb('{"a":1}', { "content-type": type }));
    expect(status).toBe(415);
    expect(json.code).toBe("unsupported_media_type");
    expect(json.message).toMatch(/application\/json/);
  });

  it("refuses a body with no Content-Type", async () => {
    expect((await outcome(postWeb(new Blob(['{"a":1}']), {}))).status).toBe(415);
  });
});

describe("declaresMoreThan: the declared Content-Length against the limit", () => {
  it.each([
    [undefined, false],
    ["0", false],
    [String(LIMIT - 1), false],
    [String(LIMIT), false],
    [String(LIMIT + 1), true],
  ])("Content-Length %s over %i bytes: %s", (declared, over) => {
    expect(declaresMoreThan(declared, LIMIT)).toBe(over);
  });

  it("refuses a declared length over the limit before reading anything (the body sent is short)", async () => {
    const { status, json } = await outcome(postWeb("{}", { "content-type": "application/json", "content-length": String(LIMIT + 1) }));
    expect(status).toBe(413);
    expect(json.code).toBe("payload_too_large");
  });
});

describe("readJsonBody from Node's request stream", () => {
  it("accepts a body of exactly the limit and refuses one byte more", async () => {
    const exact = `{"k":"${"x".repeat(LIMIT - 8)}"}`;
    expect(exact).toHaveLength(LIMIT);
    expect((await outcome(postNode(nodeStream(exact)))).status).toBe(200);
    expect((await outcome(postNode(nodeStream(`${exact} `)))).status).toBe(413);
  });

  it("joins a body that arrives in several chunks", async () => {
    expect(await outcome(postNode(nodeStream('{"a"', ":", "1}")))).toEqual({ status: 200, json: { body: { a: 1 } } });
  });

  it("refuses an empty body as malformed JSON (400, not a crash)", async () => {
    const { status, json } = await outcome(postNode(nodeStream()));
    expect(status).toBe(400);
    expect(json.code).toBe("bad_request");
  });

  it("counts the chunks: a body over the limit in small chunks is refused", async () => {
    expect((await outcome(postNode(nodeStream("[1,", "2,3,", "4,5,6,", "7,8,9,10]")))).status).toBe(413);
  });

  it("stops listening to the stream once the limit is passed (the rest of a body that never ends is not awaited)", async () => {
    const stream = new PassThrough();
    stream.write("[1,2,3,4,5,6,7,");
    stream.write("8,9,10,11,12,");
    expect((await outcome(postNode(stream))).status).toBe(413);
    expect(stream.listenerCount("data")).toBe(0);
    expect(stream.listenerCount("end")).toBe(0);
  });

  it("fails the request when the stream fails (the client went away)", async () => {
    const stream = new PassThrough();
    stream.write('{"a":');
    const answer = postNode(stream);
    setTimeout(() => stream.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })), 20);
    const settled = await Promise.race([answer.then(outcome), new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), 2_000))]);
    expect(settled).toEqual({ status: 500, json: { code: "other", message: "Error: socket hang up" } });
  });
});

describe("readJsonBody from a Web Request (no Node stream, e.g. app.request())", () => {
  it("reads a plain body (no environment at all)", async () => {
    expect(await outcome(postWeb('{"a":[1,2]}'))).toEqual({ status: 200, json: { body: { a: [1, 2] } } });
  });

  it("accepts a streamed body of exactly the limit and refuses one byte more", async () => {
    const exact = `{"k":"${"y".repeat(LIMIT - 8)}"}`;
    expect((await outcome(postWeb(webStream(exact.slice(0, 5), exact.slice(5))))).status).toBe(200);
    expect((await outcome(postWeb(webStream(exact.slice(0, 5), `${exact.slice(5)} `)))).status).toBe(413);
  });

  it("counts every chunk: a streamed body over the limit is refused", async () => {
    expect((await outcome(postWeb(webStream("[1,2,3,", "4,5,6,", "7,8,9,10]")))).status).toBe(413);
  });

  it("refuses a POST without a body as malformed JSON (400, not a crash)", async () => {
    const { status, json } = await outcome(postWeb(null));
    expect(status).toBe(400);
    expect(json.code).toBe("bad_request");
  });
});
