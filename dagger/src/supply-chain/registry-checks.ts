/**
 * What ECR says about a pushed image before it is deployed: its own vulnerability scan (scan on push, or enhanced
 * scanning) and its signature (ECR managed signing with AWS Signer). Both are awaited, within the deploy's deadline.
 */
import { DescribeImageScanFindingsCommand, DescribeImageSigningStatusCommand, type ECRClient, type ImageScanFindings } from "@aws-sdk/client-ecr";
import { awsCall, translateAwsError, type CallContext } from "../aws-errors.js";
import { DeployError } from "../deploy/errors.js";
import type { Severity } from "./vulnerabilities.js";

/** Time the checks may take, and the clock they read. */
export interface CheckClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: (line: string) => void;
  pollMs: number;
  deadline: number;
}

/** ECR's severities, lowest first; UNDEFINED and INFORMATIONAL never block. */
const ECR_SEVERITIES = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/** The scan of one image, once complete: the counts at or above `threshold`, and the findings' names. */
export interface ScanSummary {
  digest: string;
  counts: Record<string, number>;
  /** Findings at or above the threshold: `SEVERITY id (package version)`. */
  serious: string[];
}

/** Waits for ECR's scan of `digest` to complete and sums up what it found. */
export async function awaitScanFindings(client: ECRClient, repository: string, digest: string, threshold: Severity, clock: CheckClock, context: CallContext): Promise<ScanSummary> {
  for (;;) {
    let findings: ImageScanFindings | undefined;
    let status = "PENDING";
    let description = "";
    try {
      const response = await client.send(new DescribeImageScanFindingsCommand({ repositoryName: repository, imageId: { imageDigest: digest } }));
      status = response.imageScanStatus?.status ?? "PENDING";
      description = response.imageScanStatus?.description ?? "";
      findings = response.imageScanFindings;
    } catch (error) {
      // No scan yet (scan on push has not started): wait like for PENDING.
      if ((error as { name?: string }).name !== "ScanNotFoundException") throw translateAwsError(error, "ecr:DescribeImageScanFindings", context);
    }
    if (status === "COMPLETE" || status === "ACTIVE") {
      const counts: Record<string, number> = { ...findings?.findingSeverityCounts };
      const atLeast = ECR_SEVERITIES.slice(ECR_SEVERITIES.indexOf(threshold));
      const serious = [
        ...(findings?.findings ?? []).filter((finding) => atLeast.includes(finding.severity ?? "")).map((finding) => {
          const attribute = (key: string) => finding.attributes?.find((candidate) => candidate.key === key)?.value;
          return `${finding.severity} ${finding.name} (${attribute("package_name") ?? "?"} ${attribute("package_version") ?? "?"})`;
        }),
        ...(findings?.enhancedFindings ?? [])
          .filter((finding) => atLeast.includes(finding.severity ?? ""))
          .map((finding) => `${finding.severity} ${finding.packageVulnerabilityDetails?.vulnerabilityId ?? finding.title ?? "?"} (${finding.packageVulnerabilityDetails?.vulnerablePackages?.map((p) => `${p.name} ${p.version}`).join(", ") ?? "?"})`),
      ];
      // A scan that lists only counts (more findings than returned) still blocks on the counts.
      const counted = atLeast.reduce((sum, severity) => sum + (counts[severity] ?? 0), 0);
      if (counted > serious.length) serious.push(`${counted - serious.length} more at ${threshold} or above (ECR's counts)`);
      return { digest, counts, serious };
    }
    if (status === "FAILED" || status === "UNSUPPORTED_IMAGE" || status === "SCAN_ELIGIBILITY_EXPIRED" || status === "FINDINGS_UNAVAILABLE") {
      throw new DeployError("not-scanned", `ECR could not scan ${digest} (${status}${description ? `: ${description}` : ""}): no scan result to check the release against`);
    }
    if (clock.now() >= clock.deadline) throw new DeployError("not-scanned", `ECR's scan of ${digest} did not complete before the deadline (status ${status})`);
    clock.log(`ECR scan of ${digest}: ${status}`);
    await clock.sleep(clock.pollMs);
  }
}

/** Waits until ECR reports `digest` signed (COMPLETE); a failed or missing signature refuses the image. */
export async function awaitSignature(client: ECRClient, repository: string, digest: string, clock: CheckClock, context: CallContext): Promise<string> {
  for (;;) {
    const response = await awsCall("ecr:DescribeImageSigningStatus", context, () => client.send(new DescribeImageSigningStatusCommand({ repositoryName: repository, imageId: { imageDigest: digest } })));
    const statuses = response.signingStatuses ?? [];
    const signed = statuses.find((status) => status.status === "COMPLETE");
    if (signed) return signed.signingProfileArn ?? "?";
    const failed = statuses.find((status) => status.status === "FAILED");
    if (failed) throw new DeployError("unsigned", `ECR failed to sign ${digest} (${failed.failureCode ?? "?"}: ${failed.failureReason ?? "?"}): an unsigned image is not deployed`);
    if (statuses.length === 0) {
      throw new DeployError("unsigned", `${digest} has no signature in ECR: configure signing once with setup-registry --signing-profile-arn=..., then publish the release again`);
    }
    if (clock.now() >= clock.deadline) throw new DeployError("unsigned", `ECR did not finish signing ${digest} before the deadline`);
    clock.log(`ECR signing of ${digest}: ${statuses.map((status) => status.status).join(", ")}`);
    await clock.sleep(clock.pollMs);
  }
}
