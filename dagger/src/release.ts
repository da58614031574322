/**
 * Building a release from the source: the bundle (built once), the OCI labels, and the runtime image of each platform.
 * Used by the Pipeline's build functions and by Aws.publish.
 */
import type { Container, Directory, File, Platform } from "@dagger.io/dagger";
import { runtimeImage, type ImageMetadata } from "./image.js";
import { nodeBuildEnv, runStage } from "./stages.js";

/** The service's package.json: its name and version label the image and are checked by the smoke test. */
export async function servicePackage(source: Directory): Promise<{ name: string; version: string }> {
  return JSON.parse(await source.file("package.json").contents()) as { name: string; version: string };
}

/** The service bundle (`npm run build`) with `commit` and the build time baked in. */
export async function buildBundle(source: Directory, commit: string, sourceDateEpoch?: number): Promise<File> {
  let env = nodeBuildEnv(source).withEnvVariable("GIT_COMMIT", commit);
  if (sourceDateEpoch !== undefined) env = env.withEnvVariable("SOURCE_DATE_EPOCH", String(sourceDateEpoch));
  return (await runStage("build", env, ["npm", "run", "build"])).file("dist/server.mjs");
}

/** The OCI label values of an image of `revision`. */
export async function imageMetadata(source: Directory, revision: string, sourceUrl: string): Promise<ImageMetadata> {
  const pkg = await servicePackage(source);
  return { title: pkg.name, version: pkg.version, revision, sourceUrl };
}

/** The runtime image of one platform (default: the engine's own). */
export async function buildImage(source: Directory, platform: Platform | undefined, commit: string, sourceDateEpoch: number | undefined, sourceUrl: string): Promise<Container> {
  return runtimeImage(await buildBundle(source, commit, sourceDateEpoch), await imageMetadata(source, commit, sourceUrl), platform);
}

/** The runtime images of `platforms`, by platform, from one bundle built once on the engine's own platform. */
export async function releaseImages(source: Directory, platforms: Platform[], commit: string, sourceDateEpoch: number | undefined, sourceUrl: string): Promise<Map<string, Container>> {
  const bundle = await buildBundle(source, commit, sourceDateEpoch);
  const metadata = await imageMetadata(source, commit, sourceUrl);
  return new Map(platforms.map((platform) => [platform, runtimeImage(bundle, metadata, platform)]));
}
