/** A TCP port free on 127.0.0.1 now (the OS picks it; the caller's server binds it next). */
import net from "node:net";

/** Asks the OS for a free loopback port by binding port 0, then releases it. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
