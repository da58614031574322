/**
 * Request bodies with a size limit per route. The limit is decided from Content-Length before anything is read; a body
 * without one (chunked) is counted as it streams in and cut at the limit. Behind the server the body is read straight
 * from Node's request stream, so no Web Request, ReadableStream or AbortSignal is built for it (docs/performance.md).
 */
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { ApiError } from "./errors.js";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** The 413 of a body over `limit` bytes. */
export function payloadTooLarge(limit: number): ApiError {
  return new ApiError(413, "payload_too_large", `request body is larger than the limit of ${limit} bytes`);
}

/** True when a request's Content-Length (`declared`, undefined when absent) announces a body over `limit` bytes. */
export function declaresMoreThan(declared: string | undefined, limit: number): boolean {
  return declared !== undefined && Number(declared) > limit;
}

/** Reads Node's request stream with plain listeners (an async iterator costs several times more per request). */
function readNodeStream(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        incoming.off("data", onData).off("end", onEnd);
        reject(payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    incoming.on("data", onData).once("end", onEnd).once("error", reject);
  });
}

async function readWebBody(request: Request, limit: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > limit) throw payloadTooLarge(limit);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads the request body as JSON, at most `limit` bytes. Throws the service's errors: 415 for a body that is not
 * `application/json`, 413 over the limit (declared or streamed), 400 for text that is not JSON.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any Hono environment: the body comes from the request alone
export async function readJsonBody(c: Context<any>, limit: number): Promise<unknown> {
  if (!JSON_MEDIA_TYPE.test((c.req.header("content-type") ?? "").split(";")[0]!.trim())) {
    throw new ApiError(415, "unsupported_media_type", "request body must be JSON (Content-Type: application/json)");
  }
  if (declaresMoreThan(c.req.header("content-length"), limit)) throw payloadTooLarge(limit);
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const bytes = incoming ? await readNodeStream(incoming, limit) : await readWebBody(c.req.raw, limit);
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch {
    throw new ApiError(400, "bad_request", "Malformed JSON in request body");
  }
}
