import { dag, type Container, type File, type Platform } from "@dagger.io/dagger";
import { BUNDLE_PATH, NODE_IMAGE, RUNTIME_USER, SERVICE_PORT } from "./versions.js";

/** What the runtime image says about itself in its OCI labels. */
export interface ImageMetadata {
  title: string;
  version: string;
  revision: string;
  /** Repository URL for `org.opencontainers.image.source`; the label is left out when empty. */
  sourceUrl: string;
}

/** Package managers the official Node.js image ships and the runtime never needs. */
const PACKAGE_MANAGER_PATHS = [
  "/usr/local/lib/node_modules",
  "/usr/local/bin/npm",
  "/usr/local/bin/npx",
  "/usr/local/bin/corepack",
  "/usr/local/bin/yarn",
  "/usr/local/bin/yarnpkg",
  "/opt/yarn-*",
];

/**
 * The runtime image: Node.js and the bundle only. No npm, no node_modules, no sources; runs as an unprivileged user
 * with node as PID 1 (it handles SIGTERM itself), `NODE_ENV=production`, the service port exposed, and OCI labels
 * without a build timestamp, so an unchanged bundle gives an identical image.
 */
export function runtimeImage(bundle: File, metadata: ImageMetadata, platform?: Platform): Container {
  let image = dag
    .container(platform ? { platform } : undefined)
    .from(NODE_IMAGE)
    .withExec(["sh", "-c", `rm -rf ${PACKAGE_MANAGER_PATHS.join(" ")}`])
    .withFile(BUNDLE_PATH, bundle, { owner: "root:root", permissions: 0o444 })
    .withWorkdir("/app")
    .withEnvVariable("NODE_ENV", "production")
    .withEnvVariable("PORT", String(SERVICE_PORT))
    .withUser(RUNTIME_USER)
    .withExposedPort(SERVICE_PORT)
    .withEntrypoint(["node", BUNDLE_PATH])
    .withLabel("org.opencontainers.image.title", metadata.title)
    .withLabel("org.opencontainers.image.version", metadata.version)
    .withLabel("org.opencontainers.image.revision", metadata.revision)
    .withLabel("org.opencontainers.image.base.name", `docker.io/library/${NODE_IMAGE}`);
  if (metadata.sourceUrl) image = image.withLabel("org.opencontainers.image.source", metadata.sourceUrl);
  return image;
}
