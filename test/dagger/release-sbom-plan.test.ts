// `aws ... release-sbom`: the SBOM CI keeps, read from the release as pushed. The Dagger side runs against the fake
// engine, the ECR side against moto (the release stored there as a registry push leaves it: platform images untagged,
// the index tagged). Syft's answers are the image fixture in the shape Syft 1.46.0 gives a registry image
// (test/helpers/supply-chain.ts, pushedImageSyft). What is shown: Syft reads each pushed platform image by its digest,
// nothing is built, and the merged SBOM names the index digest and every platform image's digest and is valid CycloneDX 1.6.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ensureRepository } from "../../dagger/src/ecr/registry.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { SBOM_PROPERTY, type CycloneDx, type SbomComponent } from "../../dagger/src/supply-chain/sbom.js";
import { SYFT_IMAGE } from "../../dagger/src/versions.js";
import { cycloneDx16Errors } from "../helpers/cyclonedx-schema.js";
import type { Step } from "../helpers/fake-engine.js";
import { motoUnavailableReason, putRelease, putTestImage, startMoto, type Moto } from "../helpers/moto.js";
import { callsEndingWith, namedValues, runPlan, stepNamed } from "../helpers/plan.js";
import { client, COMMIT, credentials, ECR_PASSWORD, HOST, KEY_ID, OLDER, REPOSITORY, SECRET_KEY, SESSION } from "../helpers/publish.js";
import { answerSupplyChain, type SupplyChainAnswers } from "../helpers/supply-chain.js";

const unavailable = motoUnavailableReason();
const execOf = (chain: Step[]) => (chain.filter((step) => step.field === "withExec").at(-1)?.args.args as string[] | undefined) ?? [];
const propertyOf = (component: SbomComponent | undefined, name: string) => (component?.properties as { name: string; value: string }[] | undefined)?.find((p) => p.name === name)?.value;

/** Runs release-sbom and reads the file it returns (the fake engine hands back what the function wrote into it). */
function releaseSbom(args: { commit?: string; digest?: string } = {}, pushed: SupplyChainAnswers["pushed"] = { revision: args.commit ?? COMMIT }) {
  const supply = answerSupplyChain({ pushed });
  const written = (chain: Step[]) => (chain.at(-1)!.field === "contents" ? chain.find((step) => step.field === "withNewFile")?.args.contents : undefined);
  return runPlan(
    async (pipeline: Pipeline) => {
      const { accessKeyId, secretAccessKey, sessionToken } = credentials();
      return (await pipeline.aws("eu-west-1", accessKeyId, secretAccessKey, sessionToken).releaseSbom(REPOSITORY, args.commit ?? COMMIT, args.digest)).contents();
    },
    (chain) => supply(chain) ?? (written(chain) !== undefined ? { value: written(chain) } : undefined),
  );
}

describe.skipIf(unavailable !== undefined)(`release-sbom${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let moto: Moto;
  let release: { index: string; platformImages: string[] };
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterAll(() => moto?.stop());
  beforeEach(async () => {
    await moto.reset();
    await ensureRepository(client(), REPOSITORY, { region: "eu-west-1", repository: REPOSITORY });
    release = await putRelease(client(), REPOSITORY, COMMIT, ["linux/amd64", "linux/arm64"]);
  });

  it("runs Syft on each pushed platform image, pulled from ECR by its digest, and builds nothing", async () => {
    const run = await releaseSbom({ digest: release.index });
    expect(run.error).toBeUndefined();
    const syfts = callsEndingWith(run.engine, "stdout").filter((chain) => execOf(chain)[0] === "/syft");
    expect(syfts.map(execOf)).toEqual(
      ["linux/amd64", "linux/arm64"].map((platform, i) => [
        "/syft", "scan", "--from", "registry", `${HOST}/${REPOSITORY}@${release.platformImages[i]}`, "--platform", platform, "--output", "cyclonedx-json@1.6",
      ]),
    );
    for (const syft of syfts) {
      expect(syft[1]).toEqual({ field: "from", args: { address: SYFT_IMAGE } });
      expect(namedValues(syft, "withEnvVariable")).toMatchObject({ SYFT_REGISTRY_AUTH_AUTHORITY: HOST, SYFT_REGISTRY_AUTH_USERNAME: "AWS", SYFT_CHECK_FOR_APP_UPDATE: "false" });
      expect(stepNamed(syft, "withSecretVariable").args.name).toBe("SYFT_REGISTRY_AUTH_PASSWORD");
      expect(syft.some((step) => step.field === "withMountedFile")).toBe(false); // no image archive of a rebuild
    }
    // Nothing is built, exported or pushed: the only execs are Syft's and npm sbom's.
    const execs = run.engine.calls.filter((chain) => execOf(chain).length > 0).map((chain) => execOf(chain).slice(0, 2).join(" "));
    expect([...new Set(execs)].sort()).toEqual(["/syft scan", "npm sbom"]);
    for (const field of ["asTarball", "publish", "withEntrypoint", "export"]) expect(run.engine.calls.some((chain) => chain.some((step) => step.field === field)), field).toBe(false);
    // The registry password only ever reaches the engine's secret store.
    for (const secret of [ECR_PASSWORD, SECRET_KEY, SESSION, KEY_ID]) {
      expect(run.engine.rawQueries.filter((query) => query.includes(secret) && !/^\s*\{\s*setSecret\s*\(/.test(query)), secret).toEqual([]);
      expect(run.result).not.toContain(secret);
    }
  });

  it("names the index digest and each platform image's digest, hangs each image's packages under it, and is valid CycloneDX 1.6", async () => {
    const run = await releaseSbom(); // without --digest: the commit tag's index
    expect(run.error).toBeUndefined();
    const bom = JSON.parse(run.result!) as CycloneDx;
    expect(cycloneDx16Errors(bom)).toEqual([]);
    const root = bom.metadata!.component!;
    expect(root).toMatchObject({ type: "container", version: COMMIT, hashes: [{ alg: "SHA-256", content: release.index.slice(7) }] });
    expect(root.purl).toBe(`pkg:oci/shop@${release.index.replace(":", "%3A")}?repository_url=${HOST}/${REPOSITORY}&tag=${COMMIT}`);
    expect(propertyOf(root, SBOM_PROPERTY.indexDigest)).toBe(release.index);
    const images = bom.components!.filter((component) => component.type === "container");
    expect(images.map((image) => [propertyOf(image, SBOM_PROPERTY.platform), image.version, propertyOf(image, "org.opencontainers.image.revision")])).toEqual([
      ["linux/amd64", release.platformImages[0], COMMIT],
      ["linux/arm64", release.platformImages[1], COMMIT],
    ]);
    expect(images[1]!.purl).toBe(`pkg:oci/shop@${release.platformImages[1]!.replace(":", "%3A")}?arch=arm64&repository_url=${HOST}/${REPOSITORY}`);
    // The release depends on its platform images; each image on what Syft found in it (its own apk packages and files).
    const dependsOn = (ref: unknown) => bom.dependencies!.find((dependency) => dependency.ref === ref)?.dependsOn ?? [];
    expect(dependsOn(root["bom-ref"])).toEqual(expect.arrayContaining(images.map((image) => image["bom-ref"])));
    expect(dependsOn(images[0]!["bom-ref"])).toEqual(expect.arrayContaining([expect.stringMatching(/^pkg:apk\/alpine\/busybox@.*arch=x86_64/), "file:linux/amd64:/usr/local/bin/node"]));
    expect(dependsOn(images[1]!["bom-ref"])).toEqual(expect.arrayContaining([expect.stringMatching(/^pkg:apk\/alpine\/busybox@.*arch=aarch64/), "file:linux/arm64:/usr/local/bin/node"]));
    // node is in both images: listed once, from both.
    const node = bom.components!.find((component) => component.purl === "pkg:generic/node@24.20.0")!;
    expect((node.properties as { name: string; value: string }[]).filter((p) => p.name === SBOM_PROPERTY.source).map((p) => p.value)).toEqual([
      "syft (pushed image) linux/amd64",
      "syft (pushed image) linux/arm64",
    ]);
    expect(bom.components!.some((component) => component.purl?.startsWith("pkg:npm/hono@"))).toBe(true);
  });

  it("describes a release pushed as a single image (no index): Syft reads that image, with no --platform to check", async () => {
    const single = "b".repeat(40);
    const digest = await putTestImage(client(), REPOSITORY, single);
    const run = await releaseSbom({ commit: single, digest });
    expect(run.error).toBeUndefined();
    const syfts = callsEndingWith(run.engine, "stdout").filter((chain) => execOf(chain)[0] === "/syft");
    expect(syfts.map(execOf)).toEqual([["/syft", "scan", "--from", "registry", `${HOST}/${REPOSITORY}@${digest}`, "--output", "cyclonedx-json@1.6"]]);
    const bom = JSON.parse(run.result!) as CycloneDx;
    expect(cycloneDx16Errors(bom)).toEqual([]);
    expect(propertyOf(bom.metadata!.component, SBOM_PROPERTY.indexDigest)).toBe(digest);
    const [image] = bom.components!.filter((component) => component.type === "container");
    expect(image).toMatchObject({ version: digest, purl: `pkg:oci/shop@${digest.replace(":", "%3A")}?repository_url=${HOST}/${REPOSITORY}` });
    expect(propertyOf(image, SBOM_PROPERTY.platform)).toBeUndefined();
  });

  it("refuses a --digest the commit tag does not point to, a release not in ECR and a malformed digest, before Syft runs", async () => {
    const other = await putRelease(client(), REPOSITORY, OLDER, ["linux/amd64"]);
    const wrong = await releaseSbom({ digest: other.index });
    expect(wrong.error?.message).toBe(`--digest=${other.index} is not release ${COMMIT}: its tag points to ${release.index} in ECR repository "${REPOSITORY}"`);
    const missing = await releaseSbom({ commit: "a".repeat(40) });
    expect(missing.error?.message).toContain(`release ${"a".repeat(40)} is not in ECR repository "${REPOSITORY}" in eu-west-1: publish it first`);
    for (const run of [wrong, missing]) expect(run.engine.calls.some((chain) => execOf(chain)[0] === "/syft")).toBe(false);
    const malformed = await releaseSbom({ digest: "sha256:ABC" });
    expect(malformed.error?.message).toBe('--digest="sha256:ABC" is invalid: expected sha256:<64 lowercase hex>');
    expect(malformed.engine.rawQueries).toEqual([]);
  });

  it("refuses an image built for another revision, or without the revision label", async () => {
    const rebuilt = await releaseSbom({}, { revision: OLDER });
    expect(rebuilt.error?.message).toContain(`the linux/amd64 image ${release.platformImages[0]} of release ${COMMIT} was built for revision ${OLDER}: not release ${COMMIT} as publish builds it`);
    const unlabelled = await releaseSbom({}, {});
    expect(unlabelled.error?.message).toContain("has no org.opencontainers.image.revision label");
  });
});
