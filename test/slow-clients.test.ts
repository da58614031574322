// Slow clients against the real server over TCP: connections that send their headers a byte at a time are cut after
// HEADERS_TIMEOUT_MS with a JSON 408, while health probes keep being answered and idle keep-alive connections, which
// have no request in progress, stay open for the keep-alive timeout. Bounded: 300 connections, one byte every 200 ms.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server.js";
import { httpRequest } from "./helpers/process.js";
import { createTestService, sleep } from "./helpers/service.js";

const HEADERS_TIMEOUT_MS = 1000;
const ATTACKERS = 300;
let server: RunningServer;

beforeAll(async () => {
  const service = createTestService({ HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), KEEP_ALIVE_TIMEOUT_MS: "65000" });
  server = await startServer({ app: service.app, config: service.config, logger: service.logger, onDrain: () => undefined });
});
afterAll(async () => {
  server.server.closeAllConnections();
  await server.shutdown("test end");
});

/** Opens a connection that sends a request line, then one header byte every 200 ms until the server closes it. */
function slowloris(port: number): Promise<{ answer: string; openMs: number }> {
  return new Promise((resolve) => {
    const opened = Date.now();
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding("latin1").on("data", (chunk: string) => (answer += chunk));
    socket.on("error", () => undefined);
    socket.once("connect", () => {
      socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
      timer = setInterval(() => socket.writable && socket.write("a"), 200);
    });
    // Never more than 15 s, whatever the server does.
    const giveUp = setTimeout(() => socket.destroy(), 15_000);
    socket.once("close", () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ answer, openMs: Date.now() - opened });
    });
  });
}

describe("slow clients", () => {
  it("are cut with a JSON 408 after the headers timeout while probes are answered", async () => {
    const attacks = Array.from({ length: ATTACKERS }, () => slowloris(server.address.port));
    const probes: number[] = [];
    for (let i = 0; i < 10; i++) {
      probes.push((await httpRequest(server.address.port, "/healthz")).status);
      await sleep(150);
    }
    const results = await Promise.all(attacks);
    expect(probes).toEqual(Array(10).fill(200));
    const statuses = results.map(({ answer }) => /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
    expect(statuses).toEqual(Array(ATTACKERS).fill("408"));
    expect(results.every(({ answer }) => answer.includes('"code":"request_timeout"'))).toBe(true);
    // Cut by the server, not by the 15 s bound: headers timeout plus Node's 1 s checking interval, with room for a busy machine.
    expect(Math.max(...results.map(({ openMs }) => openMs))).toBeLessThan(HEADERS_TIMEOUT_MS + 6_000);
  }, 30_000);

  it("an idle keep-alive connection outlives the headers timeout and serves its next request", async () => {
    const socket = net.connect(server.address.port, "127.0.0.1");
    let received = "";
    socket.setEncoding("latin1").on("data", (chunk: string) => (received += chunk));
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    await sleep(HEADERS_TIMEOUT_MS * 2.5);
    expect(socket.destroyed).toBe(false);
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await new Promise((resolve) => socket.once("close", resolve));
    expect(received.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
  }, 15_000);
});
