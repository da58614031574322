// The IAM lists in infra/ecr-permissions.ts are exactly what the code calls: every ECR API call the functions make is
// recorded while they run (moto behind them; a mocked client for ECR's lifecycle preview, which moto lacks), and the
// recorded set must equal the list the CDK stack grants. A call added or removed in the code fails this test.
import { ECRClient, GetLifecyclePolicyPreviewCommand, PutImageScanningConfigurationCommand, PutImageTagMutabilityCommand, PutLifecyclePolicyCommand, StartLifecyclePolicyPreviewCommand } from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ensureRepository } from "../../dagger/src/ecr/registry.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { LOGIN_ACTIONS, PUBLISH_ACTIONS, PUBLISH_API_ACTIONS, REGISTRY_ACTIONS, RELEASE_SBOM_API_ACTIONS } from "../../infra/ecr-permissions.js";
import { motoUnavailableReason, putRelease, startMoto, type Moto } from "../helpers/moto.js";
import { runPlan } from "../helpers/plan.js";
import { client, COMMIT, credentials, engineFor, OLDER, publish, REPOSITORY, TEST_CLIENTS } from "../helpers/publish.js";
import { answerSupplyChain } from "../helpers/supply-chain.js";
import { iamActionOf } from "../helpers/iam.js";

const unavailable = motoUnavailableReason();

/** Runs `body` and resolves with the ECR actions (`ecr:Name`) the pipeline's clients sent (the tests' own left out). */
async function actionsOf(body: () => Promise<unknown>): Promise<string[]> {
  const send = vi.spyOn(ECRClient.prototype, "send");
  try {
    await body();
    const calls = send.mock.calls.filter((_, i) => !TEST_CLIENTS.has(send.mock.contexts[i] as object));
    return [...new Set(calls.map(([command]) => iamActionOf("ecr", command)))];
  } finally {
    send.mockRestore();
  }
}

const setupRegistry = (pipeline: Pipeline) => {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials();
  return pipeline.aws("eu-west-1", accessKeyId, secretAccessKey, sessionToken).setupRegistry(REPOSITORY, 3);
};
const preview = (offline: boolean) => (pipeline: Pipeline) => {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials();
  return pipeline.aws("eu-west-1", accessKeyId, secretAccessKey, sessionToken).lifecyclePreview(REPOSITORY, 3, offline);
};

describe.skipIf(unavailable !== undefined)(`IAM actions derived from the code's calls${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterAll(() => moto?.stop());

  it("publish calls exactly the login action and PUBLISH_API_ACTIONS (first release, latest, and a re-run)", async () => {
    await moto.reset();
    await ensureRepository(client(), REPOSITORY, { region: "eu-west-1", repository: REPOSITORY });
    const called = await actionsOf(async () => {
      for (const head of [COMMIT, OLDER, COMMIT]) {
        const run = await runPlan((pipeline) => publish(pipeline, { tags: ["latest"] }), engineFor({ head }));
        expect(run.error).toBeUndefined();
      }
    });
    expect(called.sort()).toEqual([...LOGIN_ACTIONS, ...PUBLISH_API_ACTIONS].sort());
  });

  it("release-sbom calls exactly the login action and RELEASE_SBOM_API_ACTIONS, all granted to the publish role it runs with", async () => {
    await moto.reset();
    await ensureRepository(client(), REPOSITORY, { region: "eu-west-1", repository: REPOSITORY });
    await putRelease(client(), REPOSITORY, COMMIT, ["linux/amd64", "linux/arm64"]);
    const supply = answerSupplyChain({ pushed: { revision: COMMIT } });
    const called = await actionsOf(async () => {
      const run = await runPlan(async (pipeline) => {
        const { accessKeyId, secretAccessKey, sessionToken } = credentials();
        return pipeline.aws("eu-west-1", accessKeyId, secretAccessKey, sessionToken).releaseSbom(REPOSITORY, COMMIT).then((file) => file.id());
      }, supply);
      expect(run.error).toBeUndefined();
    });
    expect(called.sort()).toEqual([...LOGIN_ACTIONS, ...RELEASE_SBOM_API_ACTIONS].sort());
    expect(PUBLISH_ACTIONS).toEqual(expect.arrayContaining(RELEASE_SBOM_API_ACTIONS));
  });

  it("setup-registry and lifecycle-preview call exactly REGISTRY_ACTIONS (create, bring in line, preview both ways)", async () => {
    await moto.reset();
    const created = await actionsOf(async () => {
      for (const run of [await runPlan(setupRegistry), await runPlan(preview(true))]) expect(run.error).toBeUndefined();
    });
    // An existing repository whose settings and policy drifted (changed here, outside the recording): the update calls.
    await client().send(new PutImageTagMutabilityCommand({ repositoryName: REPOSITORY, imageTagMutability: "MUTABLE" }));
    await client().send(new PutImageScanningConfigurationCommand({ repositoryName: REPOSITORY, imageScanningConfiguration: { scanOnPush: false } }));
    const other = { rulePriority: 1, description: "a different policy, for the update path", selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 9 }, action: { type: "expire" } };
    await client().send(new PutLifecyclePolicyCommand({ repositoryName: REPOSITORY, lifecyclePolicyText: JSON.stringify({ rules: [other] }) }));
    const updated = await actionsOf(async () => {
      const run = await runPlan(setupRegistry);
      expect(run.result).toContain("(tag mutability MUTABLE -> IMMUTABLE_WITH_EXCLUSION (latest, latest-linux-*, deployed-*, rollback-* excluded); scan on push enabled)");
      expect(run.result).toContain("lifecycle policy: updated");
    });
    const functions = [...created, ...updated];

    // ECR's own preview: moto has none, so a mocked client answers it.
    const ecrMock = mockClient(ECRClient);
    try {
      ecrMock.on(StartLifecyclePolicyPreviewCommand).resolves({});
      ecrMock.on(GetLifecyclePolicyPreviewCommand).resolves({ status: "COMPLETE", previewResults: [] });
      const run = await runPlan(preview(false));
      expect(run.result).toBe("nothing would expire in team/shop (keep 3; ECR preview)");
      const mocked = ecrMock.calls().map((call) => iamActionOf("ecr", call.args[0] as object));
      expect([...new Set([...functions, ...mocked])].sort()).toEqual([...REGISTRY_ACTIONS].sort());
    } finally {
      ecrMock.restore();
    }
  });
});
