/**
 * Build information baked into the bundle by `npm run build` (esbuild `define`).
 * Running from source, nothing is baked in: name and version come from npm's environment when started by an npm
 * script (`npm run dev`), and every field still missing says "unknown".
 */

/** What / and /version report about the build. */
export interface BuildInfo {
  /** The service's name (package.json `name`). */
  name: string;
  version: string;
  commit: string;
  buildTime: string;
}

declare const __BUILD_INFO__: BuildInfo | undefined;

/** The build info of this process: baked-in values, or "unknown" for each one that is missing. */
export function readBuildInfo(): BuildInfo {
  const baked = typeof __BUILD_INFO__ === "undefined" ? undefined : __BUILD_INFO__;
  return {
    name: baked?.name || process.env.npm_package_name || "unknown",
    version: baked?.version || process.env.npm_package_version || "unknown",
    commit: baked?.commit || "unknown",
    buildTime: baked?.buildTime || "unknown",
  };
}
