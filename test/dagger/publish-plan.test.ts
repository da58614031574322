// publish, setup-registry and lifecycle-policy run for real: the Dagger side against the fake engine, the AWS side
// against moto (the ECR API emulator). No image is pushed anywhere: the fake engine answers `publish` with a digest.
import { dag } from "@dagger.io/dagger";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultLifecyclePolicy } from "../../dagger/src/ecr/lifecycle.js";
import { createEcrClient, ensureRepository } from "../../dagger/src/ecr/registry.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { FAKE_CREDENTIALS, motoUnavailableReason, putTestImage, startMoto, type Moto } from "../helpers/moto.js";
import { answerNonRootUid as uid, callsEndingWith, namedValues, runPlan, stepNamed } from "../helpers/plan.js";

const unavailable = motoUnavailableReason();
const KEY_ID = "AKIAPLANTESTKEYID000";
const SECRET_KEY = "plan-test-secret-access-key-0123456789";
const SESSION = "plan-test-session-token-abcdef";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const ECR_PASSWORD = "123456789012-auth-token";

/** The AWS credentials as Dagger secrets, as `--access-key-id=env://...` would give them. */
const credentials = () => ({
  accessKeyId: dag.setSecret("aws-access-key-id", KEY_ID),
  secretAccessKey: dag.setSecret("aws-secret-access-key", SECRET_KEY),
  sessionToken: dag.setSecret("aws-session-token", SESSION),
});

function publish(pipeline: Pipeline, overrides: { region?: string; repository?: string; tags?: string[]; platforms?: string[] } = {}) {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials();
  return pipeline.publish(
    overrides.region ?? "eu-west-1",
    overrides.repository ?? "team/shop",
    COMMIT,
    accessKeyId,
    secretAccessKey,
    sessionToken,
    overrides.tags,
    overrides.platforms as never,
  );
}

describe.skipIf(unavailable !== undefined)(`publish and registry functions${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterAll(() => moto?.stop());
  /** Resets moto and creates the repository publish pushes to, as setup-registry would. */
  beforeEach(async () => {
    await moto.reset();
    await ensureRepository(createEcrClient("eu-west-1", FAKE_CREDENTIALS), "team/shop", { region: "eu-west-1", repository: "team/shop" });
  });

  it("logs in as AWS with the ECR password as a secret and pushes the runtime image with the commit and latest tags", async () => {
    const run = await runPlan((pipeline) => publish(pipeline), uid);
    expect(run.error).toBeUndefined();
    const pushes = callsEndingWith(run.engine, "publish");
    expect(pushes.map((chain) => chain.at(-1)!.args.address)).toEqual([`${HOST}/team/shop:${COMMIT}`, `${HOST}/team/shop:latest`]);
    expect(run.result).toMatch(new RegExp(`^${HOST}/team/shop:${COMMIT}@sha256:[0-9a-f]{64}\\n${HOST}/team/shop:latest@sha256:[0-9a-f]{64}$`));

    for (const chain of pushes) {
      const auth = stepNamed(chain, "withRegistryAuth");
      expect(auth.args).toMatchObject({ address: HOST, username: "AWS" });
      expect(run.engine.chainOf(String(auth.args.secret))).toEqual([{ field: "setSecret", args: { name: "ecr-registry-password", plaintext: "***" } }]);
      expect(stepNamed(chain, "withEntrypoint").args.args).toEqual(["node", "/app/server.mjs"]);
      expect(namedValues(chain, "withLabel")["org.opencontainers.image.revision"]).toBe(COMMIT);
    }
  });

  it("never puts a secret anywhere but the engine's secret store", async () => {
    const run = await runPlan((pipeline) => publish(pipeline), uid);
    expect(run.error).toBeUndefined();
    for (const secret of [ECR_PASSWORD, SECRET_KEY, SESSION, KEY_ID]) {
      const carriers = run.engine.rawQueries.filter((query) => query.includes(secret));
      expect(carriers.length, secret).toBeGreaterThan(0);
      expect(carriers.filter((query) => !/^\s*\{\s*setSecret\s*\(/.test(query)), secret).toEqual([]);
      expect(JSON.stringify(run.engine.calls)).not.toContain(secret);
      expect(run.result).not.toContain(secret);
    }
  });

  it("keeps an immutable tag that is already in ECR (a re-run for the same commit) and pushes only latest", async () => {
    const digest = await putTestImage(createEcrClient("eu-west-1", FAKE_CREDENTIALS), "team/shop", COMMIT);
    const run = await runPlan((pipeline) => publish(pipeline), uid);
    expect(run.error).toBeUndefined();
    expect(callsEndingWith(run.engine, "publish").map((chain) => chain.at(-1)!.args.address)).toEqual([`${HOST}/team/shop:latest`]);
    const [kept, latest] = run.result!.split("\n");
    expect(kept).toBe(`${HOST}/team/shop:${COMMIT}@${digest} (already in ECR: immutable tag kept)`);
    expect(latest).toMatch(new RegExp(`^${HOST}/team/shop:latest@sha256:[0-9a-f]{64}$`));
  });

  it("stops before building when the repository does not exist, pointing at setup-registry", async () => {
    const run = await runPlan((pipeline) => publish(pipeline, { repository: "team/missing" }), uid);
    expect(run.error?.message).toBe('ECR repository "team/missing" does not exist in eu-west-1: create it once with `dagger call setup-registry` (README, "Publishing to ECR")');
    expect(run.engine.calls.filter((chain) => chain.some((step) => step.field === "withExec"))).toEqual([]);
  });

  it("pushes the tags asked for", async () => {
    const run = await runPlan((pipeline) => publish(pipeline, { tags: ["v1.2.3", "stable"] }), uid);
    expect(callsEndingWith(run.engine, "publish").map((chain) => chain.at(-1)!.args.address)).toEqual([`${HOST}/team/shop:v1.2.3`, `${HOST}/team/shop:stable`]);
  });

  it("pushes one multi-arch image index when platforms are given", async () => {
    const run = await runPlan((pipeline) => publish(pipeline, { platforms: ["linux/amd64", "linux/arm64"] }), uid);
    expect(run.error).toBeUndefined();
    const [first] = callsEndingWith(run.engine, "publish");
    expect(first![0]).toEqual({ field: "container", args: {} });
    const variants = first!.at(-1)!.args.platformVariants as string[];
    expect(variants.map((id) => run.engine.chainOf(id)[0])).toEqual([
      { field: "container", args: { platform: "linux/amd64" } },
      { field: "container", args: { platform: "linux/arm64" } },
    ]);
  });

  it.each([
    [{ region: "eu-west" }, 'region "eu-west" is not an AWS region name'],
    [{ repository: "Team/Shop" }, 'repository "Team/Shop" is not a valid ECR repository name'],
    [{ tags: ["ok", "bad tag"] }, 'tag "bad tag" is not a valid image tag'],
    [{ platforms: ["windows/amd64"] }, 'platform "windows/amd64" is not supported'],
  ])("rejects %j before reading a secret or calling AWS", async (overrides, message) => {
    const run = await runPlan((pipeline) => publish(pipeline, overrides));
    expect(run.error?.message).toContain(message);
    expect(run.engine.rawQueries).toEqual([]);
  });

  it("setup-registry creates the repository and policy, then reports nothing to change", async () => {
    const setup = async (pipeline: Pipeline) => {
      const { accessKeyId, secretAccessKey, sessionToken } = credentials();
      return pipeline.setupRegistry("eu-west-1", "team/web", accessKeyId, secretAccessKey, sessionToken, 3);
    };
    const first = await runPlan(setup);
    expect(first.error).toBeUndefined();
    expect(first.result).toBe(
      "repository team/web: created\nimage URI: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web\nlifecycle policy: created (keep 3 most recent, untagged expire after 1 day)",
    );
    const second = await runPlan(setup);
    expect(second.result).toBe(
      "repository team/web: unchanged\nimage URI: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web\nlifecycle policy: unchanged (keep 3 most recent, untagged expire after 1 day)",
    );
  });

  it("lifecycle-policy prints the policy setup-registry applies", async () => {
    const run = await runPlan(async (pipeline) => Promise.resolve(pipeline.lifecyclePolicy(4)));
    expect(JSON.parse(run.result!)).toEqual(defaultLifecyclePolicy(4));
    expect(run.engine.rawQueries).toEqual([]);
  });
});
