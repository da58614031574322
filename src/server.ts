import { createServer, ServerResponse, type IncomingMessage, type OutgoingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { declaresMoreThan, payloadTooLarge } from "./body.js";
import { accessLogWriter, flushLogs } from "./logger.js";
import { rawJsonAnswer, REQUEST_ID_HEADER, requestIdFrom, SECURITY_HEADERS } from "./headers.js";

/** What the server needs: the app to serve, the validated config, the logger, and a hook that starts the drain. */
export interface ServerOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any Hono environment can be served
  app: Hono<any>;
  config: Pick<Config, "port" | "host" | "shutdownGraceMs" | "keepAliveTimeoutMs" | "headersTimeoutMs" | "bodyLimitBytes">;
  logger: Logger;
  /** Called first when shutdown begins: the app then fails readiness. */
  onDrain: () => void;
}

/** A listening server and the way to stop it. */
export interface RunningServer {
  server: Server;
  /** The address actually bound (the real port when `port` was 0). */
  address: AddressInfo;
  /**
   * Begins graceful shutdown: stop accepting connections, let in-flight requests finish, close idle keep-alive
   * connections. Resolves with the exit code: 0 when every connection closed within the grace period, 1 when the
   * remaining ones had to be force-closed. Calling it again returns the same promise.
   */
  shutdown: (reason: string) => Promise<number>;
}

/** Time a client gets to send a whole request (headers and body) once it has begun: the headers' time plus this. */
const BODY_RECEIVE_MS = 30_000;
/** How often Node checks connections against headersTimeout and requestTimeout (its default, 30 s, lets slow clients stay far longer). */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;
/** Paths answered without an access-log line: load balancer probes would drown the log. */
const UNLOGGED_PATHS = new Set(["/healthz", "/readyz"]);
/** Longest path written to the access log; longer ones are cut. */
const LOGGED_PATH_LIMIT = 1024;
/** The drain state of a response that no server has handed its own (the server sets it on every response it handles). */
const NEVER_DRAINING: { readonly draining: boolean } = { draining: false };

/**
 * Node's response, carrying what every exchange needs: its request id and start time, and the security headers and the
 * request id added to whatever headers its writer passes to writeHead (node-server, the app, the server's own answers),
 * in one object, instead of a setHeader call per header on every request.
 */
export class ServiceResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** The exchange's request id: the client's X-Request-Id when valid, else a UUID. */
  requestId = "";
  /** When the request reached the server (performance.now()). */
  startedAt = 0;
  /** The server's drain state: once it drains, every answer asks the client to close the connection. */
  drain: { readonly draining: boolean } = NEVER_DRAINING;

  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const last = rest.at(-1);
    const own: OutgoingHttpHeaders = { ...SECURITY_HEADERS, [REQUEST_ID_HEADER]: this.requestId };
    if (this.drain.draining) own.Connection = "close";
    if (Array.isArray(last)) {
      for (const [name, value] of Object.entries(own)) if (value !== undefined && !this.hasHeader(name)) this.setHeader(name, value);
    } else if (last !== null && typeof last === "object") {
      rest[rest.length - 1] = Object.assign(own, last);
    } else {
      rest.push(own);
    }
    return (super.writeHead as (statusCode: number, ...rest: unknown[]) => this)(statusCode, ...rest);
  }
}

/** The request id of the request being handed to node-server's listener (its error handler is called synchronously). */
let currentRequestId = "";

/**
 * node-server's answer to a request it cannot turn into a Request (no Host, a bad Host, `OPTIONS *`, a bad URL): the
 * JSON error shape. The connection closes after it, as after Node's own 400s: a client that sent such a request is not
 * one to keep talking to.
 */
function requestErrorResponse(err: unknown): Response {
  const message = `malformed HTTP request (${err instanceof Error ? err.message : "invalid request"})`;
  return new Response(JSON.stringify({ error: { code: "bad_request", message, requestId: currentRequestId } }), {
    status: 400,
    headers: { "Content-Type": "application/json", Connection: "close" },
  });
}

/** Ends `outgoing` with the service's JSON error shape. */
function answerError(outgoing: ServiceResponse, status: number, code: string, message: string, headers: OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify({ error: { code, message, requestId: outgoing.requestId } });
  outgoing.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...headers }).end(body);
}

/**
 * Starts listening with timeouts tuned for a load balancer and for slow clients; rejects if the address cannot be bound.
 * The HTTP layer of every exchange lives here, on Node's request and response, before and after the app: the request id,
 * the security headers (on every answer of the process, the server's own included), the global body limit from
 * Content-Length, `Connection: close` once draining, and the access log line, written once the response is done.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { app, config, logger, onDrain } = options;
  const listener = getRequestListener(app.fetch, { errorHandler: requestErrorResponse });
  const busy = new WeakSet<Socket>();
  const drain = { draining: false };
  const logAccess = accessLogWriter(logger);

  /** When a response is done (or its connection gone): the connection is no longer busy; one access log line. */
  function onResponseClose(this: ServiceResponse): void {
    const incoming = this.req;
    busy.delete(incoming.socket);
    const url = incoming.url ?? "";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    if (UNLOGGED_PATHS.has(path)) return;
    logAccess({
      requestId: this.requestId,
      method: incoming.method ?? "",
      path: path.slice(0, LOGGED_PATH_LIMIT),
      status: this.statusCode,
      durationMs: Math.round((performance.now() - this.startedAt) * 100) / 100,
      aborted: !this.writableFinished,
    });
  }

  const handle = (incoming: IncomingMessage, outgoing: ServiceResponse): void => {
    outgoing.startedAt = performance.now();
    outgoing.requestId = requestIdFrom(incoming.headers["x-request-id"]);
    outgoing.drain = drain;
    busy.add(incoming.socket);
    outgoing.once("close", onResponseClose);
    const method = incoming.method;
    if (method !== "GET" && method !== "HEAD" && declaresMoreThan(incoming.headers["content-length"], config.bodyLimitBytes)) {
      // Refused unread; the connection closes, so the body is never read.
      const tooLarge = payloadTooLarge(config.bodyLimitBytes);
      answerError(outgoing, tooLarge.status, tooLarge.code, tooLarge.message, { Connection: "close" });
      return;
    }
    currentRequestId = outgoing.requestId;
    void listener(incoming, outgoing);
  };
  const server = createServer(
    {
      ServerResponse: ServiceResponse,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // Independent of the keep-alive timeout: a client that is slow to send its headers is cut after headersTimeout,
      // while idle keep-alive connections (the load balancer's) stay open for keepAliveTimeout.
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.headersTimeoutMs + BODY_RECEIVE_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
      // Node answers an HTTP/1.1 request without Host itself (400, empty body, before the listener runs); without that
      // check the request reaches node-server, which rejects it ("Missing host header") through requestErrorResponse,
      // like an HTTP/1.0 one without Host: the JSON 400 with the request id.
      requireHostHeader: false,
    },
    handle,
  );
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, logger));
  server.on("checkExpectation", (incoming: IncomingMessage, outgoing: ServiceResponse) => {
    outgoing.requestId = requestIdFrom(incoming.headers["x-request-id"]);
    answerError(outgoing, 417, "expectation_failed", `Expect: ${String(incoming.headers.expect).slice(0, 100)} is not supported; only 100-continue is`, { Connection: "close" });
  });
  server.on("connect", (incoming: IncomingMessage, socket: Socket) => {
    const requestId = requestIdFrom(incoming.headers["x-request-id"]);
    const body = JSON.stringify({ error: { code: "method_not_allowed", message: "method CONNECT is not allowed: this is not a proxy", requestId } });
    socket.end(rawJsonAnswer(405, "Method Not Allowed", body, requestId));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  logger.info({ host: address.address, port: address.port, keepAliveTimeoutMs: server.keepAliveTimeout }, "listening");

  let stopping: Promise<number> | undefined;
  const shutdown = (reason: string): Promise<number> => {
    stopping ??= new Promise<number>((resolve) => {
      logger.info({ reason, graceMs: config.shutdownGraceMs }, "shutdown started: readiness fails from now on");
      drain.draining = true;
      onDrain();
      const deadline = setTimeout(() => {
        logger.warn({ graceMs: config.shutdownGraceMs }, "grace period over: force-closing the remaining connections");
        server.closeAllConnections();
        resolve(1);
      }, config.shutdownGraceMs);
      // Stops accepting connections and (Node >= 19) closes the idle keep-alive ones; busy ones close after their
      // response, which the app marks `Connection: close` from now on.
      server.close(() => {
        clearTimeout(deadline);
        logger.info("all connections closed");
        resolve(0);
      });
      // Node counts a connection that has sent part of a request as busy, and would wait for it the whole grace period:
      // close every connection with no response in progress (such a request was never accepted).
      let halfSent = 0;
      for (const socket of sockets) {
        if (busy.has(socket)) continue;
        halfSent += 1;
        socket.destroy();
      }
      logger.info({ closedWithoutResponse: halfSent }, "listener closed: no new connections; connections without a response in progress closed; draining in-flight requests");
    });
    return stopping;
  };

  return { server, address, shutdown };
}

/** Status and code for requests Node's HTTP parser rejects before the app sees them. */
function clientErrorStatus(code: string | undefined): [number, string, string] {
  if (code === "HPE_HEADER_OVERFLOW") return [431, "Request Header Fields Too Large", "headers_too_large"];
  if (code === "HPE_CHUNK_EXTENSIONS_OVERFLOW") return [413, "Payload Too Large", "payload_too_large"];
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return [408, "Request Timeout", "request_timeout"];
  return [400, "Bad Request", "bad_request"];
}

/**
 * Answers a request that Node's HTTP parser rejected (malformed request line, oversized headers, header timeout)
 * with the service's JSON error shape instead of Node's empty 400, then closes the connection.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, logger: Logger): void {
  if (err.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code] = clientErrorStatus(err.code);
  const requestId = requestIdFrom(undefined);
  const body = JSON.stringify({ error: { code, message: `malformed HTTP request (${err.code ?? "parse error"})`, requestId } });
  logger.info({ requestId, status, parserError: err.code }, "rejected malformed request");
  socket.end(rawJsonAnswer(status, reason, body, requestId));
}

/** How long the exit waits for the log lines still buffered to be written (a reader that has gone answers at once). */
const LOG_FLUSH_TIMEOUT_MS = 2000;


/**
 * Shuts `running` down on SIGTERM or SIGINT and exits with its exit code. A second signal during the drain exits at once
 * with 1. Installing these listeners removes Node's default exit on those signals, so this handler always exits.
 */
export function exitOnSignals(running: RunningServer, logger: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      logger.warn({ signal }, "second signal during shutdown: exiting now");
      exit(1);
      return;
    }
    received = true;
    void running.shutdown(signal).then(async (code) => {
      logger.info({ exitCode: code }, "exiting");
      await flushLogs(logger, LOG_FLUSH_TIMEOUT_MS);
      exit(code);
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
