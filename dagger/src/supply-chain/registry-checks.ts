/**
 * What ECR says about a pushed image before it is deployed: its own vulnerability scan (scan on push, or enhanced
 * scanning) and its signature (ECR managed signing with AWS Signer). Both are awaited, within the deploy's deadline.
 *
 * Modeled on @aws-sdk/client-ecr 3.1169.0's own types (dist-types/models/enums.d.ts `ScanStatus`, `SigningStatus`;
 * models_0.d.ts `ImageScanStatus`, `ImageSigningStatus` "each status corresponds to a signing profile",
 * `SigningConfiguration`, `SigningRule`, `SigningRepositoryFilter` `WILDCARD_MATCH`; errors.d.ts
 * `ScanNotFoundException`, `SigningConfigurationNotFoundException`) and the StartImageScan documentation (a basic scan
 * once per image per 24 hours, 100,000 a day).
 */
import {
  DescribeImageScanFindingsCommand,
  DescribeImageSigningStatusCommand,
  GetSigningConfigurationCommand,
  type ECRClient,
  type ImageScanFindings,
  type ImageSigningStatus,
  type SigningRule,
} from "@aws-sdk/client-ecr";
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
  scanned: true;
  digest: string;
  counts: Record<string, number>;
  /** Findings at or above the threshold: `SEVERITY id (package version)`. */
  serious: string[];
}

/** No scan result exists, and waiting will not bring one: the status and what it means. */
export interface NoScan {
  scanned: false;
  digest: string;
  status: string;
  meaning: string;
}

/** Statuses after which no scan result will come, and what each means for the person deploying. */
export const FINAL_WITHOUT_RESULT: Record<string, string> = {
  FAILED: "the scan failed",
  UNSUPPORTED_IMAGE: "ECR cannot scan this image (its operating system or media type is not supported)",
  SCAN_ELIGIBILITY_EXPIRED: "enhanced scanning's scan duration for this image has lapsed: it is no longer scanned",
  FINDINGS_UNAVAILABLE: "ECR has no findings for this image",
  LIMIT_EXCEEDED: "the scan was not run: a scan quota was reached (a basic scan runs once per image per 24 hours, at most 100,000 a day per registry)",
  IMAGE_ARCHIVED: "the image is archived and cannot be scanned: restore it first",
};

/** How long after the first check a scan that does not exist yet (ScanNotFoundException) is waited for. */
export const NOT_SCANNED_GRACE_MS = 10 * 60_000;

/** The findings of a complete scan at or above `threshold`, named; ECR's counts cover what the list leaves out. */
function summarize(digest: string, findings: ImageScanFindings | undefined, threshold: Severity): ScanSummary {
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
  const counted = atLeast.reduce((sum, severity) => sum + (counts[severity] ?? 0), 0);
  if (counted > serious.length) serious.push(`${counted - serious.length} more at ${threshold} or above (ECR's counts)`);
  return { scanned: true, digest, counts, serious };
}

/**
 * Waits for ECR's scan of `digest` and sums up what it found; a status after which no result will come ends the wait
 * at once (NoScan, with its meaning), and so does a scan that never started within NOT_SCANNED_GRACE_MS or the deadline.
 */
export async function awaitScanFindings(client: ECRClient, repository: string, digest: string, threshold: Severity, clock: CheckClock, context: CallContext): Promise<ScanSummary | NoScan> {
  const graceEnd = Math.min(clock.now() + NOT_SCANNED_GRACE_MS, clock.deadline);
  for (;;) {
    let findings: ImageScanFindings | undefined;
    let status: string | undefined;
    let description = "";
    try {
      const response = await client.send(new DescribeImageScanFindingsCommand({ repositoryName: repository, imageId: { imageDigest: digest } }));
      status = response.imageScanStatus?.status ?? "PENDING";
      description = response.imageScanStatus?.description ?? "";
      findings = response.imageScanFindings;
    } catch (error) {
      // No scan yet (scan on push has not started, or basic scanning never scans this image): wait, within the grace.
      if ((error as { name?: string }).name !== "ScanNotFoundException") throw translateAwsError(error, "ecr:DescribeImageScanFindings", context);
    }
    if (status === "COMPLETE" || status === "ACTIVE") return summarize(digest, findings, threshold);
    const meaning = status !== undefined ? FINAL_WITHOUT_RESULT[status] : undefined;
    if (status !== undefined && meaning !== undefined) return { scanned: false, digest, status, meaning: description ? `${meaning} (${description})` : meaning };
    if (status === undefined && clock.now() >= graceEnd) return { scanned: false, digest, status: "NOT_SCANNED", meaning: "ECR never scanned this image (no scan exists): is scan on push on for the repository and this platform?" };
    if (clock.now() >= clock.deadline) return { scanned: false, digest, status: status ?? "NOT_SCANNED", meaning: "the scan did not complete before the deadline" };
    clock.log(`ECR scan of ${digest}: ${status ?? "PENDING"}`);
    await clock.sleep(clock.pollMs);
  }
}

/** True when an ECR WILDCARD_MATCH filter (`*` any sequence) matches the whole repository name. */
export function wildcardMatches(filter: string, repository: string): boolean {
  const pattern = filter.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, "\\$&")).join(".*");
  return new RegExp(`^${pattern}$`).test(repository);
}

/**
 * The signing profiles the registry's signing configuration signs `repository` with: every rule with no filter (all
 * repositories) or a WILDCARD_MATCH filter matching it. None configured: an empty list.
 */
export async function expectedSigningProfiles(client: ECRClient, repository: string, context: CallContext): Promise<string[]> {
  let rules: SigningRule[] = [];
  try {
    rules = (await client.send(new GetSigningConfigurationCommand({}))).signingConfiguration?.rules ?? [];
  } catch (error) {
    if ((error as { name?: string }).name !== "SigningConfigurationNotFoundException") throw translateAwsError(error, "ecr:GetSigningConfiguration", context);
  }
  const matching = rules.filter((rule) => (rule.repositoryFilters ?? []).length === 0 || rule.repositoryFilters!.some((filter) => filter.filterType === "WILDCARD_MATCH" && wildcardMatches(filter.filter ?? "", repository)));
  return [...new Set(matching.map((rule) => rule.signingProfileArn).filter((arn): arn is string => Boolean(arn)))];
}

/** The image to check: the index (or single image) digest, and its platform images' digests (none for a single image). */
export interface SignedSubject {
  digest: string;
  platformDigests: string[];
}

/** A signature accepted: by which profile, on what. */
export interface Signature {
  profile: string;
  on: string;
}

const describeStatuses = (statuses: ImageSigningStatus[]) =>
  statuses.map((status) => `${status.status ?? "?"} by ${status.signingProfileArn ?? "?"}${status.status === "FAILED" ? ` (${status.failureCode ?? "?"}: ${status.failureReason ?? "?"})` : ""}`).join(", ") || "no signature";

/**
 * Waits until ECR reports a signature by an expected profile (`expected`, from the registry's signing configuration)
 * on the index, or on every platform manifest: ECR's documentation does not say which managed signing writes, so
 * either is accepted. A signature by any other profile does not count; a failure or no signature refuses the image.
 */
export async function awaitSignature(client: ECRClient, repository: string, subject: SignedSubject, expected: string[], clock: CheckClock, context: CallContext): Promise<Signature> {
  if (expected.length === 0) {
    throw new DeployError("unsigned", `the registry's signing configuration signs no image of "${repository}": configure signing once with setup-registry --signing-profile-arn=..., then publish the release again`);
  }
  const digests = [subject.digest, ...subject.platformDigests];
  for (;;) {
    const all = await Promise.all(
      digests.map(async (digest) => {
        const response = await awsCall("ecr:DescribeImageSigningStatus", context, () => client.send(new DescribeImageSigningStatusCommand({ repositoryName: repository, imageId: { imageDigest: digest } })));
        return { digest, statuses: response.signingStatuses ?? [] };
      }),
    );
    const ours = all.map(({ statuses }) => statuses.filter((status) => expected.includes(status.signingProfileArn ?? "")));
    const complete = (statuses: ImageSigningStatus[]) => statuses.find((status) => status.status === "COMPLETE");
    const [onIndex, ...onPlatforms] = ours.map(complete);
    if (onIndex) return { profile: onIndex.signingProfileArn ?? "?", on: `the index ${subject.digest}` };
    const [first] = onPlatforms;
    if (first && onPlatforms.every(Boolean)) return { profile: first.signingProfileArn ?? "?", on: `each of the ${onPlatforms.length} platform manifests` };
    const pending = ours.some((statuses) => statuses.some((status) => status.status === "IN_PROGRESS"));
    const found = all.map(({ digest, statuses }) => `${digest}: ${describeStatuses(statuses)}`).join("; ");
    const wanted = `signature by ${expected.join(" or ")} on the index or on every platform manifest`;
    if (!pending) {
      const failed = ours.flat().find((status) => status.status === "FAILED");
      if (failed) throw new DeployError("unsigned", `ECR failed to sign ${subject.digest} (${failed.failureCode ?? "?"}: ${failed.failureReason ?? "?"}): an unsigned image is not deployed`);
      throw new DeployError("unsigned", `${subject.digest} has no ${wanted} (ECR reports ${found}): publish the release again once signing is configured (setup-registry --signing-profile-arn=...)`);
    }
    if (clock.now() >= clock.deadline) throw new DeployError("unsigned", `ECR did not finish signing ${subject.digest} before the deadline (${found})`);
    clock.log(`ECR signing of ${subject.digest}: ${found}`);
    await clock.sleep(clock.pollMs);
  }
}
