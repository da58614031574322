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

/** Parses a CycloneDX JSON document, naming `source` when it is not one. */
export function parseCycloneDx(json: string, source: string): CycloneDx {
  let parsed: CycloneDx;
  try {
    parsed = JSON.parse(json) as CycloneDx;
  } catch {
    throw new Error(`the SBOM from ${source} is not JSON`);
  }
  if (parsed.bomFormat !== "CycloneDX" || !Array.isArray(parsed.components)) throw new Error(`the SBOM from ${source} is not a CycloneDX document with components`);
  return parsed;
}

/** A component's identity for de-duplication: its purl, else name@version. */
const identity = (component: SbomComponent) => component.purl ?? `${component.name}@${component.version ?? ""}`;

/**
 * The release SBOM: every component of `parts` once (by purl), each tagged with the part it came from, under a
 * container component for the release. Deterministic: the same inputs give the same bytes (no timestamp; the serial
 * number is derived from the content).
 */
export function mergeSboms(parts: { source: string; bom: CycloneDx }[], subject: SbomSubject): CycloneDx {
  const seen = new Map<string, SbomComponent>();
  for (const { source, bom } of parts) {
    for (const component of bom.components ?? []) {
      const key = identity(component);
      if (seen.has(key)) continue;
      const properties = Array.isArray(component.properties) ? (component.properties as { name: string; value: string }[]) : [];
      seen.set(key, { ...component, "bom-ref": key, properties: [...properties, { name: "hono-ecr-service:sbom:source", value: source }] });
    }
  }
  const components = [...seen.values()].sort((a, b) => identity(a).localeCompare(identity(b)));
  const body = {
    bomFormat: "CycloneDX" as const,
    specVersion: "1.6",
    version: 1,
    metadata: {
      tools: { components: parts.map(({ source }) => ({ type: "application", name: source })) },
      component: { "bom-ref": `${subject.name}@${subject.revision}`, type: "container", name: subject.name, version: subject.revision, properties: [{ name: "package.version", value: subject.version }] },
    },
    components,
  };
  const hash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
  const serialNumber = `urn:uuid:${hash.slice(0, 8)}-${hash.slice(8, 12)}-5${hash.slice(13, 16)}-${((parseInt(hash.charAt(16), 16) & 0x3) | 0x8).toString(16)}${hash.slice(17, 20)}-${hash.slice(20, 32)}`;
  return { $schema: "http://cyclonedx.org/schema/bom-1.6.schema.json", ...body, serialNumber };
}

/** Component counts by ecosystem (the purl type: apk, npm, generic, ...), for the job summary. */
export function sbomCounts(bom: CycloneDx): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const component of bom.components ?? []) {
    const ecosystem = /^pkg:([a-z0-9.+-]+)\//.exec(component.purl ?? "")?.[1] ?? "other";
    counts[ecosystem] = (counts[ecosystem] ?? 0) + 1;
  }
  return counts;
}
