/**
 * Build information baked into the bundle by `npm run build` (esbuild `define`).
 * Running from source (tests, `npm run dev`), nothing is baked in and every field says "unknown".
 */

/** What /version reports about the build. */
export interface BuildInfo {
  version: string;
  commit: string;
  buildTime: string;
}

declare const __BUILD_INFO__: BuildInfo | undefined;

/** The build info of this process: baked-in values, or "unknown" for each one that is missing. */
export function readBuildInfo(): BuildInfo {
  const baked = typeof __BUILD_INFO__ === "undefined" ? undefined : __BUILD_INFO__;
  return {
    version: baked?.version || "unknown",
    commit: baked?.commit || "unknown",
    buildTime: baked?.buildTime || "unknown",
  };
}
