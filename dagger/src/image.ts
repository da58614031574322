import { dag, type Container, type File, type Platform } from "@dagger.io/dagger";
import { BUNDLE_PATH, HEALTHCHECK_COMMAND, NODE_IMAGE, NODE_IMAGE_DIGEST, NODE_IMAGE_TAG, RUNTIME_USER, SERVICE_NODE_FLAGS, SERVICE_PORT } from "./versions.js";

/** What the runtime image says about itself in its OCI labels. */
export interface ImageMetadata {
  title: string;
  version: string;
  revision: string;
  /** Repository URL for `org.opencontainers.image.source`; the label is left out when empty. */
  sourceUrl: string;
}

/** Directories of the official Node.js image that hold package managers the runtime never needs (`*` as in Dagger's paths). */
const PACKAGE_MANAGER_DIRECTORIES = ["/usr/local/lib/node_modules", "/opt/yarn-*"];
/** Their commands (symbolic links into those directories). */
const PACKAGE_MANAGER_COMMANDS = ["/usr/local/bin/npm", "/usr/local/bin/npx", "/usr/local/bin/corepack", "/usr/local/bin/yarn", "/usr/local/bin/yarnpkg"];

/**
 * The runtime image for `platform` (default: the engine's own): Node.js and the bundle only. No npm, no node_modules, no
 * sources; removed without running a shell, so a foreign platform needs no emulation to assemble. Runs as an unprivileged
 * user with node as PID 1 (it handles SIGTERM itself) and the service's Node flags, `NODE_ENV=production`, the service port exposed, a health check,
 * and OCI labels without a build timestamp. Every input is fixed (base by digest, file owner, mode and time, labels,
 * environment), so the same commit gives the same image configuration and layers.
 */
export function runtimeImage(bundle: File, metadata: ImageMetadata, platform?: Platform): Container {
  const base = dag.container(platform ? { platform } : undefined).from(NODE_IMAGE);
  let image = PACKAGE_MANAGER_DIRECTORIES.reduce((container, directory) => container.withoutDirectory(directory), base)
    .withoutFiles(PACKAGE_MANAGER_COMMANDS)
    .withFile(BUNDLE_PATH, bundle, { owner: "root:root", permissions: 0o444 })
    .withWorkdir("/app")
    .withEnvVariable("NODE_ENV", "production")
    .withEnvVariable("PORT", String(SERVICE_PORT))
    .withUser(RUNTIME_USER)
    .withExposedPort(SERVICE_PORT)
    // The service's Node flags (SERVICE_NODE_FLAGS: a smaller young generation, for the RSS target) go on the command
    // line, not in NODE_OPTIONS, so that the health check's `node -e` starts without them.
    .withEntrypoint(["node", ...SERVICE_NODE_FLAGS, BUNDLE_PATH])
    .withDockerHealthcheck(HEALTHCHECK_COMMAND, { interval: "10s", timeout: "3s", startPeriod: "5s", retries: 3 })
    .withLabel("org.opencontainers.image.title", metadata.title)
    .withLabel("org.opencontainers.image.version", metadata.version)
    .withLabel("org.opencontainers.image.revision", metadata.revision)
    .withLabel("org.opencontainers.image.base.name", `docker.io/library/${NODE_IMAGE_TAG}`)
    .withLabel("org.opencontainers.image.base.digest", NODE_IMAGE_DIGEST);
  if (metadata.sourceUrl) image = image.withLabel("org.opencontainers.image.source", metadata.sourceUrl);
  return image;
}
