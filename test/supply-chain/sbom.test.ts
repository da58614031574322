// The release SBOM: Syft's image SBOM (a fixture in Syft's CycloneDX format) merged with this repository's real
// `npm sbom --omit=dev` (run here, offline: it reads the lockfile and node_modules).
import { describe, expect, it } from "vitest";
import { mergeSboms, parseCycloneDx, sbomCounts } from "../../dagger/src/supply-chain/sbom.js";
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
    expect(sbomCounts(bom)).toEqual({ apk: 3, generic: 1, npm: npmNames.length, other: 1 });
    expect(bom.metadata!.component).toMatchObject({ type: "container", name: "hono-ecr-service", version: SUBJECT.revision });
    const sources = bom.components!.map((component) => (component.properties as { name: string; value: string }[]).find((p) => p.name === "hono-ecr-service:sbom:source")!.value);
    expect(new Set(sources)).toEqual(new Set(["syft (image)", "npm sbom (bundled dependencies)"]));
    expect(bom.specVersion).toBe("1.6");
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
