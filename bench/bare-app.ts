/**
 * The benchmark's baseline: a bare Hono app on @hono/node-server with the service's routes and no middleware, bundled
 * with the same esbuild settings (scripts/bundle.ts) and started the same way. The service's throughput is reported as a
 * ratio to this.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.json({ service: "bare", version: "0.0.0", message: "Hello from Hono" }));
app.get("/healthz", (c) => c.json({ status: "ok" }));
app.get("/api/greeting", (c) => c.json({ greeting: `Hello, ${c.req.query("name") ?? "world"}!` }));
app.post("/api/greeting", async (c) => c.json({ greeting: `Hello, ${(await c.req.json<{ name: string }>()).name}!` }));
serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 8080), hostname: process.env.HOST ?? "127.0.0.1" }, (info) => {
  process.stdout.write(`${JSON.stringify({ msg: "listening", port: info.port })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
