import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { REQUEST_ID_HEADER, requestIdFrom } from "./headers.js";

/** The JSON body of every error response. */
export interface ErrorBody {
  error: {
    /** Stable, machine-readable error code (snake_case). */
    code: string;
    /** A sentence for humans; never a stack trace or internal detail. */
    message: string;
    /** The request id, also sent as the X-Request-Id header. */
    requestId: string;
  };
}

/** Error codes by HTTP status, for errors raised as HTTPException without a code of their own. */
const CODE_BY_STATUS: Partial<Record<number, string>> = {
  400: "bad_request",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  500: "internal_error",
  503: "service_unavailable",
};

/** An HTTP error with a code of its own (e.g. a 503 that is a timeout), for handlers and middleware to throw. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(status, { message });
  }
}

/** The error code used for `status` when the thrower did not name one (a plain HTTPException). */
export function codeForStatus(status: number): string {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? "server_error" : "client_error");
}

/**
 * The request id of the exchange: the one the server gave it (on Node's response), or, without the server
 * (`app.request()`), one read from the request or generated, kept for the rest of the request.
 */
export function requestIdOf(c: Context): string {
  const fromServer = (c.env as { outgoing?: { requestId?: string } } | undefined)?.outgoing?.requestId;
  if (fromServer) return fromServer;
  const kept = c.get("requestId") as string | undefined;
  if (kept) return kept;
  const id = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
  c.set("requestId", id);
  return id;
}

/** Sends the service's JSON error shape with the request id of `c`. */
export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  const body: ErrorBody = { error: { code, message, requestId: requestIdOf(c) } };
  return c.json(body, status);
}
