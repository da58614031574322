// publish, setup-registry, lifecycle-policy and lifecycle-preview run for real: the Dagger side against the fake engine,
// the AWS side against moto (the ECR API emulator). No image is pushed anywhere: the fake engine answers `publish` by
// storing in moto what a registry push leaves behind (untagged platform images and the tagged index) and its digest.
import { DescribeImagesCommand } from "@aws-sdk/client-ecr";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { releaseLifecyclePolicy } from "../../dagger/src/ecr/lifecycle.js";
import { ensureRepository, findImageByTag, tagRelease } from "../../dagger/src/ecr/registry.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { motoUnavailableReason, startMoto, type Moto } from "../helpers/moto.js";
import { callsEndingWith, namedValues, runPlan, stepNamed } from "../helpers/plan.js";
import { client, COMMIT, credentials, ECR_PASSWORD, engineFor, HOST, KEY_ID, OLDER, publish, REPOSITORY, SECRET_KEY, SESSION } from "../helpers/publish.js";

const unavailable = motoUnavailableReason();
/** The digest each tag points to in moto now. */
async function digestsOf(tags: string[]): Promise<Record<string, string | undefined>> {
  const found: Record<string, string | undefined> = {};
  for (const tag of tags) {
    const response = await client()
      .send(new DescribeImagesCommand({ repositoryName: REPOSITORY, imageIds: [{ imageTag: tag }] }))
      .catch(() => undefined);
    found[tag] = response?.imageDetails?.[0]?.imageDigest;
  }
  return found;
}

const pushes = (run: Awaited<ReturnType<typeof runPlan>>) => callsEndingWith(run.engine, "publish");
const execs = (run: Awaited<ReturnType<typeof runPlan>>) => run.engine.calls.filter((chain) => chain.some((step) => step.field === "withExec"));

describe.skipIf(unavailable !== undefined)(`publish and registry functions${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterAll(() => moto?.stop());
  /** Resets moto and creates the repository publish pushes to, as setup-registry would. */
  beforeEach(async () => {
    await moto.reset();
    await ensureRepository(client(), REPOSITORY, { region: "eu-west-1", repository: REPOSITORY });
  });

  it("pushes the very image it smoke-tested: one index of both platforms, under the HEAD commit, built once", async () => {
    const run = await runPlan((pipeline) => publish(pipeline), engineFor({ head: COMMIT }));
    expect(run.error).toBeUndefined();
    const [push, ...more] = pushes(run);
    expect(more).toEqual([]);
    expect(push!.at(-1)!.args.address).toBe(`${HOST}/${REPOSITORY}:${COMMIT}`);
    const variants = (push!.at(-1)!.args.platformVariants as string[]).map((id) => run.engine.chainOf(id));
    expect(variants.map((chain) => chain[0])).toEqual([
      { field: "container", args: { platform: "linux/amd64" } },
      { field: "container", args: { platform: "linux/arm64" } },
    ]);
    // The smoke test ran the linux/amd64 variant itself (the engine's platform), and nothing ran in the arm64 one.
    const uidProbe = callsEndingWith(run.engine, "stdout").find((chain) => JSON.stringify(chain).includes("getuid"))!;
    expect(uidProbe.slice(0, variants[0]!.length)).toEqual(variants[0]);
    expect(execs(run).filter((chain) => chain[0]?.args.platform === "linux/arm64")).toEqual([]);
    for (const variant of variants) {
      expect(namedValues(variant, "withLabel")["org.opencontainers.image.revision"]).toBe(COMMIT);
      const bundle = run.engine.chainOf(String(stepNamed(variant, "withFile").args.source));
      expect(namedValues(bundle, "withEnvVariable")).toMatchObject({ GIT_COMMIT: COMMIT, SOURCE_DATE_EPOCH: "1770091506" });
    }
    const auth = stepNamed(push!, "withRegistryAuth");
    expect(auth.args).toMatchObject({ address: HOST, username: "AWS" });
    expect(run.engine.chainOf(String(auth.args.secret))).toEqual([{ field: "setSecret", args: { name: "ecr-registry-password", plaintext: "***" } }]);

    const stored = await digestsOf([COMMIT, `${COMMIT}-linux-amd64`, `${COMMIT}-linux-arm64`, "latest"]);
    expect(stored[COMMIT]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stored[`${COMMIT}-linux-amd64`]).toMatch(/^sha256:/);
    expect(stored[`${COMMIT}-linux-arm64`]).toMatch(/^sha256:/);
    expect(stored.latest, "latest moves only when asked").toBeUndefined();
    expect(run.result!.split("\n").at(-1)).toBe(`${HOST}/${REPOSITORY}:${COMMIT}@${stored[COMMIT]}`);
  });

  it("adds latest (and its platform tags) by digest when asked, without a second push", async () => {
    const run = await runPlan((pipeline) => publish(pipeline, { tags: ["latest"] }), engineFor({ head: COMMIT }));
    expect(run.error).toBeUndefined();
    expect(pushes(run)).toHaveLength(1);
    const stored = await digestsOf([COMMIT, "latest", "latest-linux-amd64", `${COMMIT}-linux-amd64`, "latest-linux-arm64", `${COMMIT}-linux-arm64`]);
    expect(stored.latest).toBe(stored[COMMIT]);
    expect(stored["latest-linux-amd64"]).toBe(stored[`${COMMIT}-linux-amd64`]);
    expect(stored["latest-linux-arm64"]).toBe(stored[`${COMMIT}-linux-arm64`]);
    expect(run.result!.split("\n").slice(-2)).toEqual([`${HOST}/${REPOSITORY}:${COMMIT}@${stored[COMMIT]}`, `${HOST}/${REPOSITORY}:latest@${stored[COMMIT]}`]);
  });

  it("never rebuilds a commit already in ECR: a re-run moves latest back to the stored digest", async () => {
    const older = await runPlan((pipeline) => publish(pipeline, { tags: ["latest"] }), engineFor({ head: OLDER }));
    const newer = await runPlan((pipeline) => publish(pipeline, { tags: ["latest"] }), engineFor({ head: COMMIT }));
    expect([older.error, newer.error]).toEqual([undefined, undefined]);
    const before = await digestsOf([OLDER, COMMIT, "latest"]);
    expect(before.latest).toBe(before[COMMIT]);

    const rerun = await runPlan((pipeline) => publish(pipeline, { tags: ["latest"] }), engineFor({ head: OLDER }));
    expect(rerun.error).toBeUndefined();
    expect(pushes(rerun)).toEqual([]);
    expect(execs(rerun)).toEqual([]);
    const after = await digestsOf([OLDER, "latest", `${OLDER}-linux-arm64`, "latest-linux-arm64"]);
    expect(after.latest).toBe(before[OLDER]);
    expect(after["latest-linux-arm64"]).toBe(after[`${OLDER}-linux-arm64`]);
    expect(rerun.result!.split("\n")[0]).toBe(`${OLDER} is already in ECR as ${before[OLDER]}: not rebuilt, tags moved to it`);
  });

  it("stops before building when the repository does not exist, whatever tags were asked for", async () => {
    for (const tags of [undefined, ["latest"]]) {
      const run = await runPlan((pipeline) => publish(pipeline, { repository: "team/missing", tags }), engineFor({ head: COMMIT }));
      expect(run.error?.message).toBe('ECR repository "team/missing" does not exist in eu-west-1: create it once with `dagger call setup-registry` (README, "Publishing to ECR")');
      expect(execs(run)).toEqual([]);
    }
  });

  it("refuses a checkout with uncommitted changes, naming them, before reading a secret or building", async () => {
    const run = await runPlan((pipeline) => publish(pipeline), engineFor({ head: COMMIT, changed: ["src/app.ts"] }));
    expect(run.error?.message).toBe(
      `the checkout has uncommitted changes (src/app.ts): commit them first, or pass --allow-dirty to publish them tagged ${COMMIT}-dirty-<hash>, never as ${COMMIT}`,
    );
    expect(execs(run)).toEqual([]);
    expect(run.engine.calls.filter((chain) => chain.at(-1)!.field === "plaintext")).toEqual([]);
  });

  it("with --allow-dirty, tags the release as dirty, never with the clean commit", async () => {
    const run = await runPlan((pipeline) => publish(pipeline, { allowDirty: true }), engineFor({ head: COMMIT, changed: ["src/app.ts"] }));
    expect(run.error).toBeUndefined();
    const address = String(pushes(run)[0]!.at(-1)!.args.address);
    expect(address).toMatch(new RegExp(`^${HOST}/${REPOSITORY}:${COMMIT}-dirty-[0-9a-f]{12}$`));
    expect((await digestsOf([COMMIT]))[COMMIT]).toBeUndefined();
  });

  it("--commit overrides the repository's HEAD", async () => {
    const run = await runPlan((pipeline) => publish(pipeline, { commit: OLDER }), engineFor({ head: COMMIT }));
    expect(run.error).toBeUndefined();
    expect(pushes(run)[0]!.at(-1)!.args.address).toBe(`${HOST}/${REPOSITORY}:${OLDER}`);
  });

  it("never puts a secret anywhere but the engine's secret store", async () => {
    const run = await runPlan((pipeline) => publish(pipeline, { tags: ["latest"] }), engineFor({ head: COMMIT }));
    expect(run.error).toBeUndefined();
    for (const secret of [ECR_PASSWORD, SECRET_KEY, SESSION, KEY_ID]) {
      const carriers = run.engine.rawQueries.filter((query) => query.includes(secret));
      expect(carriers.length, secret).toBeGreaterThan(0);
      expect(carriers.filter((query) => !/^\s*\{\s*setSecret\s*\(/.test(query)), secret).toEqual([]);
      expect(JSON.stringify(run.engine.calls)).not.toContain(secret);
      expect(run.result).not.toContain(secret);
    }
  });

  it("never pushes an image that fails the vulnerability gate", async () => {
    const criticalFixable = JSON.stringify({
      SchemaVersion: 2,
      Results: [{ Target: "image (alpine 3.24.0)", Vulnerabilities: [{ VulnerabilityID: "CVE-2026-20001", PkgName: "zlib", InstalledVersion: "1.3.1-r2", FixedVersion: "1.3.1-r3", Severity: "CRITICAL" }] }],
    });
    const run = await runPlan((pipeline) => publish(pipeline), engineFor({ head: COMMIT }, undefined, { imageReport: criticalFixable }));
    expect(run.error?.message).toMatch(/^publish refused: nothing was pushed\nvulnerability gate FAILED: 1 fixable at CRITICAL or above/);
    expect(run.error?.message).toContain("blocking: CRITICAL CVE-2026-20001 zlib 1.3.1-r2 -> 1.3.1-r3");
    expect(pushes(run)).toEqual([]);
    expect((await digestsOf([COMMIT]))[COMMIT]).toBeUndefined();
  });

  it("reports the gate, read from the very image it pushes, and where the SBOM of the pushed images comes from (no rebuild, no Syft here)", async () => {
    const run = await runPlan((pipeline) => publish(pipeline), engineFor({ head: COMMIT }));
    expect(run.error).toBeUndefined();
    expect(run.result).toContain("vulnerability gate passed: no fixable vulnerability at CRITICAL or above");
    const digest = (await digestsOf([COMMIT]))[COMMIT]!;
    expect(run.result).toContain(`sbom of the pushed images: dagger call aws ... release-sbom --repository=${REPOSITORY} --commit=${COMMIT} --digest=${digest} export --path=sbom.cdx.json`);
    expect(execs(run).filter((chain) => chain.some((step) => step.field === "withExec" && (step.args.args as string[])[0] === "/syft"))).toEqual([]);
    // The scanned tarball is the pushed linux/amd64 variant's container.
    const pushed = (pushes(run)[0]!.at(-1)!.args.platformVariants as string[]).map((id) => run.engine.chainOf(id));
    const scanned = callsEndingWith(run.engine, "stdout").filter((chain) => chain.some((step) => step.field === "withExec" && (step.args.args as string[])[0] === "trivy" && (step.args.args as string[])[1] === "image"));
    const tarballOf = run.engine.chainOf(String(scanned[0]!.find((step) => step.field === "withMountedFile")!.args.source));
    expect(JSON.stringify(tarballOf.slice(0, -1))).toBe(JSON.stringify(pushed.find((chain) => chain[0]!.args.platform === "linux/amd64")));
  });

  it("pushes a single-platform release when asked", async () => {
    const run = await runPlan((pipeline) => publish(pipeline, { platforms: ["linux/arm64"] }), engineFor({ head: COMMIT }, ["linux/arm64"]));
    expect(run.error).toBeUndefined();
    const variants = (pushes(run)[0]!.at(-1)!.args.platformVariants as string[]).map((id) => run.engine.chainOf(id)[0]);
    expect(variants).toEqual([{ field: "container", args: { platform: "linux/arm64" } }]);
    expect(run.result).toContain("smoke-tested on linux/amd64, from the same bundle as the linux/arm64 images");
    expect(execs(run).filter((chain) => chain[0]?.args.platform === "linux/arm64")).toEqual([]);
  });

  it.each([
    [{ region: "eu-west" }, 'region "eu-west" is not an AWS region name'],
    [{ repository: "Team/Shop" }, 'repository "Team/Shop" is not a valid ECR repository name'],
    [{ tags: ["ok", "bad tag"] }, 'tag "bad tag" is not a valid image tag'],
    [{ tags: ["x".repeat(120)] }, "a release tag may have at most 116"],
    [{ platforms: ["windows/amd64"] }, 'platform "windows/amd64" is not supported'],
    [{ platforms: ["linux/386"] }, 'platform "linux/386" is not supported: expected linux/amd64 or linux/arm64'],
    [{ commit: "not a commit" }, 'tag "not a commit" is not a valid image tag'],
  ])("rejects %j before reading a secret, calling AWS or the engine", async (overrides, message) => {
    const run = await runPlan((pipeline) => publish(pipeline, overrides), engineFor({ head: COMMIT }));
    expect(run.error?.message).toContain(message);
    expect(run.engine.rawQueries).toEqual([]);
  });

  it("setup-registry creates the repository and policy, then reports nothing to change", async () => {
    const setup = async (pipeline: Pipeline) => {
      const { accessKeyId, secretAccessKey, sessionToken } = credentials();
      return pipeline.aws("eu-west-1", accessKeyId, secretAccessKey, sessionToken).setupRegistry("team/web", 3);
    };
    const first = await runPlan(setup);
    expect(first.error).toBeUndefined();
    expect(first.result).toBe(
      "repository team/web: created\nimage URI: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web\n" +
        "lifecycle policy: created (keep 3 newest releases with their signatures, and the one latest points to)" +
        "\nsigning: not configured (deploy refuses unsigned images: pass --signing-profile-arn=<the identity stack's SigningProfileArn>)",
    );
    const second = await runPlan(setup);
    expect(second.result).toBe(
      "repository team/web: unchanged\nimage URI: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web\n" +
        "lifecycle policy: unchanged (keep 3 newest releases with their signatures, and the one latest points to)" +
        "\nsigning: not configured (deploy refuses unsigned images: pass --signing-profile-arn=<the identity stack's SigningProfileArn>)",
    );
  });

  it("lifecycle-policy prints the policy setup-registry applies", async () => {
    const run = await runPlan(async (pipeline) => Promise.resolve(pipeline.lifecyclePolicy(4)));
    expect(JSON.parse(run.result!)).toEqual(releaseLifecyclePolicy(4));
    expect(run.engine.rawQueries).toEqual([]);
  });

  it("lifecycle-preview --offline evaluates the policy over the repository's images, with their sizes", async () => {
    // Three releases a second apart (moto records push times in whole seconds), then keep 1.
    for (const [n, head] of [COMMIT, OLDER, "00112233445566778899aabbccddeeff00112233"].entries()) {
      if (n > 0) await new Promise((resolve) => setTimeout(resolve, 1100));
      const run = await runPlan((pipeline) => publish(pipeline, { tags: n === 0 ? ["latest"] : undefined }), engineFor({ head }));
      expect(run.error).toBeUndefined();
    }
    const previewRun = () =>
      runPlan(async (pipeline) => {
        const { accessKeyId, secretAccessKey, sessionToken } = credentials();
        return pipeline.aws("eu-west-1", accessKeyId, secretAccessKey, sessionToken).lifecyclePreview(REPOSITORY, 1, true);
      });
    const preview = await previewRun();
    expect(preview.error).toBeUndefined();
    const lines = preview.result!.split("\n");
    // The oldest release carries latest: kept. The middle one is beyond the newest release: its index expires (rule 8);
    // its platform images are kept by their per-platform rules, so no kept release ever loses one.
    expect(lines[0]).toMatch(/^1 image\(s\) would expire in team\/shop \(keep 1; evaluated offline, \d+\.\d MiB, about \$\d+\.\d{4} a month/);
    expect(lines[1]).toMatch(new RegExp(`^sha256:[0-9a-f]{64} ${OLDER} pushed \\S+ -> expire \\(rule 8\\)$`));
    expect(lines.at(-1)).toBe("what each environment runs or would roll back to (deployed-<env>, rollback-<env>) is kept, whatever its age");
    // Once production runs the middle release (deploy tagged it deployed-production), it is kept whatever its age.
    const context = { region: "eu-west-1", repository: REPOSITORY };
    const older = (await findImageByTag(client(), REPOSITORY, OLDER, context))!;
    await tagRelease(client(), REPOSITORY, older, ["deployed-production"], context);
    expect((await previewRun()).result).toBe(`nothing would expire in team/shop (keep 1; evaluated offline)\nkept whatever its age: deployed-production -> ${older} (and its platform images)`);
  }, 60_000);
});
