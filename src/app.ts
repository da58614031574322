import type { HttpBindings } from "@hono/node-server";
import { Hono, type MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { METHOD_NAME_ALL } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";
import { timeout } from "hono/timeout";
import type { Logger } from "pino";
import { readJsonBody } from "./body.js";
import type { BuildInfo } from "./build-info.js";
import type { Config } from "./config.js";
import { ApiError, codeForStatus, errorResponse, requestIdOf } from "./errors.js";

/** Hono environment of the app: behind src/server.ts, Node's request and response (with the exchange's request id). */
export type AppEnv = { Variables: { requestId?: string }; Bindings: Partial<HttpBindings> };

/** What the app needs from the process around it. */
export interface AppOptions {
  config: Pick<Config, "bodyLimitBytes" | "requestTimeoutMs">;
  logger: Logger;
  buildInfo: BuildInfo;
  /** True once shutdown has begun: readiness fails. */
  isDraining: () => boolean;
}

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
 * Answers 503 `request_timeout` when the handler after it has not answered within `ms`. For routes that await I/O: a
 * timer cannot interrupt synchronous work, and the middleware makes Hono's dispatch asynchronous (docs/performance.md),
 * so synchronous routes go without it.
 */
export function requestTimeout(ms: number): MiddlewareHandler {
  return timeout(ms, () => new ApiError(503, "request_timeout", `request took longer than the limit of ${ms} ms`));
}

/**
 * Builds the HTTP application: routes, input validation and error handling, with no I/O of its own. What every
 * exchange needs whatever the route (request id, security headers, access log, global body limit, drain) is the HTTP
 * layer's job, in src/server.ts: done there on Node's request and response it keeps Hono's dispatch synchronous for
 * synchronous handlers (docs/performance.md). Tests call `app.request()` for the routes, and the real server for the rest.
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const { config, logger, buildInfo, isDraining } = options;
  const app = new Hono<AppEnv>();

  app.get("/", (c) => c.json({ service: buildInfo.name, version: buildInfo.version, message: "Hello from Hono" }));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => (isDraining() ? c.json({ status: "draining" }, 503) : c.json({ status: "ready" })));
  app.get("/version", (c) => c.json({ ...buildInfo, node: process.version }));

  app.get("/api/greeting", (c) => {
    // A repeated parameter is ambiguous: refused. (queries() parses every parameter; query() reads just one, faster.)
    const names = c.req.url.includes("&") ? c.req.queries("name") : undefined;
    const name: unknown = names && names.length > 1 ? names : c.req.query("name");
    return c.json({ greeting: `Hello, ${name === undefined ? "world" : validName(name, "query parameter name")}!` });
  });
  app.post("/api/greeting", requestTimeout(config.requestTimeoutMs), async (c) => {
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
    const requestId = requestIdOf(c);
    if (err instanceof HTTPException) {
      return errorResponse(c, err.status, err instanceof ApiError ? err.code : codeForStatus(err.status), err.message || "request failed");
    }
    if ((err as NodeJS.ErrnoException).code === "ECONNRESET") {
      // The client went away while its body was being read: not a server error, and nobody is left to answer.
      logger.info({ requestId }, "request aborted by the client");
      return errorResponse(c, 400, "bad_request", "the request was aborted before its body was received");
    }
    logger.error({ requestId, err }, "unhandled error");
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

