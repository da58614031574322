import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A service running as its own process, with its parsed JSON log lines. */
export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  logs: Record<string, unknown>[];
  stderr: () => string;
  /** Resolves with the first log line whose `msg` is `msg` (already written or still to come). */
  waitForLog: (msg: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the process has exited. */
  exitCode: Promise<number | null>;
}

/** Environment for child processes: the parent's, minus anything that would change the service's config. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const name of ["PORT", "HOST", "LOG_LEVEL", "BODY_LIMIT_BYTES", "REQUEST_TIMEOUT_MS", "SHUTDOWN_GRACE_MS", "KEEP_ALIVE_TIMEOUT_MS", "NODE_OPTIONS"]) {
    delete base[name];
  }
  return { ...base, ...env };
}

/** Starts `node ...args` and waits for its "listening" log line; kills the process if that line does not come. */
export async function spawnService(args: string[], env: Record<string, string> = {}, command = process.execPath): Promise<ServiceProcess> {
  const child = spawn(command, args, { cwd: ROOT, env: childEnv({ PORT: "0", HOST: "127.0.0.1", ...env }), stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let stderr = "";
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const text of lines.filter(Boolean)) {
      const line = JSON.parse(text) as Record<string, unknown>;
      logs.push(line);
      for (const waiter of waiters.filter((w) => w.msg === line.msg)) waiter.resolve(line);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exitCode = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const waitForLog = (msg: string, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const seen = logs.find((line) => line.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" log line within ${timeoutMs} ms; stderr: ${stderr}; logs: ${JSON.stringify(logs)}`)), timeoutMs);
      waiters.push({ msg, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      void exitCode.then((code) => reject(new Error(`process exited (${code}) before "${msg}"; stderr: ${stderr}`)));
    });
  };

  let listening: Record<string, unknown>;
  try {
    listening = await waitForLog("listening");
  } catch (error) {
    child.kill("SIGKILL"); // never leave a process behind that no test will stop
    throw error;
  }
  return { child, port: listening.port as number, logs, stderr: () => stderr, waitForLog, exitCode };
}

/** Runs `node ...args` to completion and returns its exit code and output. */
export function runToExit(args: string[], env: Record<string, string>, timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A complete HTTP response. */
export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request over TCP to 127.0.0.1:port; rejects on connection errors (ECONNREFUSED, ECONNRESET...). */
export function httpRequest(port: number, path: string, options: http.RequestOptions & { body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, agent: false, ...options }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.once("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.once("error", reject);
    });
    req.once("error", reject);
    req.end(options.body);
  });
}

/** Builds the production bundle with the real build script into `outfile` (with fixed build info). */
export function buildBundle(outfile: string, env: Record<string, string> = {}): void {
  execFileSync(process.execPath, ["--import", "tsx", "scripts/build.ts", outfile], { cwd: ROOT, env: { ...process.env, ...env }, stdio: "pipe" });
}
