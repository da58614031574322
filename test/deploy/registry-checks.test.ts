// ECR's scan and signature checks before deploy and rollback, against a mocked ECR client (moto has neither): every
// scan status of @aws-sdk/client-ecr 3.1169.0's ScanStatus (dist-types/models/enums.d.ts), a scan that never starts,
// the signing profile read from the registry's signing configuration (GetSigningConfiguration's SigningRule and
// WILDCARD_MATCH filters), the index's or every platform manifest's signature, the overrides and what they print.
import { DescribeImageScanFindingsCommand, DescribeImageSigningStatusCommand, GetSigningConfigurationCommand } from "@aws-sdk/client-ecr";
import { RegisterTaskDefinitionCommand, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AwsError } from "../../dagger/src/aws-errors.js";
import { deployRelease, rollbackRelease } from "../../dagger/src/deploy/deploy.js";
import type { DeployError } from "../../dagger/src/deploy/errors.js";
import { awaitScanFindings, FINAL_WITHOUT_RESULT, NOT_SCANNED_GRACE_MS, wildcardMatches } from "../../dagger/src/supply-chain/registry-checks.js";
import { baseAnswers, deployment, ecr, ecs, elb, NEW_COMMIT, NEW_DIGEST, OLD_COMMIT, OLD_DIGEST, rollbackRollout, rollout, service, SIGNING_PROFILE, startVersionServer, target, TD2, testRuntime, type VersionServer } from "../helpers/ecs-mocks.js";

const MINUTE = 60_000;
const options = { timeoutMs: 20 * MINUTE, checks: 1, severity: "CRITICAL" as const };
const ARM64 = `sha256:${"1".repeat(64)}`;
const AMD64 = `sha256:${"0".repeat(64)}`;
const OTHER_PROFILE = "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/someone_else";
const context = { region: "eu-west-1", repository: "hono-ecr-service" };
const changed = () => ({ registered: ecs.commandCalls(RegisterTaskDefinitionCommand).length, updated: ecs.commandCalls(UpdateServiceCommand).length });
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as DeployError);

let version: VersionServer;
beforeAll(async () => {
  version = await startVersionServer();
});
afterAll(() => version.close());
beforeEach(() => {
  version.answers = [NEW_COMMIT];
  baseAnswers(version.address);
});
afterEach(() => {
  ecs.reset();
  elb.reset();
  ecr.reset();
});

describe("ECR's scan: statuses after which no result comes end the wait at once", () => {
  it.each(Object.keys(FINAL_WITHOUT_RESULT))("%s: one call, the status and its meaning", async (status) => {
    ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: status as "FAILED", description: "ECR's own words" } });
    const runtime = testRuntime();
    const clock = { ...runtime, deadline: 20 * MINUTE };
    const result = await awaitScanFindings(runtime.clients.ecr, "hono-ecr-service", ARM64, "CRITICAL", clock, context);
    expect(result).toEqual({ scanned: false, digest: ARM64, status, meaning: `${FINAL_WITHOUT_RESULT[status]} (ECR's own words)` });
    expect(ecr.commandCalls(DescribeImageScanFindingsCommand)).toHaveLength(1);
    expect(runtime.clock.now).toBe(0);
  });

  it("LIMIT_EXCEEDED and IMAGE_ARCHIVED say what they mean", () => {
    expect(FINAL_WITHOUT_RESULT.LIMIT_EXCEEDED).toContain("a basic scan runs once per image per 24 hours");
    expect(FINAL_WITHOUT_RESULT.IMAGE_ARCHIVED).toBe("the image is archived and cannot be scanned: restore it first");
  });

  it("a scan that never starts (ScanNotFoundException) ends the wait after the grace, long before the deadline", async () => {
    ecr.on(DescribeImageScanFindingsCommand).rejects(Object.assign(new Error("no scan"), { name: "ScanNotFoundException", $metadata: {} }));
    const runtime = testRuntime();
    const result = await awaitScanFindings(runtime.clients.ecr, "hono-ecr-service", ARM64, "CRITICAL", { ...runtime, deadline: 60 * MINUTE }, context);
    expect(result).toMatchObject({ scanned: false, status: "NOT_SCANNED" });
    expect(result.scanned === false && result.meaning).toContain("ECR never scanned this image");
    expect(runtime.clock.now).toBe(NOT_SCANNED_GRACE_MS);
  });

  it("a scan still PENDING at the deadline has no result either", async () => {
    ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "PENDING" } });
    const runtime = testRuntime();
    const result = await awaitScanFindings(runtime.clients.ecr, "hono-ecr-service", ARM64, "CRITICAL", { ...runtime, deadline: 5 * MINUTE }, context);
    expect(result).toEqual({ scanned: false, digest: ARM64, status: "PENDING", meaning: "the scan did not complete before the deadline" });
  });

  it("an AccessDeniedException for inspector2:ListFindings (enhanced scanning) names that action, not ecr:DescribeImageScanFindings", async () => {
    const said = "User: arn:aws:sts::123456789012:assumed-role/deploy/x is not authorized to perform: inspector2:ListFindings on resource: arn:aws:inspector2:eu-west-1:123456789012:/findings/list";
    ecr.on(DescribeImageScanFindingsCommand).rejects(Object.assign(new Error(said), { name: "AccessDeniedException", $metadata: {} }));
    rollout();
    const error = await failure(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options));
    expect(error).toBeInstanceOf(AwsError);
    expect((error as Error).message).toMatch(/^AWS denied inspector2:ListFindings \(needed by ecr:DescribeImageScanFindings\) on repository "hono-ecr-service" in eu-west-1: grant inspector2:ListFindings to the IAM role/);
  });
});

describe("deploy and rollback without a scan result: refused, unless a reason is given (printed)", () => {
  it("SCAN_ELIGIBILITY_EXPIRED refuses a deploy, naming --allow-unscanned, before anything changes", async () => {
    ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "SCAN_ELIGIBILITY_EXPIRED" } });
    rollout();
    const error = await failure(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options));
    expect(error?.failure).toBe("not-scanned");
    expect(error?.message).toBe(
      `ECR has no scan result for ${ARM64}: SCAN_ELIGIBILITY_EXPIRED: ${FINAL_WITHOUT_RESULT.SCAN_ELIGIBILITY_EXPIRED}. Nothing was changed; to deploy anyway pass --allow-unscanned="<why the image is trusted unscanned>"`,
    );
    expect(changed()).toEqual({ registered: 0, updated: 0 });
  });

  it("--allow-unscanned deploys and prints why", async () => {
    ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "UNSUPPORTED_IMAGE" } });
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    const runtime = testRuntime();
    const report = await deployRelease(runtime, target, { commit: NEW_COMMIT }, { ...options, allowUnscanned: "the gate scanned this very image at publish" });
    expect(report.checks![0]).toBe(`deployed unscanned (ECR has no scan result for ${ARM64}: UNSUPPORTED_IMAGE: ${FINAL_WITHOUT_RESULT.UNSUPPORTED_IMAGE}), because: the gate scanned this very image at publish`);
    expect(runtime.lines).toContain(`staging: ${report.checks![0]}`);
  });

  it("a rollback to an image whose scan expired is refused naming the override, and goes ahead with it", async () => {
    ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "SCAN_ELIGIBILITY_EXPIRED" } });
    rollbackRollout();
    const error = await failure(rollbackRelease(testRuntime(), target, options));
    expect(error?.message).toContain('Nothing was changed; to roll back anyway pass --allow-unscanned="<why the image is trusted unscanned>"');
    expect(changed()).toEqual({ registered: 0, updated: 0 });

    ecs.reset();
    baseAnswers(version.address);
    ecr.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: "SCAN_ELIGIBILITY_EXPIRED" } });
    rollbackRollout();
    version.answers = [OLD_COMMIT];
    const report = await rollbackRelease(testRuntime(), target, { ...options, allowUnscanned: "incident: returning to the release that ran yesterday" });
    expect(report.commit).toBe(OLD_COMMIT);
    expect(report.checks![0]).toMatch(/^rolled back unscanned \(ECR has no scan result for .*SCAN_ELIGIBILITY_EXPIRED.*\), because: incident: returning/);
  });
});

describe("the signature: the registry's signing profile, on the index or on every platform manifest", () => {
  it("a signature by another profile does not count", async () => {
    ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: OTHER_PROFILE }] });
    rollout();
    const error = await failure(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options));
    expect(error?.failure).toBe("unsigned");
    expect(error?.message).toContain(`${NEW_DIGEST} has no signature by ${SIGNING_PROFILE} on the index or on every platform manifest (ECR reports ${NEW_DIGEST}: COMPLETE by ${OTHER_PROFILE}`);
  });

  it("an unsigned index whose every platform manifest is signed is accepted; one unsigned platform manifest refuses it", async () => {
    ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [] });
    for (const digest of [ARM64, AMD64]) ecr.on(DescribeImageSigningStatusCommand, { imageId: { imageDigest: digest } }).resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: SIGNING_PROFILE }] });
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    const report = await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options);
    expect(report.checks).toContain(`signed by ${SIGNING_PROFILE} (each of the 2 platform manifests)`);

    ecs.reset();
    baseAnswers(version.address);
    ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [] });
    ecr.on(DescribeImageSigningStatusCommand, { imageId: { imageDigest: ARM64 } }).resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: SIGNING_PROFILE }] });
    rollout();
    expect((await failure(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)))?.failure).toBe("unsigned");
  });

  it("a platform manifest being signed is waited for", async () => {
    ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [] });
    ecr.on(DescribeImageSigningStatusCommand, { imageId: { imageDigest: AMD64 } }).resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: SIGNING_PROFILE }] });
    ecr
      .on(DescribeImageSigningStatusCommand, { imageId: { imageDigest: ARM64 } })
      .resolvesOnce({ signingStatuses: [{ status: "IN_PROGRESS", signingProfileArn: SIGNING_PROFILE }] })
      .resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: SIGNING_PROFILE }] });
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    const runtime = testRuntime();
    const report = await deployRelease(runtime, target, { commit: NEW_COMMIT }, options);
    expect(report.checks).toContain(`signed by ${SIGNING_PROFILE} (each of the 2 platform manifests)`);
    expect(runtime.lines.some((line) => line.startsWith(`ECR signing of ${NEW_DIGEST}:`) && line.includes(`${ARM64}: IN_PROGRESS by ${SIGNING_PROFILE}`))).toBe(true);
  });

  it("no signing configuration for the repository refuses the image before reading any signature", async () => {
    ecr.on(GetSigningConfigurationCommand).rejects(Object.assign(new Error("none"), { name: "SigningConfigurationNotFoundException", $metadata: {} }));
    rollout();
    const error = await failure(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options));
    expect(error?.message).toBe(`the registry's signing configuration signs no image of "hono-ecr-service": configure signing once with setup-registry --signing-profile-arn=..., then publish the release again`);
    expect(ecr.commandCalls(DescribeImageSigningStatusCommand)).toHaveLength(0);
  });

  it("rules: no filter signs every repository; WILDCARD_MATCH's * matches any sequence of the whole name", async () => {
    expect(wildcardMatches("hono-*", "hono-ecr-service")).toBe(true);
    expect(wildcardMatches("*/production", "hono-ecr-service")).toBe(false);
    expect(wildcardMatches("hono.ecr", "hono-ecr")).toBe(false);
    ecr.on(GetSigningConfigurationCommand).resolves({ signingConfiguration: { rules: [{ signingProfileArn: OTHER_PROFILE, repositoryFilters: [{ filter: "other/*", filterType: "WILDCARD_MATCH" }] }, { signingProfileArn: SIGNING_PROFILE }] } });
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    expect((await deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, options)).checks).toContain(`signed by ${SIGNING_PROFILE} (the index ${NEW_DIGEST})`);
  });

  it("a rollback whose release was signed by a since-rotated profile is refused naming --allow-unsigned, and goes ahead with it, printed; deploy has no such override", async () => {
    ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: OTHER_PROFILE }] });
    rollbackRollout();
    const error = await failure(rollbackRelease(testRuntime(), target, options));
    expect(error?.failure).toBe("unsigned");
    expect(error?.message).toMatch(/Nothing was changed; to roll back anyway pass --allow-unsigned="<why>"$/);
    expect(changed()).toEqual({ registered: 0, updated: 0 });

    ecs.reset();
    baseAnswers(version.address);
    ecr.on(DescribeImageSigningStatusCommand).resolves({ signingStatuses: [{ status: "COMPLETE", signingProfileArn: OTHER_PROFILE }] });
    rollbackRollout();
    version.answers = [OLD_COMMIT];
    const report = await rollbackRelease(testRuntime(), target, { ...options, allowUnsigned: "incident: the profile was rotated after this release" });
    expect(report.checks!.at(-1)).toMatch(new RegExp(`^rolled back without a valid signature \\(${OLD_DIGEST} has no signature by .*\\), because: incident: the profile was rotated after this release$`));

    rollout();
    expect((await failure(deployRelease(testRuntime(), target, { commit: NEW_COMMIT }, { ...options, allowUnsigned: "never honoured by deploy" })))?.failure).toBe("unsigned");
  });
});
