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
  /** The image index as pushed, when the SBOM describes a pushed release: `<registry host>/<repository>` and its digest. */
  image?: { repository: string; digest: string };
}

/** One platform image of a pushed release, as its index lists it: the image a part of the SBOM was read from. */
export interface PlatformImage {
  /** `os/architecture`, e.g. linux/arm64; undefined for a release pushed as a single image (no index). */
  platform?: string;
  /** The platform image's manifest digest, sha256:<64 hex>. */
  digest: string;
}

/** One input of the merge: a CycloneDX document, the tool that wrote it, and the platform image it read (if any). */
export interface SbomPart {
  source: string;
  bom: CycloneDx;
  image?: PlatformImage;
}

/** The property names this SBOM adds, under the service's own namespace. */
export const SBOM_PROPERTY = {
  source: "hono-ecr-service:sbom:source",
  indexDigest: "hono-ecr-service:image:index-digest",
  platform: "hono-ecr-service:image:platform",
  digest: "hono-ecr-service:image:digest",
} as const;

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
 * `file` components: the files packages own, with their hashes; scoped to the platform image they were read from, as
 * /usr/local/bin/node of linux/amd64 and of linux/arm64 are different files), else name@version.
 */
const identity = (component: SbomComponent, image?: PlatformImage) =>
  component.purl ??
  (component.type === "file" ? `file:${image ? `${image.platform ?? image.digest}:` : ""}${component.name}` : `${component.name}@${component.version ?? ""}`);

/**
 * The package URL of an OCI image (purl-spec, type `oci`): the repository's last segment as name, the manifest digest
 * as version (`:` percent-encoded), qualifiers sorted: arch, repository_url, tag.
 */
export function ociPurl(repository: string, digest: string, qualifiers: { arch?: string; tag?: string } = {}): string {
  const name = repository.slice(repository.lastIndexOf("/") + 1);
  const query = [
    ...(qualifiers.arch ? [`arch=${qualifiers.arch}`] : []),
    `repository_url=${repository}`,
    ...(qualifiers.tag ? [`tag=${encodeURIComponent(qualifiers.tag)}`] : []),
  ].join("&");
  return `pkg:oci/${name}@${digest.replace(":", "%3A")}?${query}`;
}

/** A digest as a CycloneDX hash: an OCI digest is the SHA-256 of the manifest's bytes. */
const sha256Hash = (digest: string) => [{ alg: "SHA-256", content: digest.slice(digest.indexOf(":") + 1) }];

/** The container component that stands for one platform image of the pushed release. */
function platformComponent(repository: string, image: PlatformImage, revision: string): SbomComponent {
  const arch = image.platform?.split("/")[1];
  return {
    "bom-ref": ociPurl(repository, image.digest, arch ? { arch } : {}),
    type: "container",
    name: repository,
    version: image.digest,
    purl: ociPurl(repository, image.digest, arch ? { arch } : {}),
    hashes: sha256Hash(image.digest),
    properties: [
      ...(image.platform ? [{ name: SBOM_PROPERTY.platform, value: image.platform }] : []),
      { name: SBOM_PROPERTY.digest, value: image.digest },
      { name: "org.opencontainers.image.revision", value: revision },
    ],
  };
}

/** The release: the pushed image index (purl, hash and a property naming its digest) or, for a local build, the service. */
function releaseComponent(subject: SbomSubject, root: string): SbomComponent {
  const component: SbomComponent = { "bom-ref": root, type: "container", name: subject.name, version: subject.revision, properties: [{ name: "package.version", value: subject.version }] };
  if (!subject.image) return component;
  const { repository, digest } = subject.image;
  return {
    ...component,
    purl: ociPurl(repository, digest, { tag: subject.revision }),
    hashes: sha256Hash(digest),
    properties: [...(component.properties as object[]), { name: SBOM_PROPERTY.indexDigest, value: digest }, { name: "org.opencontainers.image.revision", value: subject.revision }],
  };
}

/**
 * The release SBOM: every component of `parts` once (by purl), each tagged with every part it came from, under a
 * container component for the release, with the parts' dependency graphs carried over onto the new bom-refs (a part's
 * own root, e.g. npm's package, becomes the release). A part read from a platform image of a pushed release gets a
 * container component of its own (its digest as version, purl and hash), which the release depends on and which
 * depends on every component read from it. Syft's `file` components are kept, on purpose: they are the
 * files the image's packages own, with their SHA-1 and SHA-256 hashes, and are counted apart (sbomCounts `file`).
 * Deterministic: the same inputs give the same bytes (no timestamp; the serial number is derived from the content).
 */
export function mergeSboms(parts: SbomPart[], subject: SbomSubject): CycloneDx {
  const root = `${subject.name}@${subject.revision}`;
  const seen = new Map<string, SbomComponent>();
  const graph = new Map<string, Set<string>>();
  for (const { source, bom, image } of parts) {
    const refs = new Map<string, string>();
    let partRoot = root;
    if (image) {
      const container = platformComponent(subject.image?.repository ?? subject.name, image, subject.revision);
      partRoot = String(container["bom-ref"]);
      seen.set(partRoot, container);
      graph.set(root, (graph.get(root) ?? new Set<string>()).add(partRoot));
    }
    if (bom.metadata?.component?.["bom-ref"]) refs.set(bom.metadata.component["bom-ref"], partRoot);
    for (const component of bom.components ?? []) {
      const key = identity(component, image);
      if (component["bom-ref"]) refs.set(component["bom-ref"], key);
      const known = seen.get(key);
      const tagged = { name: SBOM_PROPERTY.source, value: image?.platform ? `${source} ${image.platform}` : source };
      if (known) {
        const properties = known.properties as { name: string; value: string }[];
        if (!properties.some((p) => p.name === tagged.name && p.value === tagged.value)) properties.push(tagged);
        continue;
      }
      const properties = Array.isArray(component.properties) ? (component.properties as { name: string; value: string }[]) : [];
      seen.set(key, { ...component, "bom-ref": key, properties: [...properties, tagged] });
    }
    // A platform image holds every package and file read from it: it depends on each (Syft records no root dependencies).
    if (image) graph.set(partRoot, new Set([...(graph.get(partRoot) ?? []), ...(bom.components ?? []).map((component) => identity(component, image))]));
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
  const components = [...seen.values()].sort((a, b) => String(a["bom-ref"]).localeCompare(String(b["bom-ref"])));
  const dependencies = [...graph.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([ref, on]) => ({ ref, dependsOn: [...on].sort() }));
  const body = {
    bomFormat: "CycloneDX" as const,
    specVersion: SBOM_SPEC_VERSION,
    version: 1,
    metadata: {
      tools: { components: [...new Set(parts.map(({ source }) => source))].map((name) => ({ type: "application", name })) },
      component: releaseComponent(subject, root),
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
