// The production bundle, built by the real build script, copied alone into an empty folder and run with `node`.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_NODE_FLAGS } from "../dagger/src/versions.js";
import { SETTINGS } from "../src/config.js";
import { buildBundle, httpRequest, ROOT, runToExit, spawnService, type ServiceProcess } from "./helpers/process.js";

let folder: string;
let bundle: string;
const BUILD_ENV = { GIT_COMMIT: "0123456789abcdef0123456789abcdef01234567", SOURCE_DATE_EPOCH: "1770091506" };
const BUILD_TIME = "2026-02-03T04:05:06.000Z";

beforeAll(() => {
  folder = mkdtempSync(path.join(tmpdir(), "bundle-"));
  bundle = path.join(folder, "server.mjs");
  buildBundle(bundle, BUILD_ENV);
}, 60_000);
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("the bundle", () => {
  let service: ServiceProcess | undefined;
  afterAll(() => void service?.child.kill("SIGKILL"));

  it("is one file that runs with no node_modules and the image's Node flags, answers /healthz and reports the baked-in build info", async () => {
    expect(readdirSync(folder)).toEqual(["server.mjs"]);
    service = await spawnService([...SERVICE_NODE_FLAGS, bundle], {}, process.execPath);
    expect((await httpRequest(service.port, "/healthz")).status).toBe(200);
    const version = JSON.parse((await httpRequest(service.port, "/version")).body) as Record<string, string>;
    expect(version).toEqual({ name: "hono-ecr-service", version: "0.1.0", commit: BUILD_ENV.GIT_COMMIT, buildTime: BUILD_TIME, node: process.version });
    service.child.kill("SIGTERM");
    expect(await service.exitCode).toBe(0);
  });
});

describe("npm start", () => {
  it("runs the bundle with the Node flags of the image's entrypoint (SERVICE_NODE_FLAGS)", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(["node", ...SERVICE_NODE_FLAGS, "dist/server.mjs"].join(" "));
  });
});

describe("a read-only root filesystem (the task definition sets readonlyRootFilesystem)", () => {
  // Node's permission model stands in for the read-only mount: with read access only, any file write throws. Its flag
  // is `--experimental-permission` on Node 20 and `--permission` from Node 22.13/23.5 on (Node 24 has only the latter):
  // take the one the running Node accepts.
  const PERMISSION = process.allowedNodeEnvironmentFlags.has("--permission") ? "--permission" : "--experimental-permission";
  const READ_ONLY = [PERMISSION, "--allow-fs-read=*"];

  it("the permission model really refuses a write (so the next check can fail)", () => {
    const probe = spawnSync(process.execPath, [...READ_ONLY, "-e", `require("node:fs").writeFileSync(${JSON.stringify(path.join(folder, "probe"))}, "x")`], { encoding: "utf8" });
    expect(probe.status).not.toBe(0);
    expect(probe.stderr).toContain("ERR_ACCESS_DENIED");
  });

  it("the service serves, logs, refuses bad input and shuts down cleanly without writing a file", async () => {
    const service = await spawnService([...READ_ONLY, bundle]);
    try {
      expect((await httpRequest(service.port, "/readyz")).status).toBe(200);
      expect((await httpRequest(service.port, "/api/greeting", { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"Ada"}' })).status).toBe(200);
      expect((await httpRequest(service.port, "/api/greeting", { method: "POST", headers: { "content-type": "application/json" }, body: "{" })).status).toBe(400);
      expect((await httpRequest(service.port, "/nowhere")).status).toBe(404);
      service.child.kill("SIGTERM");
      expect(await service.exitCode).toBe(0);
      expect(service.stderr()).not.toContain("ERR_ACCESS_DENIED");
      expect(service.logs.map((line) => line.msg)).toEqual(expect.arrayContaining(["listening", "request", "exiting"]));
    } finally {
      service.child.kill("SIGKILL");
    }
  });
});

describe("reproducible builds", () => {
  const NO_TIME = { SOURCE_DATE_EPOCH: "", GIT_COMMIT: "" };
  const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

  it("two builds of one commit, with no time variables set, give identical bytes and file times: the commit's time", async () => {
    const [first, second] = [path.join(folder, "first.mjs"), path.join(folder, "second.mjs")];
    buildBundle(first, NO_TIME);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    buildBundle(second, NO_TIME);
    expect(sha256(first)).toBe(sha256(second));
    // In a git checkout the build time is the commit's; in a source tree without .git (the pipeline's test stage) "unknown".
    let commitTime: number | undefined;
    try {
      commitTime = Number(execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    } catch {
      commitTime = undefined;
    }
    for (const file of [first, second]) expect(statSync(file).mtimeMs).toBe((commitTime ?? 0) * 1000);
    expect(readFileSync(first, "utf8")).toContain(commitTime === undefined ? 'buildTime:"unknown"' : new Date(commitTime * 1000).toISOString());
  }, 60_000);

  it("SOURCE_DATE_EPOCH sets the build time; a value that is not whole seconds stops the build, naming it", () => {
    const outfile = path.join(folder, "dated.mjs");
    buildBundle(outfile, { SOURCE_DATE_EPOCH: "0" });
    expect(readFileSync(outfile, "utf8")).toContain("1970-01-01T00:00:00.000Z");
    expect(statSync(outfile).mtimeMs).toBe(0);
    expect(() => buildBundle(outfile, { SOURCE_DATE_EPOCH: "yesterday" })).toThrow(/SOURCE_DATE_EPOCH="yesterday" is invalid: expected whole seconds since 1970/);
  }, 60_000);
});

/** Why `unshare --pid` cannot run here (needs root or user namespaces), or undefined when it can. */
function pidNamespaceUnavailable(): string | undefined {
  const probe = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"], { encoding: "utf8" });
  return probe.status === 0 ? undefined : `unshare --pid is not available: ${(probe.stderr || String(probe.error)).trim()}`;
}
const noPidNamespace = pidNamespaceUnavailable();

describe.skipIf(noPidNamespace !== undefined)(`as PID 1 in its own PID namespace, as in a container${noPidNamespace ? ` (skipped: ${noPidNamespace})` : ""}`, () => {
  it("handles SIGTERM itself: drains and exits 0", async () => {
    // unshare forks; its child execs node, which becomes PID 1 of the new namespace (no init, no tini).
    const service = await spawnService(["--pid", "--fork", "--mount-proc", process.execPath, bundle], {}, "unshare");
    let node: number | undefined;
    for (const child of readFileSync(`/proc/${service.child.pid}/task/${service.child.pid}/children`, "utf8").trim().split(/\s+/)) {
      if (/NSpid:\s+\d+\s+1$/m.test(readFileSync(`/proc/${child}/status`, "utf8"))) node = Number(child);
    }
    expect(node, "node runs as PID 1 of the namespace").toBeDefined();
    expect((await httpRequest(service.port, "/healthz")).status).toBe(200);
    process.kill(node!, "SIGTERM");
    expect(await service.exitCode).toBe(0);
    expect(service.logs.map((line) => line.msg)).toContain("all connections closed");
  });
});

describe("configuration errors stop the start", () => {
  it.each([
    ["PORT", "abc", "expected an integer from 0 to 65535"],
    ["PORT", "70000", "expected an integer from 0 to 65535"],
    ["PORT", "-1", "expected an integer from 0 to 65535"],
    ["HOST", "bad host!", "expected a host name or IP address (letters, digits, '.', ':', '-', '_')"],
    ["LOG_LEVEL", "verbose", "expected one of fatal, error, warn, info, debug, trace, silent"],
    ["BODY_LIMIT_BYTES", "1mb", "expected an integer number of bytes from 1 to 104857600"],
    ["REQUEST_TIMEOUT_MS", "0", "expected an integer number of milliseconds from 1 to 600000"],
    ["SHUTDOWN_GRACE_MS", "200000", "expected an integer number of milliseconds from 0 to 120000 (ECS stopTimeout is at most 120 s)"],
    ["KEEP_ALIVE_TIMEOUT_MS", "1.5", "expected an integer number of milliseconds from 1 to 600000"],
    ["HEADERS_TIMEOUT_MS", "500", "expected an integer number of milliseconds from 1000 to 120000"],
  ])("%s=%s -> exit 78 and one line naming the variable, the value and the rule", async (name, value, rule) => {
    const result = await runToExit([bundle], { [name]: value });
    expect(result.code).toBe(78);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`configuration error: ${name}=${JSON.stringify(value)} is invalid: ${rule}\n`);
  });

  it("covers every setting", () => {
    expect(SETTINGS.map((setting) => setting.env)).toEqual(["PORT", "HOST", "LOG_LEVEL", "BODY_LIMIT_BYTES", "REQUEST_TIMEOUT_MS", "SHUTDOWN_GRACE_MS", "KEEP_ALIVE_TIMEOUT_MS", "HEADERS_TIMEOUT_MS"]);
  });

  it("a port already in use -> exit 1 with a fatal log line", async () => {
    const holder = await spawnService([bundle]);
    try {
      const result = await runToExit([bundle], { PORT: String(holder.port), HOST: "127.0.0.1" });
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stdout.trim().split("\n").pop()!)).toMatchObject({ level: "fatal", msg: "could not start listening: exiting", port: holder.port });
    } finally {
      holder.child.kill("SIGKILL");
    }
  });
});
