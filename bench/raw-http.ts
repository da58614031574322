/**
 * The benchmarks' raw HTTP/1.1 client parts: the request of a route as bytes, and a reader of keep-alive answers on one
 * connection. Used by the instruction counts (bench/instructions.ts) and the paced latency run (bench/paced.ts), whose
 * connections send a request only once the last answer is complete.
 */
import type { Route } from "./report.js";

/** The POST route's body. */
export const POST_BODY = '{"name":"Ada"}';

/** The raw HTTP/1.1 request of `route` (keep-alive). */
export function rawRequest(route: Route): string {
  const head = `${route.method} ${route.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  return route.method === "POST" ? `${head}Content-Type: application/json\r\nContent-Length: ${POST_BODY.length}\r\n\r\n${POST_BODY}` : `${head}\r\n`;
}

/**
 * A reader of one connection's answers (latin1 chunks): calls `onAnswer` once per complete answer (head and
 * Content-Length bytes of body). Throws, naming the route, on an answer that is not `HTTP/1.1 200` with a Content-Length.
 */
export function answerReader(route: Route, onAnswer: () => void): (chunk: string) => void {
  let pending = "";
  return (chunk) => {
    pending += chunk;
    for (;;) {
      const end = pending.indexOf("\r\n\r\n");
      if (end === -1) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(pending.slice(0, end))?.[1] ?? NaN);
      if (!pending.startsWith("HTTP/1.1 200 ") || Number.isNaN(length)) throw new Error(`${route.name}: unexpected answer ${JSON.stringify(pending.slice(0, 200))}`);
      if (pending.length < end + 4 + length) return;
      pending = pending.slice(end + 4 + length);
      onAnswer();
    }
  };
}
