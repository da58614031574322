import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { rawJsonAnswer, REQUEST_ID_HEADER, requestIdFrom, SECURITY_HEADERS } from "./headers.js";

/** What the server needs: the app to serve, the validated config, the logger, and a hook that starts the drain. */
export interface ServerOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any Hono environment can be served
  app: Hono<any>;
  config: Pick<Config, "port" | "host" | "shutdownGraceMs" | "keepAliveTimeoutMs" | "headersTimeoutMs">;
  logger: Logger;
  /** Called first when shutdown begins: the app then fails readiness and asks clients to close connections. */
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
/** The request id of the request being handed to node-server's listener (its error handler is called synchronously). */
let currentRequestId = "";

/** node-server's answer to a request it cannot turn into a Request (bad Host, `OPTIONS *`, a bad URL): the JSON error shape. */
function requestErrorResponse(err: unknown): Response {
  const message = `malformed HTTP request (${err instanceof Error ? err.message : "invalid request"})`;
  return new Response(JSON.stringify({ error: { code: "bad_request", message, requestId: currentRequestId } }), {
    status: 400,
    headers: { "Content-Type": "application/json" },
  });
}

/**
 * Starts listening with timeouts tuned for a load balancer and for slow clients; rejects if the address cannot be bound.
 * Every answer of the process carries the security headers and the request id: they are written on Node's response
 * before the app runs (cheaper than building them per request in the app), and on the raw answers the server writes itself.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { app, config, logger, onDrain } = options;
  const listener = getRequestListener(app.fetch, { errorHandler: requestErrorResponse });
  const headerNames = Object.keys(SECURITY_HEADERS);
  const busy = new WeakSet<Socket>();
  const handle = (incoming: IncomingMessage, outgoing: ServerResponse): void => {
    const socket = incoming.socket;
    busy.add(socket);
    outgoing.once("close", () => busy.delete(socket));
    for (const name of headerNames) outgoing.setHeader(name, SECURITY_HEADERS[name]!);
    currentRequestId = requestIdFrom(incoming.headers["x-request-id"]);
    outgoing.setHeader(REQUEST_ID_HEADER, currentRequestId);
    void listener(incoming, outgoing);
  };
  const server = createServer(
    {
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // Independent of the keep-alive timeout: a client that is slow to send its headers is cut after headersTimeout,
      // while idle keep-alive connections (the load balancer's) stay open for keepAliveTimeout.
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.headersTimeoutMs + BODY_RECEIVE_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    handle,
  );
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, logger));
  server.on("checkExpectation", (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const requestId = requestIdFrom(incoming.headers["x-request-id"]);
    const body = JSON.stringify({ error: { code: "expectation_failed", message: `Expect: ${String(incoming.headers.expect).slice(0, 100)} is not supported; only 100-continue is`, requestId } });
    outgoing
      .writeHead(417, { ...SECURITY_HEADERS, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), [REQUEST_ID_HEADER]: requestId, Connection: "close" })
      .end(body);
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
    void running.shutdown(signal).then((code) => {
      logger.info({ exitCode: code }, "exiting");
      exit(code);
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
