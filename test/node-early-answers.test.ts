// The answers Node's HTTP server can give by itself, without calling the request listener, each sent as a raw request to
// the real server: every one is the service's JSON, with a request id and the security headers, or cannot happen here
// (and the test says why). The sites are those of lib/_http_server.js in Node v20.20.2 and v24.20.0, read from the
// source each binary carries (`process.binding("natives")._http_server`, the lib/ file as built into that release);
// "v20 L1095" below is a line of v20.20.2's file, "v24 L1249" one of v24.20.0's. The last test lists the sites of the
// Node running the suite and fails on one this file does not know, so a Node upgrade that adds one is noticed.
import { EventEmitter } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server.js";
import { expectServiceAnswer, parseResponses, rawExchange, type RawExchangeOptions, type RawResponse } from "./helpers/raw-http.js";
import { createTestService, type TestService } from "./helpers/service.js";

const HEADERS_TIMEOUT_MS = 1000;
/** requestTimeout for the body-timeout case, shorter than the server's (headers timeout + 30 s): the same Node code path. */
const REQUEST_TIMEOUT_MS = 2000;

let service: TestService;
let server: RunningServer;

beforeAll(async () => {
  service = createTestService({ HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) });
  server = await startServer({ app: service.app, config: service.config, logger: service.logger, onDrain: () => undefined });
  // Read on every connections check (v20 L631-645, v24 L743-764), so a shorter value applies from now on.
  server.server.requestTimeout = REQUEST_TIMEOUT_MS;
});
afterAll(async () => {
  server.server.closeAllConnections();
  await server.shutdown("test end");
});

/** Sends `payload` raw and returns the responses the server wrote before it closed the connection. */
async function exchange(payload: string, options?: RawExchangeOptions): Promise<RawResponse[]> {
  return parseResponses(await rawExchange(server.address.port, payload, options));
}

/** Asserts that `response` is the service's JSON error `status` `code`. */
function expectServiceError(response: RawResponse | undefined, status: number, code: string): void {
  expect(response?.status, JSON.stringify(response)).toBe(status);
  expectServiceAnswer(response!);
  expect((JSON.parse(response!.body) as { error: { code: string } }).error.code).toBe(code);
}

const chunk = (text: string, extension = "") => `${Buffer.byteLength(text).toString(16)}${extension}\r\n${text}\r\n`;

describe("answers Node's HTTP server gives without the request listener", () => {
  it("parserOnIncoming, HTTP/1.1 without Host (v20 L1095-1098, v24 L1249-1252: writeHead(400) + end()) -> the JSON 400, connection closed", async () => {
    // Node's check is off (requireHostHeader: false, src/server.ts): the request reaches node-server, which has no Host
    // to build a URL from and answers through the server's request-error handler.
    expect((server.server as unknown as { requireHostHeader: boolean }).requireHostHeader).toBe(false); // not in @types/node 20's Server
    const [alone] = await exchange("GET /healthz HTTP/1.1\r\n\r\n");
    expectServiceError(alone, 400, "bad_request");
    expect(alone!.body).toContain("Missing host header");
    expect(alone!.headers.connection).toBe("close");
    // On a keep-alive connection, after a good request: the good one is answered, the Host-less one gets the JSON 400.
    const [good, hostless, ...rest] = await exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n");
    expect(good!.status).toBe(200);
    expectServiceAnswer(good!);
    expectServiceError(hostless, 400, "bad_request");
    expect(rest).toEqual([]);
  });

  it("parserOnIncoming, Expect other than 100-continue (v20 L1129-1133, v24 L1283-1288: writeHead(417) without a checkExpectation listener) -> the JSON 417", async () => {
    expect(server.server.listenerCount("checkExpectation")).toBe(1);
    const [answer] = await exchange("GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n");
    expectServiceError(answer, 417, "expectation_failed");
  });

  it("parserOnIncoming, Expect: 100-continue (v20 L1121-1127 and writeContinue L299-302, v24 L1275-1282 and L365-368: a raw 100 Continue, then the listener) -> the app's JSON after the interim 100", async () => {
    // The 100 is an interim response (RFC 9110 section 15.2), not the answer: a status line with no headers or body, which
    // Node writes itself before calling the listener. The answer that follows is the app's.
    const body = JSON.stringify({ name: "Ada" });
    const [interim, answer, ...rest] = await exchange(
      `POST /api/greeting HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(interim).toMatchObject({ status: 100, headerLines: [], body: "" });
    expect(answer!.status).toBe(200);
    expectServiceAnswer(answer!);
    expect(rest).toEqual([]);
  });

  it("parserOnIncoming, over maxRequestsPerSocket (v20 L1112-1117, v24 L1266-1271: writeHead(503) + end()) cannot happen: the limit is not set", () => {
    // Node's default is 0, no limit (v20 L556, v24 L667); src/server.ts does not set it. Setting it would need an answer
    // of the service's own on 'dropRequest' (which Node emits just before its empty 503).
    expect(server.server.maxRequestsPerSocket).toBeFalsy();
  });

  it.each([
    ["the default 400: a garbage request line", 400, "bad_request", "\u0000\u0001garbage\r\n\r\n", {}],
    ["the default 400: HTTP/2's preface (llhttp stops at PRI before the PRI branch, v20 L941-944, v24 L1071-1074)", 400, "bad_request", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {}],
    ["the default 400: the client half-closes mid-headers (socketOnEnd's parser.finish(), v20 L801-806, v24 L932-937)", 400, "bad_request", "GET / HTTP/1.1\r\nHost: x\r\n", { halfClose: true }],
    ["431: request line and headers over 16 KiB", 431, "headers_too_large", `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`, {}],
    [
      "413: chunk extensions over llhttp's limit",
      413,
      "payload_too_large",
      `POST /api/greeting HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk("{", `;${"e".repeat(20_000)}`)}0\r\n\r\n`,
      {},
    ],
    ["408: headers not complete within headersTimeout (checkConnections -> onRequestTimeout, v20 L827-830, v24 L958-961)", 408, "request_timeout", "GET / HTTP/1.1\r\nHost: x\r\n", { timeoutMs: 8000 }],
    [
      "408: body not complete within requestTimeout (the same path)",
      408,
      "request_timeout",
      'POST /api/greeting HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"na',
      { timeoutMs: 8000 },
    ],
  ] as const)(
    "socketOnError (v20 L868-903, v24 L999-1034), %s -> JSON %d %s",
    async (_name, status, code, payload, options: RawExchangeOptions) => {
      // Without a 'clientError' listener Node writes a bare status line (v20 L850-866, v24 L981-997) and closes; the
      // server's listener (src/server.ts) answers instead.
      expect(server.server.listenerCount("clientError")).toBe(1);
      const started = Date.now();
      const [answer, ...rest] = await exchange(payload, options);
      expectServiceError(answer, status, code);
      expect(rest).toEqual([]);
      // Closed by the server, not by the test's bound.
      expect(Date.now() - started).toBeLessThan(options.timeoutMs ?? 2000);
    },
  );

  it("onParserExecuteCommon, CONNECT without a connect listener (v20 L929-940, v24 L1059-1070: socket.destroy(), no answer) -> the server's JSON 405", async () => {
    expect(server.server.listenerCount("connect")).toBe(1);
    const [answer] = await exchange("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    expectServiceError(answer, 405, "method_not_allowed");
  });

  it("parserOnIncoming, Upgrade without an upgrade listener (v20 L1029-1034; v24 L1170-1175 with shouldUpgradeCallback's default, L603-611) is an ordinary request -> the app's JSON", async () => {
    // Without an 'upgrade' listener the request is not an upgrade: it reaches the request listener, and the
    // onParserExecuteCommon branch that would destroy the socket (v24 L1067-1070) is never taken.
    expect(server.server.listenerCount("upgrade")).toBe(0);
    const [answer, ...rest] = await exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", { timeoutMs: 1000 });
    expect(answer!.status).toBe(200);
    expectServiceAnswer(answer!);
    expect(rest).toEqual([]);
  });

  it("Server's captureRejection handler (v20 L608-628, v24 L719-740: a text 500) cannot run: the request listener returns no promise", () => {
    // It runs only for an emitter created with captureRejections whose 'request' listener returns a rejected promise.
    expect(EventEmitter.captureRejections).toBe(false);
    const listeners = server.server.listeners("request");
    expect(listeners).toHaveLength(1);
    expect(listeners[0]!.constructor.name).toBe("Function"); // not an AsyncFunction
  });

  it("the write sites of this Node's lib/_http_server.js are all known to this file", () => {
    const source = httpServerSource();
    expect(source, "this Node does not expose its lib/_http_server.js source: review the sites by hand").toBeDefined();
    const sites = writeSites(source!);
    expect(sites.length).toBeGreaterThanOrEqual(5);
    expect(sites.filter((site) => !(site in KNOWN_WRITE_SITES)), `Node ${process.version}: new sites that may answer without the listener`).toEqual([]);
  });

  it("logged no unhandled errors", () => {
    expect(service.logs.filter((line) => line.level === "error" || line.level === "fatal")).toEqual([]);
  });
});

/**
 * Every statement of lib/_http_server.js (v20.20.2 and v24.20.0) that writes bytes on the connection, by enclosing
 * function, and who writes them in this service. Closes without a byte (socket.destroy(), end()) are not answers: the
 * socket timeout's and the parser timeout's (v20 L784 and L846, v24 L908 and L977), CONNECT or upgrade without a
 * listener and PRI (above).
 */
const KNOWN_WRITE_SITES: Record<string, string> = {
  "ServerResponse.prototype.writeContinue: this._writeRaw('HTTP/1.1 100 Continue\\r\\n\\r\\n', 'ascii', cb);": "v20 L300: the interim 100 (tested above)",
  "ServerResponse.prototype.writeProcessing: this._writeRaw('HTTP/1.1 102 Processing\\r\\n\\r\\n', 'ascii', cb);": "v20 L305: only when the app calls writeProcessing (it does not)",
  "ServerResponse.prototype.writeEarlyHints: this._writeRaw(head, 'ascii', cb);": "v20 L333: only when the app calls writeEarlyHints (it does not)",
  "ServerResponse.prototype.writeInformation: return this._writeRaw(head, 'ascii', cb);": "v24 L356: writeContinue's interim 100 (tested above); 102 and 103 only when the app asks",
  "ServerResponse.prototype._implicitHeader: this.writeHead(this.statusCode);": "v20 L337, v24 L404: the app's own answers, through ServiceResponse.writeHead",
  "Server.prototype[EE.captureRejectionSymbol]: res.end(STATUS_CODES[500]);": "v20 L619, v24 L731: cannot run (tested above)",
  "socketOnError: this.write(response);": "v20 L899, v24 L1030: replaced by the clientError listener (tested above)",
  "parserOnIncoming: res.writeHead(400, ['Connection', 'close']);": "v20 L1096, v24 L1250: off, requireHostHeader: false (tested above)",
  "parserOnIncoming: res.writeHead(503);": "v20 L1116, v24 L1270: maxRequestsPerSocket unset (tested above)",
  "parserOnIncoming: res.writeHead(417);": "v20 L1132, v24 L1286: replaced by the checkExpectation listener (tested above)",
};

/** The running Node's lib/_http_server.js, as built into it, or undefined where the binding is gone. */
function httpServerSource(): string | undefined {
  try {
    const natives = (process as unknown as { binding: (name: string) => Record<string, string> }).binding("natives");
    return natives._http_server;
  } catch {
    return undefined;
  }
}

/** The statements of `source` that write on the connection, each as "enclosing function: statement". */
function writeSites(source: string): string[] {
  const sites: string[] = [];
  let within = "";
  for (const line of source.split("\n")) {
    const declared = /^(?:async\s+)?function\s+([\w$]+)/.exec(line) ?? /^([\w$.]+(?:\[[\w$.]+\])?)\s*=/.exec(line);
    if (declared) within = declared[1]!;
    const statement = line.trim();
    if (statement.startsWith("//") || statement.startsWith("function ")) continue;
    if (/\b(?:writeHead|_writeRaw)\(|\.write\(|\.end\(STATUS_CODES/.test(statement)) sites.push(`${within}: ${statement}`);
  }
  return sites;
}
