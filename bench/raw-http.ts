/**
 * The benchmarks' raw HTTP/1.1 client parts: the request of a route as bytes, and a reader of keep-alive answers on one
 * connection. Used by the instruction counts (bench/instructions.ts) and the paced latency run (bench/paced.ts), whose
 * connections send a request only once the last answer is complete.
 */
import type { Socket } from "node:net";
import type { Route } from "./report.js";

/** The POST route's body. */
export const POST_BODY = '{"name":"Ada"}';

/** The raw HTTP/1.1 request of `route` (keep-alive). */
export function rawRequest(route: Route): string {
  const head = `${route.method} ${route.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  return route.method === "POST" ? `${head}Content-Type: application/json\r\nContent-Length: ${POST_BODY.length}\r\n\r\n${POST_BODY}` : `${head}\r\n`;
}

/**
 * Where the body of an answer whose head ends at `bodyStart` ends in `text`, or -1 while it is incomplete: after
 * Content-Length bytes, or after the last chunk of a chunked body (no trailers: our servers send none); undefined when
 * the head has neither.
 */
function bodyEnd(head: string, text: string, bodyStart: number): number | undefined {
  const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
  if (length !== undefined) return text.length >= bodyStart + Number(length) ? bodyStart + Number(length) : -1;
  if (!/\r\ntransfer-encoding: *chunked/i.test(head)) return undefined;
  for (let at = bodyStart; ; ) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd === -1) return -1;
    const size = Number.parseInt(text.slice(at, lineEnd), 16);
    if (Number.isNaN(size)) return undefined;
    const next = lineEnd + 2 + size + 2;
    if (text.length < next) return -1;
    if (size === 0) return next;
    at = next;
  }
}

/**
 * A reader of one connection's answers (latin1 chunks): calls `onAnswer` once per complete answer (its head and its
 * body, by Content-Length or chunked). Throws, naming the route, on an answer that is not `HTTP/1.1 200` or has a body
 * of neither kind.
 */
export function answerReader(route: Route, onAnswer: () => void): (chunk: string) => void {
  let pending = "";
  return (chunk) => {
    pending += chunk;
    for (;;) {
      const headEnd = pending.indexOf("\r\n\r\n");
      if (headEnd === -1) return;
      const head = pending.slice(0, headEnd);
      const end = pending.startsWith("HTTP/1.1 200 ") ? bodyEnd(head, pending, headEnd + 4) : undefined;
      if (end === undefined) throw new Error(`${route.name}: unexpected answer ${JSON.stringify(pending.slice(0, 200))}`);
      if (end === -1) return;
      pending = pending.slice(end);
      onAnswer();
    }
  };
}

/**
 * Reads `socket`'s answers (latin1) with `answerReader`: `onAnswer` once per complete answer; on an answer it refuses,
 * the socket is destroyed and `onError` gets the error (before the socket's `close`).
 */
export function readAnswers(socket: Socket, route: Route, onAnswer: () => void, onError: (error: Error) => void): void {
  const read = answerReader(route, onAnswer);
  socket.setEncoding("latin1").on("data", (chunk: string) => {
    try {
      read(chunk);
    } catch (error) {
      socket.destroy();
      onError(error instanceof Error ? error : new Error(String(error)));
    }
  });
}
