/**
 * One CycloneDX SBOM for a release: the image's packages as Syft finds them (Alpine's apk packages, the node binary)
 * and the npm packages the bundle inlines (`npm sbom` on the lockfile: an image scanner cannot see them, there is no
 * node_modules in the image). Plain TypeScript over the two JSON documents.
 */
import { createHash } from "node:crypto";

/** The parts of a CycloneDX component this merge reads. */
export interface SbomComponent {
  "bom-ref"?: string;
  type?: string;
  name: string;
  version?: string;
  purl?: string;
  [key: string]: unknown;
}

/** The parts of a CycloneDX document this merge reads. */
export interface CycloneDx {
  bomFormat: "CycloneDX";
  specVersion: string;
  serialNumber?: string;
  version?: number;
  metadata?: { tools?: unknown; component?: SbomComponent; [key: string]: unknown };
  components?: SbomComponent[];
  dependencies?: { ref: string; dependsOn?: string[] }[];
  [key: string]: unknown;
}

/** What the release SBOM describes. */
export interface SbomSubject {
  name: string;
  version: string;
  /** The release tag (the commit). */
  revision: string;
}

/** The CycloneDX version the release SBOM is written in; Syft is pinned to it (`--output cyclonedx-json@1.6`). */
export const SBOM_SPEC_VERSION = "1.6";

/** `1.6` -> [1, 6]; anything else is not a CycloneDX version. */
const specParts = (version: string) => (/^(\d+)\.(\d+)$/.exec(version) ?? []).slice(1).map(Number);

/**
 * Parses a CycloneDX JSON document, naming `source` when it is not one, and refuses a spec version newer than the one
 * the release SBOM is written in (its fields could not be carried over faithfully: Syft 1.46 writes 1.7 unless pinned).
 */
export function parseCycloneDx(json: string, source: string): CycloneDx {
  let parsed: CycloneDx;
  try {
    parsed = JSON.parse(json) as CycloneDx;
  } catch {
    throw new Error(`the SBOM from ${source} is not JSON`);
  }
  if (parsed.bomFormat !== "CycloneDX" || !Array.isArray(parsed.components)) throw new Error(`the SBOM from ${source} is not a CycloneDX document with components`);
  const [major, minor] = specParts(String(parsed.specVersion));
  const [ourMajor = 1, ourMinor = 6] = specParts(SBOM_SPEC_VERSION);
  if (major === undefined || minor === undefined || major > ourMajor || (major === ourMajor && minor > ourMinor)) {
    throw new Error(`the SBOM from ${source} is CycloneDX ${String(parsed.specVersion)}, newer than the ${SBOM_SPEC_VERSION} the release SBOM is written in: pin the producer to ${SBOM_SPEC_VERSION} (syft: --output cyclonedx-json@${SBOM_SPEC_VERSION})`);
  }
  return parsed;
}

/**
 * A component's identity for de-duplication and its bom-ref in the release SBOM: its purl, a file's path (Syft's
 * `file` components: the files packages own, with their hashes), else name@version.
 */
const identity = (component: SbomComponent) => component.purl ?? (component.type === "file" ? `file:${component.name}` : `${component.name}@${component.version ?? ""}`);

/**
 * The release SBOM: every component of `parts` once (by purl), each tagged with the part it came from, under a
 * container component for the release, with the parts' dependency graphs carried over onto the new bom-refs (a part's
 * own root, e.g. npm's package, becomes the release). Syft's `file` components are kept, on purpose: they are the
 * files the image's packages own, with their SHA-1 and SHA-256 hashes, and are counted apart (sbomCounts `file`).
 * Deterministic: the same inputs give the same bytes (no timestamp; the serial number is derived from the content).
 */
export function mergeSboms(parts: { source: string; bom: CycloneDx }[], subject: SbomSubject): CycloneDx {
  const root = `${subject.name}@${subject.revision}`;
  const seen = new Map<string, SbomComponent>();
  const graph = new Map<string, Set<string>>();
  for (const { source, bom } of parts) {
    const refs = new Map<string, string>();
    if (bom.metadata?.component?.["bom-ref"]) refs.set(bom.metadata.component["bom-ref"], root);
    for (const component of bom.components ?? []) {
      const key = identity(component);
      if (component["bom-ref"]) refs.set(component["bom-ref"], key);
      if (seen.has(key)) continue;
      const properties = Array.isArray(component.properties) ? (component.properties as { name: string; value: string }[]) : [];
      seen.set(key, { ...component, "bom-ref": key, properties: [...properties, { name: "hono-ecr-service:sbom:source", value: source }] });
    }
    for (const dependency of bom.dependencies ?? []) {
      const ref = refs.get(dependency.ref);
      if (ref === undefined) continue;
      const targets = graph.get(ref) ?? new Set<string>();
      for (const on of dependency.dependsOn ?? []) {
        const target = refs.get(on);
        if (target !== undefined && target !== ref) targets.add(target);
      }
      graph.set(ref, targets);
    }
  }
  const components = [...seen.values()].sort((a, b) => identity(a).localeCompare(identity(b)));
  const dependencies = [...graph.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([ref, on]) => ({ ref, dependsOn: [...on].sort() }));
  const body = {
    bomFormat: "CycloneDX" as const,
    specVersion: SBOM_SPEC_VERSION,
    version: 1,
    metadata: {
      tools: { components: parts.map(({ source }) => ({ type: "application", name: source })) },
      component: { "bom-ref": root, type: "container", name: subject.name, version: subject.revision, properties: [{ name: "package.version", value: subject.version }] },
    },
    components,
    dependencies,
  };
  const hash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
  const serialNumber = `urn:uuid:${hash.slice(0, 8)}-${hash.slice(8, 12)}-5${hash.slice(13, 16)}-${((parseInt(hash.charAt(16), 16) & 0x3) | 0x8).toString(16)}${hash.slice(17, 20)}-${hash.slice(20, 32)}`;
  return { $schema: `http://cyclonedx.org/schema/bom-${SBOM_SPEC_VERSION}.schema.json`, ...body, serialNumber };
}

/** Component counts by ecosystem (the purl type: apk, npm, generic, ...), `file` for files, for the job summary. */
export function sbomCounts(bom: CycloneDx): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const component of bom.components ?? []) {
    const ecosystem = /^pkg:([a-z0-9.+-]+)\//.exec(component.purl ?? "")?.[1] ?? (component.type === "file" ? "file" : "other");
    counts[ecosystem] = (counts[ecosystem] ?? 0) + 1;
  }
  return counts;
}
