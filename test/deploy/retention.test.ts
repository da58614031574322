// Deploy-aware retention: deploy and rollback tag what an environment runs (deployed-<env>) and would roll back to
// (rollback-<env>), index and platform images, by BatchGetImage + PutImage (mocked ECR, ECS and ELB clients).
import { PutImageCommand } from "@aws-sdk/client-ecr";
import { DescribeTaskDefinitionCommand, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import { deployRelease, rollbackRelease } from "../../dagger/src/deploy/deploy.js";
import { PREVIOUS_TAG, RELEASE_TAG } from "../../dagger/src/deploy/ecs.js";
import { AwsError } from "../../dagger/src/aws-errors.js";
import { validateReleaseTag } from "../../dagger/src/ecr/release-tags.js";
import { REPOSITORY_SETTINGS } from "../../dagger/src/ecr/registry.js";
import {
  deployment,
  ecr,
  ecs,
  NEW_COMMIT,
  NEW_DIGEST,
  OLD_COMMIT,
  OLD_DIGEST,
  retagged,
  revision,
  rollbackRollout,
  rollout,
  SD_ARN,
  service,
  target,
  TD1,
  TD2,
  testRuntime,
  useMockedDeploy,
} from "../helpers/ecs-mocks.js";

const options = { timeoutMs: 20 * 60_000, checks: 1, severity: "CRITICAL" as const };
// The mocked BatchGetImage answers an index of two platform images for every digest.
const AMD64 = `sha256:${"0".repeat(64)}`;
const ARM64 = `sha256:${"1".repeat(64)}`;
const marks = (tag: string, digest: string) => [`${tag}-linux-amd64 -> ${AMD64}`, `${tag}-linux-arm64 -> ${ARM64}`, `${tag} -> ${digest}`];

const mocked = useMockedDeploy();

describe("deploy-aware retention", () => {
  it("the tags are mutable (exclusion filters, at most 5) and publish may not set them", () => {
    expect(REPOSITORY_SETTINGS.imageTagMutabilityExclusionFilters.map((f) => f.filter)).toEqual(["latest", "latest-linux-*", "deployed-*", "rollback-*"]);
    expect(REPOSITORY_SETTINGS.imageTagMutabilityExclusionFilters.length).toBeLessThanOrEqual(5);
    expect(() => validateReleaseTag("deployed-production")).toThrow('tag "deployed-production" is reserved: deploy and rollback move');
    expect(validateReleaseTag("v1.2.3")).toBe("v1.2.3");
  });

  it("deploy tags both ends before the update: deployed-<env> on the new release, rollback-<env> on what runs", async () => {
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    let atUpdate: string[] = [];
    ecs.on(UpdateServiceCommand).callsFake(() => {
      atUpdate = retagged();
      return { service: { ...service([deployment("ecs-svc/new", TD2, "PRIMARY", "IN_PROGRESS"), deployment("ecs-svc/old", TD1, "ACTIVE", "COMPLETED")]).services[0], currentServiceDeployment: SD_ARN } };
    });
    const runtime = testRuntime();
    await deployRelease(runtime, target, { commit: NEW_COMMIT }, options);
    expect(atUpdate).toEqual([...marks("deployed-staging", NEW_DIGEST), ...marks("rollback-staging", OLD_DIGEST)]);
    expect(retagged()).toEqual(atUpdate);
    // The manifest put is the stored one (no push): the same digest, read with BatchGetImage.
    expect(ecr.commandCalls(PutImageCommand)[2]!.args[0].input).toMatchObject({ repositoryName: "hono-ecr-service", imageTag: "deployed-staging", imageDigest: NEW_DIGEST });
    expect(runtime.lines).toContain(`staging: ECR tag deployed-staging -> ${NEW_DIGEST} (kept by the lifecycle policy, whatever its age)`);
  });

  it("after ECS rolled the release back, deployed-<env> follows what runs again", async () => {
    rollout(service([deployment("ecs-svc/rollback", TD1, "PRIMARY", "IN_PROGRESS"), deployment("ecs-svc/new", TD2, "ACTIVE", "FAILED", { rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start." })]));
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).rejects.toThrow("deployment circuit breaker");
    // TD1 records no previous revision: rollback-<env> stays on it (nothing older is known).
    expect(retagged()).toEqual([...marks("deployed-staging", NEW_DIGEST), ...marks("rollback-staging", OLD_DIGEST), ...marks("deployed-staging", OLD_DIGEST)]);
  });

  it("rollback: both ends tagged during it, then rollback-<env> moves to what the restored revision replaced", async () => {
    const TD0 = TD1.replace(/:1$/, ":0");
    const ZERO_DIGEST = `sha256:${"c".repeat(64)}`;
    rollbackRollout();
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: TD1 }).resolves(revision(TD1, OLD_DIGEST, [{ key: RELEASE_TAG, value: OLD_COMMIT }, { key: PREVIOUS_TAG, value: TD0 }]));
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: TD0 }).resolves(revision(TD0, ZERO_DIGEST));
    mocked.server.answers = [OLD_COMMIT];
    await rollbackRelease(testRuntime(), target, options);
    expect(retagged()).toEqual([...marks("deployed-staging", OLD_DIGEST), ...marks("rollback-staging", NEW_DIGEST), ...marks("deployed-staging", OLD_DIGEST), ...marks("rollback-staging", ZERO_DIGEST)]);
  });

  it("a repository whose exclusions predate the tags fails before the service changes, pointing at setup-registry", async () => {
    rollout();
    ecr.on(PutImageCommand).rejects(Object.assign(new Error("tag is immutable"), { name: "ImageTagAlreadyExistsException", $metadata: {} }));
    const error = await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsError);
    expect((error as Error).message).toBe(
      'tag "deployed-staging-linux-amd64" cannot move in ECR repository "hono-ecr-service": its tag mutability exclusions predate it; run setup-registry once (it makes latest, latest-linux-*, deployed-*, rollback-* mutable)',
    );
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it("a deploy of what already runs puts the tags where they belong and changes nothing else", async () => {
    rollout();
    await deployRelease(testRuntime(), target, { digest: OLD_DIGEST }, options);
    expect(retagged()).toEqual(marks("deployed-staging", OLD_DIGEST));
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });
});
