// The ECR code against a real ECR API: moto's server on loopback (test/helpers/moto.ts). Skipped with the reason
// when moto is not installed; .ci/run sets REQUIRE_MOTO=1 so that CI fails instead of skipping.
import {
  DescribeRepositoriesCommand,
  GetLifecyclePolicyCommand,
  PutImageTagMutabilityCommand,
  PutLifecyclePolicyCommand,
  type ECRClient,
} from "@aws-sdk/client-ecr";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AwsError } from "../../dagger/src/aws-errors.js";
import { releaseLifecyclePolicy, policyText } from "../../dagger/src/ecr/lifecycle.js";
import { applyLifecyclePolicy, createEcrClient, ensureRepository, findImageByTag, getRegistryAuth, listImages, tagRelease } from "../../dagger/src/ecr/registry.js";
import { FAKE_CREDENTIALS, motoUnavailableReason, putRelease, putTestImage, startMoto, type Moto } from "../helpers/moto.js";

const unavailable = motoUnavailableReason();
const REGION = "eu-west-1";
const REPOSITORY = "team/hono-ecr-service";
const context = { region: REGION, repository: REPOSITORY };

describe.skipIf(unavailable !== undefined)(`ECR against moto${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let moto: Moto;
  let client: ECRClient;

  beforeAll(async () => {
    moto = await startMoto();
    client = createEcrClient(REGION, FAKE_CREDENTIALS);
  }, 60_000);
  afterAll(() => moto?.stop());
  beforeEach(async () => moto.reset());

  it("creates the repository with scan on push, immutable tags except latest, AES-256", async () => {
    const report = await ensureRepository(client, REPOSITORY, context);
    expect(report).toEqual({ change: "created", repositoryUri: `123456789012.dkr.ecr.${REGION}.amazonaws.com/${REPOSITORY}`, notes: [] });
    const [repo] = (await client.send(new DescribeRepositoriesCommand({ repositoryNames: [REPOSITORY] }))).repositories ?? [];
    expect(repo).toMatchObject({
      imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
      imageTagMutabilityExclusionFilters: [
        { filterType: "WILDCARD", filter: "latest" },
        { filterType: "WILDCARD", filter: "latest-linux-*" },
        { filterType: "WILDCARD", filter: "deployed-*" },
        { filterType: "WILDCARD", filter: "rollback-*" },
      ],
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: "AES256" },
    });
  });

  it("is idempotent: a second run changes nothing", async () => {
    await ensureRepository(client, REPOSITORY, context);
    expect(await ensureRepository(client, REPOSITORY, context)).toMatchObject({ change: "unchanged", notes: [] });
  });

  it("brings an existing repository's tag mutability back in line and says so", async () => {
    await ensureRepository(client, REPOSITORY, context);
    await client.send(new PutImageTagMutabilityCommand({ repositoryName: REPOSITORY, imageTagMutability: "MUTABLE" }));
    const report = await ensureRepository(client, REPOSITORY, context);
    expect(report.change).toBe("updated");
    expect(report.notes).toEqual(["tag mutability MUTABLE -> IMMUTABLE_WITH_EXCLUSION (latest, latest-linux-*, deployed-*, rollback-* excluded)"]);
    expect(await ensureRepository(client, REPOSITORY, context)).toMatchObject({ change: "unchanged" });
  });

  it("applies the lifecycle policy, then reports unchanged, and reads back equal", async () => {
    await ensureRepository(client, REPOSITORY, context);
    const policy = releaseLifecyclePolicy(3);
    expect(await applyLifecyclePolicy(client, REPOSITORY, policy, context)).toBe("created");
    expect(await applyLifecyclePolicy(client, REPOSITORY, policy, context)).toBe("unchanged");
    const stored = (await client.send(new GetLifecyclePolicyCommand({ repositoryName: REPOSITORY }))).lifecyclePolicyText;
    expect(JSON.parse(stored!)).toEqual(policy);
  });

  it("treats a stored policy with reordered rules as unchanged, and a different one as updated", async () => {
    await ensureRepository(client, REPOSITORY, context);
    const policy = releaseLifecyclePolicy(2);
    await client.send(new PutLifecyclePolicyCommand({ repositoryName: REPOSITORY, lifecyclePolicyText: JSON.stringify({ rules: [...policy.rules].reverse() }) }));
    expect(await applyLifecyclePolicy(client, REPOSITORY, policy, context)).toBe("unchanged");
    await client.send(new PutLifecyclePolicyCommand({ repositoryName: REPOSITORY, lifecyclePolicyText: policyText(releaseLifecyclePolicy(9)) }));
    expect(await applyLifecyclePolicy(client, REPOSITORY, policy, context)).toBe("updated");
    expect(JSON.parse((await client.send(new GetLifecyclePolicyCommand({ repositoryName: REPOSITORY }))).lifecyclePolicyText!)).toEqual(policy);
  });

  it("finds the image a tag points to, and nothing for a tag that is not there", async () => {
    await ensureRepository(client, REPOSITORY, context);
    const digest = await putTestImage(client, REPOSITORY, "abc123");
    expect(await findImageByTag(client, REPOSITORY, "abc123", context)).toBe(digest);
    expect(await findImageByTag(client, REPOSITORY, "def456", context)).toBeUndefined();
  });

  it("tags a release and each of its platform images by digest, and again without error (idempotent)", async () => {
    await ensureRepository(client, REPOSITORY, context);
    const release = await putRelease(client, REPOSITORY, "c0ffee", ["linux/amd64", "linux/arm64"]);
    const tagged = await tagRelease(client, REPOSITORY, release.index, ["c0ffee", "latest"], context);
    expect(tagged).toEqual({ references: [`c0ffee@${release.index}`, `latest@${release.index}`], registryId: "123456789012" });
    expect(await tagRelease(client, REPOSITORY, release.index, ["c0ffee", "latest"], context)).toEqual(tagged);
    const images = await listImages(client, REPOSITORY, context);
    const tagsOf = (digest: string) => images.find((image) => image.digest === digest)?.tags.sort();
    expect(tagsOf(release.index)).toEqual(["c0ffee", "latest"]);
    expect(tagsOf(release.platformImages[0]!)).toEqual(["c0ffee-linux-amd64", "latest-linux-amd64"]);
    expect(tagsOf(release.platformImages[1]!)).toEqual(["c0ffee-linux-arm64", "latest-linux-arm64"]);
  });

  it("moves an environment's tags (deployed-<env>, with its platform tags) from one release to the next, as latest moves", async () => {
    await ensureRepository(client, REPOSITORY, context);
    const first = await putRelease(client, REPOSITORY, "c0ffee", ["linux/amd64", "linux/arm64"]);
    const second = await putRelease(client, REPOSITORY, "decaf0", ["linux/amd64", "linux/arm64"]);
    await tagRelease(client, REPOSITORY, first.index, ["deployed-production", "rollback-staging"], context);
    await tagRelease(client, REPOSITORY, second.index, ["deployed-production"], context);
    const images = await listImages(client, REPOSITORY, context);
    const tagsOf = (digest: string) => images.find((image) => image.digest === digest)?.tags.sort();
    expect(tagsOf(first.index)).toEqual(["c0ffee", "rollback-staging"]);
    expect(tagsOf(second.index)).toEqual(["decaf0", "deployed-production"]);
    expect(tagsOf(second.platformImages[1]!)).toEqual(["deployed-production-linux-arm64"]);
    expect(tagsOf(first.platformImages[1]!)).toEqual(["rollback-staging-linux-arm64"]);
  });

  it("refuses to move an immutable release tag to another image", async () => {
    await ensureRepository(client, REPOSITORY, context);
    await putTestImage(client, REPOSITORY, "v1.0.0");
    const other = await putTestImage(client, REPOSITORY, "other");
    await expect(tagRelease(client, REPOSITORY, other, ["v1.0.0"], context)).rejects.toThrow(/v1\.0\.0/);
  });

  it("gets and decodes a registry login", async () => {
    const auth = await getRegistryAuth(client, { region: REGION });
    expect(auth.registryHost).toBe(`123456789012.dkr.ecr.${REGION}.amazonaws.com`);
    expect(auth.username).toBe("AWS");
    expect(auth.password).toBe("123456789012-auth-token");
  });

  it("a missing repository suggests setup-registry", async () => {
    const error = await applyLifecyclePolicy(client, "does-not-exist", releaseLifecyclePolicy(), { region: REGION, repository: "does-not-exist" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsError);
    expect((error as Error).message).toBe('ECR repository "does-not-exist" does not exist in eu-west-1: create it once with `dagger call setup-registry` (README, "Publishing to ECR")');
  });
});
