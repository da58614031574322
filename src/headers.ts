/**
 * Headers every answer of the process carries, whoever writes it: the app, the server's own error answers (parser
 * errors, rejected request lines, Expect, CONNECT), node-server's request errors (no Host, a bad Host, a bad URL).
 */
import { randomUUID } from "node:crypto";

/**
 * The security headers a JSON API needs (OWASP REST Security Cheat Sheet), without the HTML-page ones of Hono's
 * secureHeaders defaults (X-XSS-Protection, X-Download-Options, X-DNS-Prefetch-Control, ...). Static, so the server
 * writes them on Node's response directly instead of building them per request.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Referrer-Policy": "no-referrer",
  "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
};

/** The request id header, read from the client and echoed on every answer. */
export const REQUEST_ID_HEADER = "X-Request-Id";
const REQUEST_ID_PATTERN = /^[\w=-]{1,255}$/;

/** The client's request id when it is 1 to 255 of `[A-Za-z0-9_=-]`, else a new UUID. */
export function requestIdFrom(incoming: string | string[] | undefined): string {
  return typeof incoming === "string" && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}

/** The status line, security headers and request id of a raw HTTP/1.1 answer written on a socket, with a JSON body. */
export function rawJsonAnswer(status: number, reason: string, body: string, requestId: string): string {
  const headers = Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `${REQUEST_ID_HEADER}: ${requestId}\r\n${headers}Connection: close\r\n\r\n${body}`
  );
}
