/**
 * Pinned inputs of the pipeline. Change them here, deliberately: every image the pipeline runs or ships
 * is named by an exact version tag, never `latest`.
 */

/**
 * Node.js 24 LTS (supported until 2028-04-30) on Alpine: the build, lint and test stages run in it, and the runtime
 * image starts from it with npm, npx, corepack and yarn removed.
 */
export const NODE_IMAGE = "node:24.20.0-alpine3.24";

/** The port the service listens on inside the image (its `PORT` default). */
export const SERVICE_PORT = 8080;

/** The unprivileged user of the runtime image: `node` (uid/gid 1000) in the official Node.js images. */
export const RUNTIME_USER = "1000:1000";

/** Where the bundle lives in the runtime image. */
export const BUNDLE_PATH = "/app/server.mjs";

/** Name of the npm download cache volume shared by every stage. */
export const NPM_CACHE_VOLUME = "npm-cache";

/**
 * Paths of the repository never sent to the engine with the source directory: installed or built output,
 * generated SDK, and anything that would change on every run without changing the build.
 */
export const SOURCE_IGNORE = [
  "**/node_modules",
  "dist",
  "coverage",
  ".git",
  "dagger/sdk",
  ".ci/results",
  "**/*.tar",
  ".env",
  ".env.*",
];
