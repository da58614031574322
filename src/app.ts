import type { HttpBindings } from "@hono/node-server";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { METHOD_NAME_ALL } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";
import { timeout } from "hono/timeout";
import { validator } from "hono/validator";
import type { Logger } from "pino";
import { declaresMoreThan, payloadTooLarge, readJsonBody } from "./body.js";
import type { BuildInfo } from "./build-info.js";
import type { Config } from "./config.js";
import { ApiError, codeForStatus, errorResponse } from "./errors.js";
import { REQUEST_ID_HEADER, requestIdFrom, SECURITY_HEADERS } from "./headers.js";

/**
 * Hono environment of the app: the request id, and (behind src/server.ts) Node's request and response. Without them
 * (`app.request()` in tests) the app sets the security headers and the request id itself.
 */
export type AppEnv = { Variables: { requestId: string }; Bindings: Partial<HttpBindings> };

/** What the app needs from the process around it. */
export interface AppOptions {
  config: Pick<Config, "bodyLimitBytes" | "requestTimeoutMs">;
  logger: Logger;
  buildInfo: BuildInfo;
  /** True once shutdown has begun: readiness fails and responses ask clients to close the connection. */
  isDraining: () => boolean;
}

/** Paths answered without an access-log line: load balancer probes would drown the log. */
const UNLOGGED_PATHS = new Set(["/healthz", "/readyz"]);
/** Longest path written to the access log; longer ones are cut. */
const LOGGED_PATH_LIMIT = 1024;

/** Accepted greeting names: 1 to 100 letters, spaces, apostrophes, hyphens or dots, starting with a letter. */
const NAME_PATTERN = /^\p{L}[\p{L}\p{M} .'-]{0,99}$/u;
const NAME_RULE = "1 to 100 letters, spaces, apostrophes, hyphens or dots, starting with a letter";
/** Largest greeting request body: a name of 100 characters, with room to spare. */
const GREETING_BODY_LIMIT = 4096;

function validName(value: unknown, where: string): string {
  if (typeof value !== "string") {
    const shown = value === undefined ? "missing" : `a ${Array.isArray(value) ? "list" : typeof value}`;
    throw new HTTPException(400, { message: `${where} is ${shown}: expected a string of ${NAME_RULE}` });
  }
  if (!NAME_PATTERN.test(value)) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    throw new HTTPException(400, { message: `${where} ${JSON.stringify(shown)} is invalid: expected ${NAME_RULE}` });
  }
  return value;
}

/**
 * Builds the HTTP application: routes, middleware and error handling, with no I/O of its own.
 * The server (src/server.ts) listens and handles signals; tests call `app.request()` directly.
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const { config, logger, buildInfo, isDraining } = options;
  const app = new Hono<AppEnv>();

  // One middleware for what every request needs: request id and security headers (written on Node's response by the
  // server when there is one), the global body limit from Content-Length, the drain signal, and the access log.
  app.use(async (c, next) => {
    const outgoing = c.env?.outgoing;
    let id: string;
    if (outgoing) {
      id = outgoing.getHeader(REQUEST_ID_HEADER) as string;
    } else {
      id = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
      c.header(REQUEST_ID_HEADER, id);
      for (const name in SECURITY_HEADERS) c.header(name, SECURITY_HEADERS[name]);
    }
    c.set("requestId", id);
    const started = performance.now();
    const method = c.req.method;
    if (method !== "GET" && method !== "HEAD" && declaresMoreThan(c, config.bodyLimitBytes)) {
      c.res = errorResponse(c, 413, "payload_too_large", payloadTooLarge(config.bodyLimitBytes).message);
    } else {
      await next();
    }
    if (isDraining()) {
      if (outgoing) outgoing.setHeader("Connection", "close");
      else c.header("Connection", "close");
    }
    if (UNLOGGED_PATHS.has(c.req.path)) return;
    logger.info(
      { requestId: id, method, path: c.req.path.slice(0, LOGGED_PATH_LIMIT), status: c.res.status, durationMs: Math.round((performance.now() - started) * 100) / 100 },
      "request",
    );
  });
  // Only the API routes do work that can take time; probes and the root answer at once.
  app.use(
    "/api/*",
    timeout(config.requestTimeoutMs, () => new ApiError(503, "request_timeout", `request took longer than the limit of ${config.requestTimeoutMs} ms`)),
  );

  app.get("/", (c) => c.json({ service: buildInfo.name, version: buildInfo.version, message: "Hello from Hono" }));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => (isDraining() ? c.json({ status: "draining" }, 503) : c.json({ status: "ready" })));
  app.get("/version", (c) => c.json({ ...buildInfo, node: process.version }));

  app.get(
    "/api/greeting",
    validator("query", (query) => ({ name: query.name === undefined ? "world" : validName(query.name, "query parameter name") })),
    (c) => c.json({ greeting: `Hello, ${c.req.valid("query").name}!` }),
  );
  app.post("/api/greeting", async (c) => {
    const body = await readJsonBody(c, Math.min(GREETING_BODY_LIMIT, config.bodyLimitBytes));
    const name: unknown = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).name : undefined;
    return c.json({ greeting: `Hello, ${validName(name, "body field name")}!` });
  });

  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length === 0) return errorResponse(c, 404, "not_found", `no route for ${c.req.method} ${truncate(c.req.path)}`);
    c.header("Allow", allowed.join(", "));
    return errorResponse(c, 405, "method_not_allowed", `method ${truncate(c.req.method)} is not allowed on ${truncate(c.req.path)}; allowed: ${allowed.join(", ")}`);
  });

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      return errorResponse(c, err.status, err instanceof ApiError ? err.code : codeForStatus(err.status), err.message || "request failed");
    }
    if ((err as NodeJS.ErrnoException).code === "ECONNRESET") {
      // The client went away while its body was being read: not a server error, and nobody is left to answer.
      logger.info({ requestId: c.get("requestId") }, "request aborted by the client");
      return errorResponse(c, 400, "bad_request", "the request was aborted before its body was received");
    }
    logger.error({ requestId: c.get("requestId"), err }, "unhandled error");
    return errorResponse(c, 500, "internal_error", "internal server error");
  });

  return app;
}

function truncate(text: string, limit = 200): string {
  return text.length > limit ? `${text.slice(0, limit)}...` : text;
}

const methodRouters = new WeakMap<Hono<AppEnv>, TrieRouter<string>>();

/** The methods routed on `path` (HEAD wherever GET is), from the app's own route table. */
function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
  let router = methodRouters.get(app);
  if (!router) {
    router = new TrieRouter<string>();
    for (const route of app.routes) if (route.method !== METHOD_NAME_ALL) router.add(METHOD_NAME_ALL, route.path, route.method);
    methodRouters.set(app, router);
  }
  const methods = new Set(router.match("GET", path)[0].map(([method]) => method));
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

