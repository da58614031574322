import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId, type RequestIdVariables } from "hono/request-id";
import { METHOD_NAME_ALL } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";
import { secureHeaders } from "hono/secure-headers";
import { timeout } from "hono/timeout";
import { validator } from "hono/validator";
import type { Logger } from "pino";
import type { BuildInfo } from "./build-info.js";
import type { Config } from "./config.js";
import { ApiError, codeForStatus, errorResponse } from "./errors.js";

/** Hono environment of the app: the request id set by the request-id middleware. */
export type AppEnv = { Variables: RequestIdVariables };

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
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

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

  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    if (UNLOGGED_PATHS.has(c.req.path)) return;
    logger.info(
      {
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path.slice(0, LOGGED_PATH_LIMIT),
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
      },
      "request",
    );
  });
  app.use(async (c, next) => {
    await next();
    if (isDraining()) c.header("Connection", "close");
  });
  app.use(
    // The headers a JSON API needs (OWASP REST Security Cheat Sheet), without the HTML-page ones of Hono's defaults
    // (X-XSS-Protection, X-Download-Options, X-DNS-Prefetch-Control, ...): each header costs time on every response.
    secureHeaders({
      contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      xFrameOptions: "DENY",
      originAgentCluster: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false,
      removePoweredBy: false,
    }),
  );
  const limitBody = bodyLimit({
    maxSize: config.bodyLimitBytes,
    onError: (c) => errorResponse(c, 413, "payload_too_large", `request body is larger than the limit of ${config.bodyLimitBytes} bytes`),
  });
  // GET and HEAD carry no body; skipping them also spares building a full Request object on the hot path.
  app.use((c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : limitBody(c, next)));
  app.use(
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
  app.post(
    "/api/greeting",
    validator("json", (body, c) => {
      if (!JSON_MEDIA_TYPE.test((c.req.header("Content-Type") ?? "").split(";")[0]!.trim())) {
        throw new HTTPException(415, { message: "request body must be JSON (Content-Type: application/json)" });
      }
      const name: unknown = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).name : undefined;
      return { name: validName(name, "body field name") };
    }),
    (c) => c.json({ greeting: `Hello, ${c.req.valid("json").name}!` }),
  );

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

