/**
 * The supply-chain stages as containers: Syft's SBOM of an image, `npm sbom` of the bundled dependencies, and Trivy's
 * scans of the image (Alpine packages, the node binary) and of the lockfile (the npm packages the bundle inlines, which
 * an image scan cannot see). The decisions are in ./vulnerabilities.ts and ./sbom.ts.
 */
import { dag, type Container, type Directory } from "@dagger.io/dagger";
import { nodeBuildEnv } from "../stages.js";
import { SYFT_IMAGE, TRIVY_CACHE_VOLUME, TRIVY_IMAGE } from "../versions.js";
import { mergeSboms, parseCycloneDx, type CycloneDx, type SbomSubject } from "./sbom.js";
import { ALLOWLIST_PATH, formatVerdict, gate, parseAllowList, parseTrivyReport, type GateVerdict, type Severity } from "./vulnerabilities.js";

const IMAGE_TARBALL = "/scan/image.tar";

/** Syft's CycloneDX SBOM of `image` (as an OCI archive). */
export async function imageSbom(image: Container): Promise<CycloneDx> {
  const output = await dag
    .container()
    .from(SYFT_IMAGE)
    .withEnvVariable("SYFT_CHECK_FOR_APP_UPDATE", "false")
    .withMountedFile(IMAGE_TARBALL, image.asTarball())
    .withExec(["/syft", "scan", `oci-archive:${IMAGE_TARBALL}`, "--output", "cyclonedx-json"])
    .stdout();
  return parseCycloneDx(output, "syft");
}

/** The npm packages of the lockfile that the bundle may inline (`npm sbom --omit=dev`). */
export async function npmSbom(source: Directory): Promise<CycloneDx> {
  const output = await nodeBuildEnv(source).withExec(["npm", "sbom", "--sbom-format", "cyclonedx", "--omit=dev"]).stdout();
  return parseCycloneDx(output, "npm sbom");
}

/** The release SBOM: the image's packages and the bundled npm packages, merged. */
export async function releaseSbom(source: Directory, image: Container, subject: SbomSubject): Promise<CycloneDx> {
  const [fromImage, fromLockfile] = await Promise.all([imageSbom(image), npmSbom(source)]);
  return mergeSboms(
    [
      { source: "syft (image)", bom: fromImage },
      { source: "npm sbom (bundled dependencies)", bom: fromLockfile },
    ],
    subject,
  );
}

/** Trivy with its database in the cache volume; `--exit-code 0`: the report is read and judged here. */
function trivy(): Container {
  return dag
    .container()
    .from(TRIVY_IMAGE)
    .withMountedCache("/root/.cache/trivy", dag.cacheVolume(TRIVY_CACHE_VOLUME))
    .withEnvVariable("TRIVY_NO_PROGRESS", "true")
    .withEnvVariable("TRIVY_SKIP_VERSION_CHECK", "true");
}

/** Trivy's JSON reports of the image and of the lockfile (production dependencies only: Trivy leaves dev ones out). */
export async function scanReports(source: Directory, image: Container): Promise<string[]> {
  const common = ["--scanners", "vuln", "--format", "json", "--exit-code", "0"];
  return Promise.all([
    trivy()
      .withMountedFile(IMAGE_TARBALL, image.asTarball())
      .withExec(["trivy", "image", ...common, "--input", IMAGE_TARBALL])
      .stdout(),
    trivy()
      .withDirectory("/src", source, { include: ["package.json", "package-lock.json"] })
      .withExec(["trivy", "fs", ...common, "/src"])
      .stdout(),
  ]);
}

/** The allow-list of the repository (none: an empty list). */
async function allowList(source: Directory): Promise<string> {
  const entries = await source.glob(ALLOWLIST_PATH);
  return entries.length > 0 ? source.file(ALLOWLIST_PATH).contents() : '{"entries": []}';
}

/** Scans, applies the allow-list and decides; the report is the verdict's text. */
export async function vulnerabilityGate(source: Directory, image: Container, threshold: Severity, today = new Date()): Promise<{ verdict: GateVerdict; report: string }> {
  const [reports, list] = await Promise.all([scanReports(source, image), allowList(source)]);
  const verdict = gate(reports.flatMap(parseTrivyReport), parseAllowList(list), threshold, today);
  return { verdict, report: formatVerdict(verdict, threshold) };
}
