// deploy, rollback and status where moto cannot go: rollouts that progress, fail, get rolled back by the circuit
// breaker or an alarm, or outlast the timeout (aws-sdk-client-mock, mocked ECS/ELB/ECR clients), with a fake clock and
// the /version check against a real loopback HTTP server.
import { DescribeStacksCommand, type StackStatus } from "@aws-sdk/client-cloudformation";
import { BatchGetImageCommand, DescribeImageScanFindingsCommand, DescribeImagesCommand, DescribeImageSigningStatusCommand } from "@aws-sdk/client-ecr";
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTagsForResourceCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  waitUntilServicesStable,
} from "@aws-sdk/client-ecs";
import { DescribeListenersCommand, DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { AwsError } from "../../dagger/src/aws-errors.js";
import { deployRelease, formatDeploy, rollbackRelease } from "../../dagger/src/deploy/deploy.js";
import { formatStatus, serviceStatus } from "../../dagger/src/deploy/status.js";
import { PREVIOUS_TAG, registrationInput, RELEASE_TAG } from "../../dagger/src/deploy/ecs.js";
import { DeployError } from "../../dagger/src/deploy/errors.js";
import { freezeTag } from "../../dagger/src/deploy/order.js";
import { InputError } from "../../dagger/src/ecr/validate.js";
import { DEPLOY_ACTIONS } from "../../infra/deploy-permissions.js";
import {
  afterStackUpdate,
  strandedBlueGreen,
  baseAnswers,
  cloudformation,
  deployment,
  ecr,
  ecs,
  elb,
  INDEX,
  NEW_COMMIT,
  NEW_DIGEST,
  OLD_COMMIT,
  OLD_DIGEST,
  OLD_PUSHED,
  REGISTRY,
  revision,
  rollbackRollout,
  rollout,
  service,
  SIGNING_PROFILE,
  target,
  TD1,
  TD2,
  testRuntime,
  useMockedDeploy,
} from "../helpers/ecs-mocks.js";
import { iamActionOf, iamActionsOf } from "../helpers/iam.js";
import { FAKE_CREDENTIALS } from "../helpers/moto.js";

const MINUTE = 60_000;
const mocked = useMockedDeploy();

const options = { timeoutMs: 20 * MINUTE, checks: 3, severity: "CRITICAL" as const };
const changed = () => ({ registered: ecs.commandCalls(RegisterTaskDefinitionCommand).length, updated: ecs.commandCalls(UpdateServiceCommand).length });


describe("deploy: success only when the release serves", () => {
  it("follows IN_PROGRESS to SUCCESSFUL, checks the new tasks' health and /version, printing progress", async () => {
    rollout(
      service([deployment("ecs-svc/new", TD2, "PRIMARY", "IN_PROGRESS", { runningCount: 1, pendingCount: 1 }), deployment("ecs-svc/old", TD1, "ACTIVE", "COMPLETED")], [
        { id: "e1", message: "(service web) has started 2 tasks: (task t1) (task t2)." },
        { id: "e0", message: "(service web) has reached a steady state." },
      ]),
      service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED", { runningCount: 2 })], [{ id: "e2", message: "(service web) has reached a steady state." }]),
    );
    mocked.server.answers = [OLD_COMMIT, OLD_COMMIT, NEW_COMMIT];
    const runtime = testRuntime();
    const report = await deployRelease(runtime, target, { commit: NEW_COMMIT }, options);
    expect(report).toMatchObject({ environment: "staging", commit: NEW_COMMIT, image: `${REGISTRY}/hono-ecr-service@${NEW_DIGEST}`, taskDefinition: TD2, previousTaskDefinition: TD1, url: `http://${mocked.server.address}`, unchanged: false });
    expect(runtime.lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`registered ${TD2}`),
        "service deployment sd-new: IN_PROGRESS, running 1 of 2, pending 1, failed 0",
        expect.stringContaining("has started 2 tasks"),
        "service deployment sd-new: SUCCESSFUL, running 2 of 2, pending 0, failed 0",
        "target group: the 2 new task(s) are healthy (10.0.1.5, 10.0.2.6)",
        `GET http://${mocked.server.address}/version: 3 answers in a row report ${NEW_COMMIT}`,
      ]),
    );
    // The old commit answered twice first: the count started over, and 3 new answers followed.
    expect(mocked.server.requests).toBe(5);
    expect(ecs.commandCalls(UpdateServiceCommand)[0]!.args[0].input).toEqual({ cluster: "hono-ecr-service-staging", service: "web", taskDefinition: TD2 });
    expect(formatDeploy(report, "deployed")).toMatch(new RegExp(`^deployed ${NEW_COMMIT} to staging in \\dm\\d\\ds\\n`));
  });

  it("registers a revision that differs from the running one only in the image (and the two deploy tags)", async () => {
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    await deployRelease(testRuntime(), target, { digest: NEW_DIGEST }, options);
    const input = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    const current = revision(TD1, OLD_DIGEST).taskDefinition;
    expect(input).toEqual({
      family: current.family,
      taskRoleArn: current.taskRoleArn,
      executionRoleArn: current.executionRoleArn,
      networkMode: "awsvpc",
      requiresCompatibilities: ["FARGATE"],
      cpu: "256",
      memory: "512",
      runtimePlatform: current.runtimePlatform,
      containerDefinitions: [{ ...current.containerDefinitions[0], image: `${REGISTRY}/hono-ecr-service@${NEW_DIGEST}` }],
      tags: [
        { key: RELEASE_TAG, value: NEW_COMMIT },
        { key: PREVIOUS_TAG, value: TD1 },
      ],
    });
    expect(registrationInput(revision(TD1, OLD_DIGEST), "service", "x", "c").containerDefinitions![0]!.image).toBe("x");
    expect(() => registrationInput(revision(TD1, OLD_DIGEST), "other", "x", "c")).toThrow('has no container named "other"');
    // Only the deploy's own tags: never the stack's aws: tags (reserved; RegisterTaskDefinition refuses them), nor any other.
    const stackRevision = revision(TD2, NEW_DIGEST, [
      { key: "aws:cloudformation:stack-name", value: "HonoService-staging" },
      { key: "team", value: "web" },
      { key: RELEASE_TAG, value: OLD_COMMIT },
      { key: PREVIOUS_TAG, value: TD1 },
    ]);
    expect(registrationInput(stackRevision, "service", "x", NEW_COMMIT).tags).toEqual([
      { key: RELEASE_TAG, value: NEW_COMMIT },
      { key: PREVIOUS_TAG, value: TD2 },
    ]);
  });

  it("a deploy of the digest already running changes nothing and says so", async () => {
    rollout();
    ecr.on(DescribeImagesCommand, { imageIds: [{ imageDigest: OLD_DIGEST }] }).resolves({ imageDetails: [{ imageDigest: OLD_DIGEST, imageTags: [OLD_COMMIT] }] });
    const report = await deployRelease(testRuntime(), target, { digest: OLD_DIGEST }, options);
    expect(report.unchanged).toBe(true);
    expect(formatDeploy(report, "deployed")).toBe(`staging already runs ${OLD_COMMIT} (${REGISTRY}/hono-ecr-service@${OLD_DIGEST}, ${TD1}): nothing to do`);
    expect(changed()).toEqual({ registered: 0, updated: 0 });
  });
});

describe("deploy: each failure names its cause and exits non-zero", () => {
  it("a circuit-breaker rollback fails with the stopped tasks' reasons, although ECS's services-stable waiter says success", async () => {
    const rolledBack = service([deployment("ecs-svc/rollback", TD1, "PRIMARY", "COMPLETED")], [{ id: "e3", message: "(service web) rolling back to deployment ecs-svc/old." }]);
    rollout(
      service([deployment("ecs-svc/new", TD2, "PRIMARY", "IN_PROGRESS", { failedTasks: 2 }), deployment("ecs-svc/old", TD1, "ACTIVE", "COMPLETED")]),
      service([deployment("ecs-svc/rollback", TD1, "PRIMARY", "IN_PROGRESS"), deployment("ecs-svc/new", TD2, "ACTIVE", "FAILED", { rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start." })]),
      rolledBack,
    );
    ecs.on(ListTasksCommand, { desiredStatus: "STOPPED" }).resolves({ taskArns: ["arn:aws:ecs:eu-west-1:123456789012:task/c/t9"] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [{ taskArn: "arn:aws:ecs:eu-west-1:123456789012:task/c/t9", taskDefinitionArn: TD2, stoppedReason: "Essential container in task exited", containers: [{ reason: "CannotStartContainerError: exec format error" }] }],
    });
    const error = await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).failure).toBe("circuit-breaker");
    expect((error as DeployError).message).toBe(
      "ECS rolled the release back (deployment circuit breaker): ECS deployment circuit breaker: tasks failed to start.; service deployment sd-new is ROLLBACK_IN_PROGRESS; " +
        `stopped tasks: t9: Essential container in task exited (CannotStartContainerError: exec format error); the service goes back to ${TD1}`,
    );
    // What a deploy built on ECS's own waiter would have said: the rolled-back service is "stable".
    ecs.on(DescribeServicesCommand).resolves(rolledBack);
    const waited = await waitUntilServicesStable({ client: new ECSClient({ region: "eu-west-1", credentials: FAKE_CREDENTIALS }), maxWaitTime: 5, minDelay: 1 }, { cluster: target.cluster, services: ["web"] });
    expect(waited.state).toBe("SUCCESS");
  });

  it("a deployment alarm's rollback names the alarm", async () => {
    rollout(
      service([
        deployment("ecs-svc/rollback", TD1, "PRIMARY", "IN_PROGRESS"),
        deployment("ecs-svc/new", TD2, "ACTIVE", "FAILED", { rolloutStateReason: "ECS deployment ecs-svc/new has been rolled back because alarm(s) hono-ecr-service staging Target5xxRate are in ALARM state." }),
      ]),
    );
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("deployment-alarm");
    expect(error.message).toContain("ECS rolled the release back (a deployment alarm fired): ECS deployment ecs-svc/new has been rolled back because alarm(s) hono-ecr-service staging Target5xxRate are in ALARM state.");
    expect(ecs.commandCalls(ListTasksCommand).filter((call) => call.args[0].input.desiredStatus === "STOPPED")).toHaveLength(0);
  });

  it("a rollout that outlasts the timeout fails after it, saying ECS carries on", async () => {
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "IN_PROGRESS", { runningCount: 1 }), deployment("ecs-svc/old", TD1, "ACTIVE", "COMPLETED")]));
    const runtime = testRuntime();
    const error = (await deployRelease(runtime, target, { commit: NEW_COMMIT }, { ...options, timeoutMs: 5 * MINUTE }).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("timeout");
    expect(error.message).toBe(
      "the rollout did not finish within 5 min: service deployment sd-new: IN_PROGRESS, running 1 of 2, pending 0, failed 0. ECS carries on with it (and rolls it back if the circuit breaker or an alarm trips): follow it with the status function",
    );
    expect(runtime.clock.now).toBe(5 * MINUTE);
  });

  it("an image missing in ECR fails before anything changes", async () => {
    ecr.on(DescribeImagesCommand, { imageIds: [{ imageTag: NEW_COMMIT }] }).rejects(Object.assign(new Error("not found"), { name: "ImageNotFoundException", $metadata: {} }));
    rollout();
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("image-missing");
    expect(error.message).toBe(`no image tagged ${NEW_COMMIT} in ECR repository "hono-ecr-service" in eu-west-1: publish it first (dagger call aws ... publish), or check the lifecycle policy has not expired it`);
    expect(changed()).toEqual({ registered: 0, updated: 0 });
  });

  it("an image without the tasks' architecture fails before anything changes", async () => {
    ecr.on(BatchGetImageCommand).resolves({ images: [{ imageManifest: INDEX(["linux/amd64"]) }] });
    rollout();
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("wrong-architecture");
    expect(error.message).toContain(`image ${NEW_DIGEST} has linux/amd64, but staging runs linux/arm64 tasks`);
    expect(changed()).toEqual({ registered: 0, updated: 0 });
  });

  it("a single-platform image is checked by its platform tag", async () => {
    ecr.on(BatchGetImageCommand).resolves({ images: [{ imageManifest: JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", layers: [] }) }] });
    ecr.on(DescribeImagesCommand, { imageIds: [{ imageTag: NEW_COMMIT }] }).resolves({ imageDetails: [{ imageDigest: NEW_DIGEST, imageTags: [NEW_COMMIT, `${NEW_COMMIT}-linux-amd64`] }] });
    rollout();
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("wrong-architecture");
    expect(error.message).toBe(`image ${NEW_DIGEST} is a linux/amd64 image, but staging runs linux/arm64 tasks`);
    expect(changed()).toEqual({ registered: 0, updated: 0 });
  });

  it("never races another deploy: a deployment under way is refused before anything changes", async () => {
    ecs.on(DescribeServicesCommand).resolves(service([deployment("ecs-svc/other", TD2, "PRIMARY", "IN_PROGRESS"), deployment("ecs-svc/old", TD1, "ACTIVE", "COMPLETED")]));
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("in-progress");
    expect(error.message).toMatch(/^another deployment of staging is under way: ecs-svc\/other \(PRIMARY, IN_PROGRESS, .*task-definition\/hono-ecr-service-staging:2.*; nothing was changed$/);
    expect(changed()).toEqual({ registered: 0, updated: 0 });
  });

  it.each(["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "CREATE_IN_PROGRESS"])("never races provision: the stack %s refuses deploy and rollback before anything changes", async (status) => {
    cloudformation.on(DescribeStacksCommand, { StackName: "HonoService-staging" }).resolves({ Stacks: [{ StackName: "HonoService-staging", StackStatus: status as StackStatus, CreationTime: new Date(0) }] });
    rollout();
    for (const run of [() => deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options), () => rollbackRelease(testRuntime(), target, options)]) {
      const error = (await run().catch((e: unknown) => e)) as DeployError;
      expect(error.failure).toBe("in-progress");
      expect(error.message).toBe(`stack HonoService-staging is ${status}: CloudFormation is changing staging (provision?). Wait for it to end before deploying; nothing was changed`);
    }
    expect(changed()).toEqual({ registered: 0, updated: 0 });
  });

  it("an HTTPS environment without --url is refused before anything changes (the certificate names the domain)", async () => {
    elb.on(DescribeListenersCommand).resolves({ Listeners: [{ Port: 443, Protocol: "HTTPS" }, { Port: 80, Protocol: "HTTP" }] });
    rollout();
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).rejects.toThrow(InputError);
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).rejects.toThrow("pass --url=https://<your domain>");
    expect(changed()).toEqual({ registered: 0, updated: 0 });
  });

  it("a completed rollout whose /version keeps answering the old commit fails: not serving", async () => {
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    mocked.server.answers = [OLD_COMMIT];
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, { ...options, timeoutMs: 2 * MINUTE }).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("not-serving");
    expect(error.message).toBe(`GET http://${mocked.server.address}/version did not report ${NEW_COMMIT} 3 times in a row before the deadline; last: commit "${OLD_COMMIT}"`);
  });

  it("new tasks that never turn healthy in the target group fail, with the target group's reason", async () => {
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    elb.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ Target: { Id: "10.0.1.5" }, TargetHealth: { State: "unhealthy", Reason: "Target.ResponseCodeMismatch" } }] });
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, { ...options, timeoutMs: 2 * MINUTE }).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("not-serving");
    expect(error.message).toBe("the new tasks are not healthy in the target group: 10.0.1.5: unhealthy (Target.ResponseCodeMismatch); 10.0.2.6: not registered");
  });

  it("throttling that outlasts the SDK's retries fails with one line naming the action", async () => {
    ecs.on(DescribeServicesCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException", $metadata: { attempts: 5 } }));
    const error = await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsError);
    expect((error as Error).message).toBe('ECS throttled ecs:DescribeServices on service "web" in cluster "hono-ecr-service-staging" in eu-west-1 and 5 attempts were used up: retry later');
  });

  it("a missing service points at the stack to deploy", async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: "MISSING" }] });
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).rejects.toThrow(
      'ECS has no active service "web" in cluster "hono-ecr-service-staging" in eu-west-1 (MISSING): deploy the runtime stack first: npx cdk deploy HonoService-staging',
    );
  });
});

describe("deploy: ECR's scan and the signature, before anything changes", () => {
  const findingsAbove = {
    imageScanStatus: { status: "COMPLETE" as const },
    imageScanFindings: {
      findingSeverityCounts: { CRITICAL: 1, LOW: 3 },
      findings: [{ name: "CVE-2026-30001", severity: "CRITICAL" as const, attributes: [{ key: "package_name", value: "zlib" }, { key: "package_version", value: "1.3.1-r2" }] }],
    },
  };

  it("waits for a scan that has not started, then is pending, to complete", async () => {
    ecr.on(DescribeImageScanFindingsCommand)
      .rejectsOnce(Object.assign(new Error("no scan"), { name: "ScanNotFoundException", $metadata: {} }))
      .resolvesOnce({ imageScanStatus: { status: "IN_PROGRESS" } })
      .resolves({ imageScanStatus: { status: "COMPLETE" }, imageScanFindings: { findingSeverityCounts: { HIGH: 1 } } });
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    const runtime = testRuntime();
    const report = await deployRelease(runtime, target, { commit: NEW_COMMIT }, options);
    expect(report.checks).toEqual([`ECR scan of sha256:${"1".repeat(64)}: 1 HIGH`, `signed by ${SIGNING_PROFILE} (the index ${NEW_DIGEST})`]);
    expect(runtime.lines).toEqual(expect.arrayContaining([`ECR scan of sha256:${"1".repeat(64)}: PENDING`, `ECR scan of sha256:${"1".repeat(64)}: IN_PROGRESS`]));
    // The scan read is the platform image the ARM64 tasks pull, not the index.
    expect(ecr.commandCalls(DescribeImageScanFindingsCommand).at(-1)!.args[0].input.imageId).toEqual({ imageDigest: `sha256:${"1".repeat(64)}` });
  });

  it("findings at or above the threshold refuse the image, naming them, before anything changes", async () => {
    ecr.on(DescribeImageScanFindingsCommand).resolves(findingsAbove);
    rollout();
    const error = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("vulnerable");
    expect(error.message).toBe(
      `ECR's scan of sha256:${"1".repeat(64)} found 1 at CRITICAL or above: CRITICAL CVE-2026-30001 (zlib 1.3.1-r2). Nothing was changed; to deploy anyway pass --allow-vulnerable="<why the risk is accepted>"`,
    );
    expect(changed()).toEqual({ registered: 0, updated: 0 });
    // Below the threshold: at LOW the LOW findings would count too, at CRITICAL only the critical one does.
    ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "COMPLETE" }, imageScanFindings: { findingSeverityCounts: { MEDIUM: 4 } } });
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).resolves.toMatchObject({ unchanged: false });
  });

  it("--allow-vulnerable deploys anyway and puts the reason in the report", async () => {
    ecr.on(DescribeImageScanFindingsCommand).resolves(findingsAbove);
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    const report = await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, { ...options, allowVulnerable: "zlib is not reachable from the service's code" });
    expect(formatDeploy(report, "deployed")).toContain(
      "checked:         deployed despite 1 finding(s) at CRITICAL or above (CRITICAL CVE-2026-30001 (zlib 1.3.1-r2)), because: zlib is not reachable from the service's code",
    );
  });

  it("an unsigned image is refused; one being signed is waited for; a failed signature is refused", async () => {
    ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [] });
    rollout();
    const unsigned = (await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options).catch((e: unknown) => e)) as DeployError;
    expect(unsigned.failure).toBe("unsigned");
    expect(unsigned.message).toContain(`${NEW_DIGEST} has no signature by ${SIGNING_PROFILE} on the index or on every platform manifest (ECR reports ${NEW_DIGEST}: no signature; `);
    expect(changed()).toEqual({ registered: 0, updated: 0 });

    ecr.on(DescribeImageSigningStatusCommand).resolvesOnce({ signingStatuses: [{ status: "IN_PROGRESS", signingProfileArn: SIGNING_PROFILE }] }).resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: SIGNING_PROFILE }] });
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    expect((await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).checks).toContain(`signed by ${SIGNING_PROFILE} (the index ${NEW_DIGEST})`);

    ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [{ status: "FAILED", signingProfileArn: SIGNING_PROFILE, failureCode: "SIGNING_PROFILE_REVOKED", failureReason: "the profile was revoked" }] });
    rollout();
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).rejects.toThrow(`ECR failed to sign ${NEW_DIGEST} (SIGNING_PROFILE_REVOKED: the profile was revoked): an unsigned image is not deployed`);
  });
});

describe("rollback and status", () => {
  it("rolls back to the revision the running one replaced, with the same checks", async () => {
    rollbackRollout();
    mocked.server.answers = [OLD_COMMIT];
    const report = await rollbackRelease(testRuntime(), target, options);
    expect(report).toMatchObject({ commit: OLD_COMMIT, taskDefinition: TD1, previousTaskDefinition: TD2, unchanged: false });
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecs.commandCalls(UpdateServiceCommand)[0]!.args[0].input.taskDefinition).toBe(TD1);
    expect(formatDeploy(report, "rolled back")).toMatch(new RegExp(`^rolled back ${OLD_COMMIT} to staging in `));
  });

  it("refuses when the running revision records no previous one", async () => {
    rollout();
    const error = (await rollbackRelease(testRuntime(), target, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("no-previous");
    expect(error.message).toContain(`staging runs ${TD1}, and no earlier ACTIVE revision of hono-ecr-service-staging ran another release (none is recorded: deploy did not register the running one)`);
  });

  it("status says what runs, for a person and as JSON", async () => {
    ecs.on(DescribeServicesCommand).resolves(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED", { rolloutStateReason: "ECS deployment ecs-svc/new completed." })], [{ id: "e", message: "steady" }]));
    const report = await serviceStatus(testRuntime(), target);
    expect(report).toMatchObject({ environment: "staging", commit: NEW_COMMIT, digest: NEW_DIGEST, taskDefinition: TD2, running: 2, desired: 2 });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    const text = formatStatus(report);
    expect(text).toContain(`release:         ${NEW_COMMIT}`);
    expect(text).toContain("deployment:      ecs-svc/new PRIMARY COMPLETED (ECS deployment ecs-svc/new completed.)");
  });
});

describe("the deploy role's permissions (infra/deploy-permissions.ts) are the calls deploy, rollback and status make", () => {
  /** Every AWS action the mocked clients were asked for so far, as IAM names it. */
  const actionsCalled = () =>
    new Set([
      ...ecs.calls().map((call) => iamActionOf("ecs", call.args[0])),
      ...elb.calls().map((call) => iamActionOf("elasticloadbalancing", call.args[0])),
      ...ecr.calls().flatMap((call) => iamActionsOf("ecr", call.args[0])),
      ...cloudformation.calls().map((call) => iamActionOf("cloudformation", call.args[0])),
    ]);

  it("a deploy that succeeds, one the circuit breaker rolls back, a status call and a rollback after a stack update call exactly the listed actions", async () => {
    const seen = new Set<string>();
    const collect = () => {
      for (const action of actionsCalled()) seen.add(action);
    };
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options);
    const registered = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    collect();

    ecs.reset();
    baseAnswers(mocked.server.address);
    rollout(service([deployment("ecs-svc/rollback", TD1, "PRIMARY", "IN_PROGRESS"), deployment("ecs-svc/new", TD2, "ACTIVE", "FAILED", { rolloutStateReason: "circuit breaker" })]));
    ecs.on(ListTasksCommand, { desiredStatus: "STOPPED" }).resolves({ taskArns: ["t9"] });
    await expect(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).rejects.toThrow(DeployError);
    collect();

    ecs.reset();
    baseAnswers(mocked.server.address);
    ecs.on(DescribeServicesCommand).resolves(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    await serviceStatus(testRuntime(), target);
    collect();

    // status of a blue/green service reads the production rule's weights.
    ecs.reset();
    elb.reset();
    baseAnswers(mocked.server.address);
    strandedBlueGreen();
    await serviceStatus(testRuntime(), target);
    collect();

    // A rollback after a stack update: its fallback lists the family's revisions.
    ecs.reset();
    baseAnswers(mocked.server.address);
    afterStackUpdate();
    mocked.server.answers = [OLD_COMMIT];
    await rollbackRelease(testRuntime(), target, options);
    collect();

    // A deploy that lifts a rollback's freeze (the rollback that sets one is in test/deploy/order.test.ts).
    ecs.reset();
    baseAnswers(mocked.server.address);
    ecs.on(ListTagsForResourceCommand).resolves({ tags: [freezeTag({ digest: OLD_DIGEST, pushedAt: OLD_PUSHED })] });
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    mocked.server.answers = [NEW_COMMIT];
    await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options);
    collect();

    // Registering with tags needs ecs:TagResource (also called itself: the rollback's freeze on the service), and a
    // revision with roles needs iam:PassRole for them.
    expect(registered.tags!.map((tag) => tag.key)).toEqual([RELEASE_TAG, PREVIOUS_TAG]);
    expect([registered.taskRoleArn, registered.executionRoleArn]).toEqual([expect.stringMatching(/:role\/hono-ecr-service-staging-task$/), expect.stringMatching(/:role\/hono-ecr-service-staging-execution$/)]);
    const implied = ["iam:PassRole"];
    expect([...seen].sort()).toEqual(DEPLOY_ACTIONS.filter((action) => !implied.includes(action)).sort());
  });
});
