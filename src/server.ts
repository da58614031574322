import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "pino";
import type { Config } from "./config.js";

/** What the server needs: the app to serve, the validated config, the logger, and a hook that starts the drain. */
export interface ServerOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any Hono environment can be served
  app: Hono<any>;
  config: Pick<Config, "port" | "host" | "shutdownGraceMs" | "keepAliveTimeoutMs">;
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

/** Extra time the server waits for request headers beyond the keep-alive timeout (Node requires headersTimeout > keepAliveTimeout). */
const HEADERS_TIMEOUT_MARGIN_MS = 1_000;

/** Starts listening with keep-alive timeouts tuned for a load balancer; rejects if the address cannot be bound. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { app, config, logger, onDrain } = options;
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.headersTimeout = config.keepAliveTimeoutMs + HEADERS_TIMEOUT_MARGIN_MS;
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, logger));

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
      logger.info("listener closed: no new connections; idle keep-alive connections closed; draining in-flight requests");
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
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { code, message: `malformed HTTP request (${err.code ?? "parse error"})`, requestId } });
  logger.info({ requestId, status, parserError: err.code }, "rejected malformed request");
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
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
