import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

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

/** Sends the service's JSON error shape with the request id of `c`. */
export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  const body: ErrorBody = { error: { code, message, requestId: String(c.get("requestId") ?? "") } };
  return c.json(body, status);
}
