/**
 * Pinned inputs of the pipeline. Change them here, deliberately: every image the pipeline runs or ships is named by an
 * exact version tag and its digest, never `latest` (a tag can be pushed again; a digest cannot).
 */

/**
 * Node.js 24 LTS (supported until 2028-04-30) on Alpine: the build, lint and test stages run in it, and the runtime
 * image starts from it with npm, npx, corepack and yarn removed. The digest is the multi-platform index digest.
 * To refresh: pick the new tag, then `docker buildx imagetools inspect node:<tag> --format '{{.Manifest.Digest}}'`
 * (or `crane digest node:<tag>`), and update both constants together.
 */
export const NODE_IMAGE_TAG = "node:24.20.0-alpine3.24";
export const NODE_IMAGE_DIGEST = "sha256:e67514e5d0f6c46656005e1b693b2ec9d52e80b641307de684d4a015ba7a4eaf";
export const NODE_IMAGE = `${NODE_IMAGE_TAG}@${NODE_IMAGE_DIGEST}`;

/**
 * The supply-chain tools, pinned by their multi-platform index digests (a tag can be re-pushed: Trivy 0.69.4 to 0.69.6
 * were malicious releases, GHSA-69fq-xp46-6x23). Refresh: `docker buildx imagetools inspect aquasec/trivy:<version>`.
 */
export const TRIVY_IMAGE = "aquasec/trivy:0.69.3@sha256:bcc376de8d77cfe086a917230e818dc9f8528e3c852f7b1aff648949b6258d1c";
export const SYFT_IMAGE = "anchore/syft:v1.46.0@sha256:473a60e3a58e29aca3aedb3e99e787bb4ef273917e44d10fcbea4330a07320bb";

/** The port the service listens on inside the image (its `PORT` default). */
export const SERVICE_PORT = 8080;

/** The unprivileged user of the runtime image: `node` (uid/gid 1000) in the official Node.js images. */
export const RUNTIME_USER = "1000:1000";

/**
 * The health check of the image and of the ECS task definition (ECS ignores an image's own):
 * GET /healthz with Node's fetch, since the image has neither curl nor wget.
 */
export const HEALTHCHECK_COMMAND = [
  "node",
  "-e",
  "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))",
];

/**
 * Node flags the service runs with, wherever it runs: the image's entrypoint, `npm start` and `npm run bench`.
 * `--max-semi-space-size=8` caps each of V8's two young-generation halves at 8 MiB; by default they grow to 16 MiB under
 * load (Node 20 and 24 alike), all of it resident. Measured on 24.20.0 after 30 s of POST load: RSS 121-135 MiB without
 * the cap, 107 MiB with it (target 120); instructions per request: docs/performance.md, "Node 24".
 */
export const SERVICE_NODE_FLAGS = ["--max-semi-space-size=8"];

/** Where the bundle lives in the runtime image. */
export const BUNDLE_PATH = "/app/server.mjs";

/** Name of the npm download cache volume shared by every stage. */
export const NPM_CACHE_VOLUME = "npm-cache";

/** Name of the pip download cache volume of the test stage. */
export const PIP_CACHE_VOLUME = "pip-cache";

/**
 * Python packages the test suite needs besides Node (moto's ECR emulator), installed in the test stage from this
 * requirements file of the repository, with exact versions (the same moto the machines running `.ci/run` have).
 */
export const PYTHON_REQUIREMENTS = "test/python-requirements.txt";

/**
 * Paths of the repository never sent to the engine with the source directory: everything `.gitignore` ignores
 * (installed or built output, results, local secrets, CDK output; a test checks they agree), plus git metadata and the
 * generated SDK. Anything here that changed would otherwise change every stage's cache key.
 */
export const SOURCE_IGNORE = [
  "**/node_modules",
  "dist",
  "coverage",
  ".ci/results",
  "**/*.tar",
  "**/.env",
  "**/.env.*",
  "infra/cdk.out",
  ".git",
  "dagger/sdk",
  ".stryker-tmp",
  "reports/mutation",
];
