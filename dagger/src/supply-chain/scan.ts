/**
 * The supply-chain stages as containers: Syft's SBOM of an image, `npm sbom` of the bundled dependencies, Trivy's
 * scans of the image (Alpine packages) and of the lockfile (the npm packages the bundle inlines, which an image scan
 * cannot see), and the Node.js runtime against Node's own advisories (no scanner here matches the tarball-installed
 * node). The decisions are in ./vulnerabilities.ts, ./node-runtime.ts and ./sbom.ts.
 */
import { dag, type Container, type Directory, type File } from "@dagger.io/dagger";
import { nodeBuildEnv } from "../stages.js";
import { NODE_IMAGE_TAG, SYFT_IMAGE, TRIVY_IMAGE } from "../versions.js";
import { NODE_ADVISORIES_URL, nodeRuntimeFindings, nodeVersionOfTag, parseNodeAdvisories } from "./node-runtime.js";
import { DB_FETCH_ARGS, SCAN_ARGS, TRIVY_DB_DIR, dbWindow, parseDbMetadata, type TrivyDbMetadata } from "./trivy-db.js";
import { mergeSboms, parseCycloneDx, SBOM_SPEC_VERSION, type CycloneDx, type SbomSubject } from "./sbom.js";
import { ALLOWLIST_PATH, formatVerdict, gate, parseAllowList, parseTrivyReport, type Finding, type GateVerdict, type Severity } from "./vulnerabilities.js";

const IMAGE_TARBALL = "/scan/image.tar";

/** Syft's CycloneDX SBOM of `image` (as an OCI archive), pinned to the spec version the release SBOM is written in (Syft 1.46 defaults to 1.7). */
export async function imageSbom(image: Container): Promise<CycloneDx> {
  const output = await dag
    .container()
    .from(SYFT_IMAGE)
    .withEnvVariable("SYFT_CHECK_FOR_APP_UPDATE", "false")
    .withMountedFile(IMAGE_TARBALL, image.asTarball())
    .withExec(["/syft", "scan", `oci-archive:${IMAGE_TARBALL}`, "--output", `cyclonedx-json@${SBOM_SPEC_VERSION}`])
    .stdout();
  return parseCycloneDx(output, "syft");
}

/** The npm packages of the lockfile that the bundle may inline (`npm sbom --omit=dev`). */
export async function npmSbom(source: Directory): Promise<CycloneDx> {
  const output = await nodeBuildEnv(source).withExec(["npm", "sbom", "--sbom-format", "cyclonedx", "--omit=dev"]).stdout();
  return parseCycloneDx(output, "npm sbom");
}

/** The release SBOM's file name. */
export const SBOM_FILE = "sbom.cdx.json";

/** A CycloneDX document as the File a function returns (`... export --path=sbom.cdx.json`). */
export function sbomFile(bom: CycloneDx): File {
  return dag.directory().withNewFile(SBOM_FILE, `${JSON.stringify(bom, null, 2)}\n`).file(SBOM_FILE);
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

/** Trivy, pinned; no update check, no progress bars. */
function trivy(): Container {
  return dag.container().from(TRIVY_IMAGE).withEnvVariable("TRIVY_NO_PROGRESS", "true").withEnvVariable("TRIVY_SKIP_VERSION_CHECK", "true");
}

/** The database one run scans with: its directory and its metadata (the date it was built). */
export interface TrivyDb {
  dir: Directory;
  metadata: TrivyDbMetadata;
}

/**
 * Fetches Trivy's database once, into the container's own filesystem (no shared cache volume: nothing another run
 * could be writing). The fetch's inputs carry the current 6-hour window, so the engine's cache reuses it within the
 * window and fetches again after it; identical fetches running at once are one operation in the engine.
 */
export async function fetchTrivyDb(now: Date): Promise<TrivyDb> {
  const fetched = trivy().withEnvVariable("GATE_DB_WINDOW", dbWindow(now)).withExec(DB_FETCH_ARGS);
  const metadata = parseDbMetadata(await fetched.file(`${TRIVY_DB_DIR}/metadata.json`).contents());
  return { dir: fetched.directory(TRIVY_DB_DIR), metadata };
}

/**
 * Trivy's JSON reports of the image and of the lockfile (production dependencies only: Trivy leaves dev ones out),
 * both from the one fetched database: mounted (a scan's writes are discarded), never updated (`--skip-db-update`), its
 * build date in the exec's inputs so a cached report never outlives it; scan caches in memory (no shared `fanal.db`).
 */
export async function scanReports(source: Directory, image: Container, db: TrivyDb): Promise<string[]> {
  const scanner = () => trivy().withMountedDirectory(TRIVY_DB_DIR, db.dir).withEnvVariable("GATE_DB_UPDATED_AT", db.metadata.UpdatedAt);
  return Promise.all([
    scanner()
      .withMountedFile(IMAGE_TARBALL, image.asTarball())
      .withExec(["trivy", "image", ...SCAN_ARGS, "--input", IMAGE_TARBALL])
      .stdout(),
    scanner()
      .withDirectory("/src", source, { include: ["package.json", "package-lock.json"] })
      .withExec(["trivy", "fs", ...SCAN_ARGS, "/src"])
      .stdout(),
  ]);
}

/** The allow-list of the repository (none: an empty list). */
async function allowList(source: Directory): Promise<string> {
  const entries = await source.glob(ALLOWLIST_PATH);
  return entries.length > 0 ? source.file(ALLOWLIST_PATH).contents() : '{"entries": []}';
}

/**
 * Node.js's core advisories (nodejs/security-wg vuln/core/index.json), fetched by the engine like any other input;
 * the findings of the image's Node.js runtime (NODE_IMAGE_TAG: the runtime image starts from it) among them.
 */
export async function nodeRuntimeCheck(): Promise<{ findings: Finding[]; summary: string }> {
  const version = nodeVersionOfTag(NODE_IMAGE_TAG);
  const advisories = parseNodeAdvisories(await dag.http(NODE_ADVISORIES_URL).contents());
  const findings = nodeRuntimeFindings(version, advisories, `node ${version} (${NODE_IMAGE_TAG})`);
  return { findings, summary: `node runtime: ${version} against Node.js's ${Object.keys(advisories).length} core advisories (nodejs/security-wg), ${findings.length} apply` };
}

/** Scans, checks the Node.js runtime, applies the allow-list and decides; the report is the verdict's text. */
export async function vulnerabilityGate(source: Directory, image: Container, threshold: Severity, today = new Date()): Promise<{ verdict: GateVerdict; report: string }> {
  const [db, list, node] = await Promise.all([fetchTrivyDb(today), allowList(source), nodeRuntimeCheck()]);
  const reports = await scanReports(source, image, db);
  const verdict = gate([...reports.flatMap(parseTrivyReport), ...node.findings], parseAllowList(list), threshold, today);
  return { verdict, report: `${formatVerdict(verdict, threshold)}\n  database: Trivy's, built ${db.metadata.UpdatedAt}\n  ${node.summary}` };
}
