/**
 * The SBOM of a release as it was pushed: the image index a release tag points to in ECR, each of its platform images
 * read by Syft straight from the registry by digest (nothing rebuilt), and the npm packages the bundle inlines from
 * the checkout's lockfile. Each image is pulled by digest, which the registry client verifies (go-containerregistry
 * v0.21.7, pkg/v1/remote/fetcher.go: a manifest that does not hash to the digest asked for is refused), and each image's
 * revision label is checked against the release: the SBOM can only describe the very images `publish` pushed.
 *
 * Syft's behaviour modelled here is anchore/syft v1.46.0's: `--from registry` (cmd/syft/internal/commands/scan.go: "using
 * the --from flag is recommended" over a `registry:` prefix), registry credentials from SYFT_REGISTRY_AUTH_AUTHORITY /
 * _USERNAME / _PASSWORD (cmd/syft/internal/options/registry.go, PostLoad), the image's labels as metadata.properties
 * `syft:image:labels:<label>` (syft/format/common/cyclonedxhelpers/to_format_model.go, toBomProperties). Syft's
 * metadata.component.version is the digest of the reference as typed (syft/source/stereoscopesource/image_source.go,
 * Describe), not one it read, so it is not compared here: the pull by digest is the check; `--platform`
 * makes stereoscope v0.2.2 refuse an image whose config names another platform (pkg/image/oci/registry_provider.go, validatePlatform).
 */
import { dag, type Directory, type Secret } from "@dagger.io/dagger";
import type { ECRClient } from "@aws-sdk/client-ecr";
import { AwsError, type CallContext } from "../aws-errors.js";
import { findImageByTag, platformImages } from "../ecr/registry.js";
import { SYFT_IMAGE } from "../versions.js";
import { npmSbom } from "./scan.js";
import { mergeSboms, parseCycloneDx, SBOM_SPEC_VERSION, type CycloneDx, type PlatformImage, type SbomSubject } from "./sbom.js";

/** The OCI label every image publish builds carries: the release tag it was built for. */
const REVISION_LABEL = "org.opencontainers.image.revision";

/** A release as ECR holds it: the index the release tag points to and the platform images it lists. */
export interface PushedRelease {
  /** `<registry host>/<repository>`. */
  repository: string;
  /** The release tag (the commit). */
  tag: string;
  /** The index digest (or the image's, for a release pushed as a single image). */
  digest: string;
  images: PlatformImage[];
}

/**
 * The release `tag` in `repository`: its digest (which must be `expectedDigest` when given) and its platform images,
 * read from ECR (DescribeImages, BatchGetImage). A release that is not there, or whose tag points elsewhere, is refused.
 */
export async function findPushedRelease(
  client: ECRClient,
  registry: { host: string; repository: string },
  tag: string,
  expectedDigest: string | undefined,
  context: CallContext,
): Promise<PushedRelease> {
  const { host, repository } = registry;
  const digest = await findImageByTag(client, repository, tag, context);
  if (!digest) throw new AwsError(`release ${tag} is not in ECR repository "${repository}" in ${context.region}: publish it first (dagger call aws ... publish --commit=${tag})`);
  if (expectedDigest !== undefined && digest !== expectedDigest) {
    throw new AwsError(`--digest=${expectedDigest} is not release ${tag}: its tag points to ${digest} in ECR repository "${repository}"`);
  }
  const images = (await platformImages(client, repository, digest, context)) ?? [{ digest }];
  if (images.length === 0) throw new AwsError(`the image index ${digest} of release ${tag} lists no platform image`);
  return { repository: `${host}/${repository}`, tag, digest, images };
}

/** The registry login Syft reads the images with: user and password (a Secret: only ever an environment variable of Syft's exec). */
export interface RegistryLogin {
  host: string;
  username: string;
  password: Secret;
}

/** A property of Syft's metadata (the image's labels are there). */
const metadataProperty = (bom: CycloneDx, name: string): string | undefined =>
  ((bom.metadata?.properties as { name: string; value: string }[] | undefined) ?? []).find((property) => property.name === name)?.value;

/**
 * Syft's SBOM of one platform image, pulled from the registry by its digest (the pull refuses any other manifest);
 * refused unless the image carries the release's revision label.
 */
export async function pushedImageSbom(release: PushedRelease, image: PlatformImage, login: RegistryLogin): Promise<CycloneDx> {
  const reference = `${release.repository}@${image.digest}`;
  const what = `the ${image.platform ?? "single-platform"} image ${image.digest} of release ${release.tag}`;
  const output = await dag
    .container()
    .from(SYFT_IMAGE)
    .withEnvVariable("SYFT_CHECK_FOR_APP_UPDATE", "false")
    .withEnvVariable("SYFT_REGISTRY_AUTH_AUTHORITY", login.host)
    .withEnvVariable("SYFT_REGISTRY_AUTH_USERNAME", login.username)
    .withSecretVariable("SYFT_REGISTRY_AUTH_PASSWORD", login.password)
    .withExec(["/syft", "scan", "--from", "registry", reference, ...(image.platform ? ["--platform", image.platform] : []), "--output", `cyclonedx-json@${SBOM_SPEC_VERSION}`])
    .stdout();
  const bom = parseCycloneDx(output, `syft (${reference})`);
  const revision = metadataProperty(bom, `syft:image:labels:${REVISION_LABEL}`);
  if (revision !== release.tag) {
    throw new Error(`${what} ${revision === undefined ? `has no ${REVISION_LABEL} label` : `was built for revision ${revision}`}: not release ${release.tag} as publish builds it`);
  }
  return bom;
}

/**
 * The release SBOM of a pushed release: one Syft SBOM per platform image (read from ECR by digest) and `npm sbom` of
 * `source`'s lockfile, merged under the index (its digest in metadata.component) with a container component per
 * platform image (its digest), each image's packages under it.
 */
export async function pushedReleaseSbom(source: Directory, release: PushedRelease, login: RegistryLogin, subject: Omit<SbomSubject, "revision" | "image">): Promise<CycloneDx> {
  const read = async (image: PlatformImage) => ({ source: "syft (pushed image)", bom: await pushedImageSbom(release, image, login), image });
  const [lockfile, images] = await Promise.all([npmSbom(source), Promise.all(release.images.map(read))]);
  return mergeSboms(
    [...images, { source: "npm sbom (bundled dependencies)", bom: lockfile }],
    { ...subject, revision: release.tag, image: { repository: release.repository, digest: release.digest } },
  );
}
