// Raw HTTP/1.x over TCP, for the requests no HTTP client would send: write bytes, read what the server answered.
import net from "node:net";
import { expect } from "vitest";
import { REQUEST_ID_HEADER, SECURITY_HEADERS } from "../../src/headers.js";

/** How a raw exchange writes its payload and how long it waits for the server to close the connection. */
export interface RawExchangeOptions {
  /** Half-closes the connection (sends FIN) once the payload is written, as a client that has nothing more to send. */
  halfClose?: boolean;
  /** Destroys the connection after this long if the server has not closed it (default 2 s). */
  timeoutMs?: number;
}

/**
 * Writes `payload` on a new connection to 127.0.0.1:`port` and resolves with everything the server sent (latin1) until
 * it closed the connection or `timeoutMs` passed.
 */
export function rawExchange(port: number, payload: string | Buffer, options: RawExchangeOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => socket.destroy(), options.timeoutMs ?? 2000);
    socket.setEncoding("latin1").on("data", (chunk: string) => (received += chunk));
    socket.once("close", () => (clearTimeout(timer), resolve(received)));
    socket.once("error", reject);
    if (options.halfClose) socket.end(payload);
    else socket.write(payload);
  });
}

/** One response read from raw bytes: its status, its headers (names in lower case, each once) and its body. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Every header line as sent, to count repeats. */
  headerLines: string[];
  body: string;
}

/**
 * The responses in `raw`, in order: interim (1xx) ones included, each body read by Content-Length (or, chunked, up to
 * the last chunk).
 */
export function parseResponses(raw: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) throw new Error(`not an HTTP response: ${JSON.stringify(rest.slice(0, 200))}`);
    const [statusLine = "", ...headerLines] = rest.slice(0, end).split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    rest = rest.slice(end + 4);
    let body = "";
    if (status >= 200 && headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      body = rest.slice(0, length);
      rest = rest.slice(length);
    } else if (status >= 200 && headers["transfer-encoding"] === "chunked") {
      const last = rest.indexOf("0\r\n\r\n");
      body = rest.slice(0, last === -1 ? rest.length : last);
      rest = last === -1 ? "" : rest.slice(last + 5);
    } else if (status >= 200) {
      body = rest;
      rest = "";
    }
    responses.push({ status, headers, headerLines, body });
  }
  return responses;
}

/** The HTTP status of the first response in `raw` (NaN when `raw` is not an HTTP/1.x response). */
export function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
}

/** The service's error body of the first response in `raw`. */
export function jsonBodyOf(raw: string): { error: { code: string; message: string; requestId: string } } {
  return JSON.parse(parseResponses(raw)[0]!.body) as { error: { code: string; message: string; requestId: string } };
}

/**
 * Asserts that `response` is one of the service's answers, whoever wrote it: a JSON body, a non-empty request id (the
 * same in the body, for an error), and every security header, each once.
 */
export function expectServiceAnswer(response: RawResponse): void {
  expect(response.headers["content-type"], JSON.stringify(response.headerLines)).toMatch(/^application\/json/);
  const body = JSON.parse(response.body) as { error?: { requestId?: string } };
  const requestId = response.headers[REQUEST_ID_HEADER.toLowerCase()];
  expect(requestId, JSON.stringify(response.headerLines)).toMatch(/^[\w=-]{1,255}$/);
  if (body.error) expect(body.error.requestId).toBe(requestId);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    const lines = response.headerLines.map((line) => line.toLowerCase()).filter((line) => line.startsWith(`${name.toLowerCase()}:`));
    expect(lines, name).toEqual([`${name}: ${value}`.toLowerCase()]);
  }
}
