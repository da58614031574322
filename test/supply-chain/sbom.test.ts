// The release SBOM: Syft's image SBOM merged with this repository's real `npm sbom --omit=dev` (run here, offline: it
// reads the lockfile and node_modules), validated against the official CycloneDX 1.6 JSON schema. The Syft fixture is
// written in Syft 1.46.0's `--output cyclonedx-json@1.6` shape, read from anchore/syft v1.46.0:
// syft/format/common/cyclonedxhelpers/to_format_model.go (a `file` component with SHA-1 and SHA-256 hashes per file a
// package owns, cmd/syft/internal/options/file.go's defaults; `dependencies` from dependency-of relationships, `ref`
// the dependent), syft/format/internal/cyclonedxutil/helpers/component.go (bom-ref = purl + `package-id`, binary
// packages as `application`), syft/pkg/cataloger/binary/classifiers.go (node: pkg:generic/node, cpe nodejs:node.js)
// and syft/format/cyclonedxjson/testdata/snapshot/TestCycloneDxImageEncoder.golden (the document's layout).
import { describe, expect, it } from "vitest";
import { mergeSboms, parseCycloneDx, sbomCounts } from "../../dagger/src/supply-chain/sbom.js";
import { cycloneDx16Errors } from "../helpers/cyclonedx-schema.js";
import { fixture, repositoryNpmSbom } from "../helpers/supply-chain.js";

const lockfile = JSON.parse(repositoryNpmSbom()) as { components: { name: string }[] };
const parts = () => [
  { source: "syft (image)", bom: parseCycloneDx(fixture("syft-image.cdx.json"), "syft") },
  { source: "npm sbom (bundled dependencies)", bom: parseCycloneDx(repositoryNpmSbom(), "npm sbom") },
];
const SUBJECT = { name: "hono-ecr-service", version: "0.1.0", revision: "0123456789abcdef0123456789abcdef01234567" };

describe("release SBOM", () => {
  it("holds the image's Alpine packages and node, and every bundled npm package, each once, with where it came from", () => {
    const bom = mergeSboms(parts(), SUBJECT);
    const npmNames = lockfile.components.map((component) => component.name).sort();
    expect(npmNames).toEqual(expect.arrayContaining(["hono", "pino", "@hono/node-server"]));
    expect(sbomCounts(bom)).toEqual({ apk: 3, generic: 1, npm: npmNames.length, other: 1, file: 4 });
    expect(bom.metadata!.component).toMatchObject({ type: "container", name: "hono-ecr-service", version: SUBJECT.revision });
    const sources = bom.components!.map((component) => (component.properties as { name: string; value: string }[]).find((p) => p.name === "hono-ecr-service:sbom:source")!.value);
    expect(new Set(sources)).toEqual(new Set(["syft (image)", "npm sbom (bundled dependencies)"]));
    expect(bom.specVersion).toBe("1.6");
  });

  it("is valid CycloneDX 1.6 by the official JSON schema, as is the Syft fixture", () => {
    expect(cycloneDx16Errors(mergeSboms(parts(), SUBJECT))).toEqual([]);
    expect(cycloneDx16Errors(JSON.parse(fixture("syft-image.cdx.json")))).toEqual([]);
    // The validator does refuse what the schema forbids.
    expect(cycloneDx16Errors({ ...mergeSboms(parts(), SUBJECT), components: [{ type: "box", name: "x" }] }).length).toBeGreaterThan(0);
  });

  it("carries the dependency graphs over onto the new bom-refs: Syft's apk dependencies, npm's tree under the release", () => {
    const bom = mergeSboms(parts(), SUBJECT);
    const refs = new Set(bom.components!.map((component) => component["bom-ref"]));
    const apk = (name: string, version: string) => `pkg:apk/alpine/${name}@${version}?arch=x86_64&distro=alpine-3.24.0`;
    expect(bom.dependencies).toEqual(
      expect.arrayContaining([
        { ref: apk("busybox", "1.37.0-r20"), dependsOn: [apk("musl", "1.2.5-r10")] },
        { ref: apk("libcrypto3", "3.5.1-r0"), dependsOn: [apk("musl", "1.2.5-r10")] },
      ]),
    );
    const release = bom.dependencies!.find((dependency) => dependency.ref === `hono-ecr-service@${SUBJECT.revision}`)!;
    expect(release.dependsOn).toEqual(expect.arrayContaining(["pkg:npm/hono@4.13.19", expect.stringMatching(/^pkg:npm\/%40hono\/node-server@/), expect.stringMatching(/^pkg:npm\/pino@/)]));
    // Every reference names a component of the release SBOM (or the release itself).
    for (const dependency of bom.dependencies!) for (const ref of [dependency.ref, ...(dependency.dependsOn ?? [])]) expect(refs.has(ref) || ref === release.ref).toBe(true);
  });

  it("keeps Syft's file components on purpose (the files the packages own, with their hashes) and counts them as files", () => {
    const files = mergeSboms(parts(), SUBJECT).components!.filter((component) => component.type === "file");
    expect(files.map((component) => component["bom-ref"])).toEqual(["file:/bin/busybox", "file:/lib/ld-musl-x86_64.so.1", "file:/usr/lib/libcrypto.so.3", "file:/usr/local/bin/node"]);
    expect((files[0]!.hashes as { alg: string }[]).map((hash) => hash.alg)).toEqual(["SHA-1", "SHA-256"]);
  });

  it("refuses an input newer than the spec version it writes (Syft 1.46's default is 1.7), naming the pin", () => {
    const newer = fixture("syft-image.cdx.json").replace('"specVersion": "1.6"', '"specVersion": "1.7"');
    expect(() => parseCycloneDx(newer, "syft")).toThrow("the SBOM from syft is CycloneDX 1.7, newer than the 1.6 the release SBOM is written in: pin the producer to 1.6 (syft: --output cyclonedx-json@1.6)");
    expect(() => parseCycloneDx(newer.replace('"1.7"', '"2.0"'), "syft")).toThrow("CycloneDX 2.0, newer than the 1.6");
    expect(() => parseCycloneDx(newer.replace('"1.7"', '"one"'), "syft")).toThrow("CycloneDX one, newer than");
    expect(parseCycloneDx(repositoryNpmSbom(), "npm sbom").specVersion).toBe("1.5");
  });

  it("lists a component both sources know once", () => {
    const [image, npm] = parts();
    image!.bom.components!.push(npm!.bom.components![0]!);
    const bom = mergeSboms([image!, npm!], SUBJECT);
    const purls = bom.components!.map((component) => component.purl ?? component.name);
    expect(purls.length).toBe(new Set(purls).size);
  });

  it("is reproducible: the same inputs give the same bytes, serial number included (no timestamp)", () => {
    const first = JSON.stringify(mergeSboms(parts(), SUBJECT));
    expect(JSON.stringify(mergeSboms(parts(), SUBJECT))).toBe(first);
    expect(first).not.toContain("timestamp");
    expect((JSON.parse(first) as { serialNumber: string }).serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(JSON.stringify(mergeSboms(parts(), { ...SUBJECT, revision: "other" }))).not.toBe(first);
  });

  it("refuses what is not a CycloneDX document", () => {
    expect(() => parseCycloneDx("[]", "syft")).toThrow("the SBOM from syft is not a CycloneDX document with components");
    expect(() => parseCycloneDx("nope", "npm sbom")).toThrow("the SBOM from npm sbom is not JSON");
  });
});
