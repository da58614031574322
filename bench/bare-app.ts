/**
 * The benchmark's baseline: a bare Hono app on @hono/node-server with one route and no middleware, started the same
 * way as the service (a bundle run with node). The service's throughput is reported as a ratio to this.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
app.get("/healthz", (c) => c.json({ status: "ok" }));
serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 8080), hostname: process.env.HOST ?? "127.0.0.1" }, (info) => {
  process.stdout.write(`${JSON.stringify({ msg: "listening", port: info.port })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
