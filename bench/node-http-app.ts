/**
 * The floor nobody beats: the service's routes on Node's own http module, no framework, no validation, no headers
 * beyond Content-Type. Bundled and started like the others.
 */
import http from "node:http";

const json = (res: http.ServerResponse, body: unknown): void => {
  res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
};
const server = http.createServer((req, res) => {
  const [path, query = ""] = (req.url ?? "/").split("?");
  if (req.method === "POST" && path === "/api/greeting") {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => json(res, { greeting: `Hello, ${(JSON.parse(Buffer.concat(chunks).toString()) as { name: string }).name}!` }));
    return;
  }
  if (path === "/healthz") return json(res, { status: "ok" });
  if (path === "/") return json(res, { service: "node-http", version: "0.0.0", message: "Hello from node:http" });
  if (path === "/api/greeting") return json(res, { greeting: `Hello, ${new URLSearchParams(query).get("name") ?? "world"}!` });
  res.writeHead(404).end();
});
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ msg: "listening", port: (server.address() as { port: number }).port })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
