// Bundles the service into one ESM file that runs with `node` and no node_modules.
// Usage: tsx scripts/build.ts [outfile]   (default outfile: dist/server.mjs)
// Build info (name and version from package.json, commit, build time) is baked in through esbuild `define`:
//   GIT_COMMIT  the commit to report (default: `git rev-parse HEAD`, or "unknown" outside a git checkout)
//   BUILD_TIME  an ISO timestamp (default: SOURCE_DATE_EPOCH if set, else now)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { bundle } from "./bundle.js";

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

function buildTime(): string {
  if (process.env.BUILD_TIME) return process.env.BUILD_TIME;
  if (process.env.SOURCE_DATE_EPOCH) return new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString();
  return new Date().toISOString();
}

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { name: string; version: string };
const buildInfo = { name: pkg.name, version: pkg.version, commit: process.env.GIT_COMMIT || gitCommit(), buildTime: buildTime() };
const outfile = process.argv[2] ?? "dist/server.mjs";

const bytes = await bundle({ entryPoint: "src/main.ts", outfile, define: { __BUILD_INFO__: JSON.stringify(buildInfo) } });
console.log(`${outfile}: ${(bytes / 1024).toFixed(1)} KiB, ${buildInfo.name} ${buildInfo.version}, commit ${buildInfo.commit}, built ${buildInfo.buildTime}`);
