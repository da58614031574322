// Bundles the service into one ESM file that runs with `node` and no node_modules.
// Usage: tsx scripts/build.ts [outfile]   (default outfile: dist/server.mjs)
// Build info (name and version from package.json, commit, build time) is baked in through esbuild `define`.
// Reproducible: the same commit gives the same bytes, and the same file time, whenever it is built:
//   GIT_COMMIT         the commit to report (default: `git rev-parse HEAD`, or "unknown" outside a git checkout)
//   SOURCE_DATE_EPOCH  the build time, in seconds since 1970 (reproducible-builds.org); default: the commit's time
//                      (`git log -1 --format=%ct`), or "unknown" outside a git checkout. Never the wall clock.
import { execFileSync } from "node:child_process";
import { readFileSync, utimesSync } from "node:fs";
import { bundle } from "./bundle.js";

function git(args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The build time in seconds since 1970: SOURCE_DATE_EPOCH, else the commit's time, else undefined. */
function sourceDateEpoch(): number | undefined {
  const given = process.env.SOURCE_DATE_EPOCH;
  if (given !== undefined && given !== "") {
    if (!/^\d{1,12}$/.test(given)) {
      console.error(`SOURCE_DATE_EPOCH=${JSON.stringify(given)} is invalid: expected whole seconds since 1970, e.g. $(git log -1 --format=%ct)`);
      process.exit(78);
    }
    return Number(given);
  }
  const committed = git(["log", "-1", "--format=%ct"]);
  return committed === undefined ? undefined : Number(committed);
}

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { name: string; version: string };
const epoch = sourceDateEpoch();
const buildTime = epoch === undefined ? "unknown" : new Date(epoch * 1000).toISOString();
const buildInfo = { name: pkg.name, version: pkg.version, commit: process.env.GIT_COMMIT || git(["rev-parse", "HEAD"]) || "unknown", buildTime };
const outfile = process.argv[2] ?? "dist/server.mjs";

const bytes = await bundle({ entryPoint: "src/main.ts", outfile, define: { __BUILD_INFO__: JSON.stringify(buildInfo) } });
// The file's own time goes into the image layer that holds it: make it the build time too (1970 when unknown).
utimesSync(outfile, epoch ?? 0, epoch ?? 0);
console.log(`${outfile}: ${(bytes / 1024).toFixed(1)} KiB, ${buildInfo.name} ${buildInfo.version}, commit ${buildInfo.commit}, built ${buildInfo.buildTime}`);
