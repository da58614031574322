/**
 * The vulnerability gate's decisions, from Trivy's JSON report (`trivy ... --format json`, schema version 2) and the
 * repository's allow-list. Plain TypeScript: the scanner runs in a container (./scan.ts), this decides.
 */
import { InputError } from "../ecr/validate.js";

/** Trivy's severities, lowest first. */
export const SEVERITIES = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Where the allow-list lives in the repository. */
export const ALLOWLIST_PATH = "security/vulnerability-allowlist.json";

/** One vulnerability of one package, as the gate reports it. */
export interface Finding {
  id: string;
  severity: Severity;
  pkg: string;
  installed: string;
  /** Empty when no fixed version exists. */
  fixed: string;
  /** What was scanned: `image (alpine 3.24.0)`, `package-lock.json`, ... */
  target: string;
  title?: string;
}

/** An accepted vulnerability: why, and until when. */
export interface AllowListEntry {
  id: string;
  /** Only this package (default: every package with `id`). */
  package?: string;
  reason: string;
  /** YYYY-MM-DD: from that day on the entry no longer applies, and the gate fails until it is renewed or removed. */
  expires: string;
}

interface TrivyReport {
  SchemaVersion?: number;
  Results?: { Target?: string; Vulnerabilities?: { VulnerabilityID?: string; PkgName?: string; InstalledVersion?: string; FixedVersion?: string; Severity?: string; Title?: string }[] | null }[] | null;
}

/** The findings of a Trivy JSON report; a report in another format fails, saying so. */
export function parseTrivyReport(json: string): Finding[] {
  let report: TrivyReport;
  try {
    report = JSON.parse(json) as TrivyReport;
  } catch {
    throw new Error("the scanner's report is not JSON");
  }
  if (report.SchemaVersion !== 2) throw new Error(`the scanner's report has schema version ${String(report.SchemaVersion)}, expected Trivy's 2`);
  return (report.Results ?? []).flatMap((result) =>
    (result.Vulnerabilities ?? []).map((vulnerability) => ({
      id: vulnerability.VulnerabilityID ?? "?",
      severity: (SEVERITIES as readonly string[]).includes(vulnerability.Severity ?? "") ? (vulnerability.Severity as Severity) : "UNKNOWN",
      pkg: vulnerability.PkgName ?? "?",
      installed: vulnerability.InstalledVersion ?? "?",
      fixed: vulnerability.FixedVersion ?? "",
      target: result.Target ?? "?",
      ...(vulnerability.Title ? { title: vulnerability.Title } : {}),
    })),
  );
}

/** A severity argument, upper-cased; anything else is refused naming the accepted values. */
export function validateSeverity(severity: string): Severity {
  const upper = severity.toUpperCase();
  if (!(SEVERITIES as readonly string[]).includes(upper) || upper === "UNKNOWN") throw new InputError(`--severity=${JSON.stringify(severity)} is invalid: expected one of LOW, MEDIUM, HIGH, CRITICAL`);
  return upper as Severity;
}

// CVE and GHSA ids in their exact forms; other databases' (RUSTSEC-2024-0001, GO-2024-1234) by the catch-all, which
// may not start with CVE- or GHSA- (or a malformed CVE-2026-123 would pass through it).
const VULNERABILITY_ID = /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|(?!CVE-|GHSA-)[A-Z]+-\d{4}-[\w-]+)$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The allow-list file, each entry checked: an id, a reason, a real expiry date. */
export function parseAllowList(text: string): AllowListEntry[] {
  let parsed: { entries?: unknown };
  try {
    parsed = JSON.parse(text) as { entries?: unknown };
  } catch (error) {
    throw new InputError(`${ALLOWLIST_PATH} is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed.entries)) throw new InputError(`${ALLOWLIST_PATH} must be {"entries": [...]}`);
  return parsed.entries.map((entry: Partial<AllowListEntry>, i) => {
    const where = `${ALLOWLIST_PATH} entries[${i}]`;
    if (typeof entry.id !== "string" || !VULNERABILITY_ID.test(entry.id)) throw new InputError(`${where}.id=${JSON.stringify(entry.id)} is invalid: expected a vulnerability id such as CVE-2026-12345 or GHSA-xxxx-xxxx-xxxx`);
    if (typeof entry.reason !== "string" || entry.reason.trim().length < 10) throw new InputError(`${where} (${entry.id}) needs a reason of at least 10 characters: why the risk is accepted`);
    const day = typeof entry.expires === "string" ? DAY.exec(entry.expires) : null;
    const date = day ? new Date(`${entry.expires}T00:00:00Z`) : undefined;
    if (!day || !date || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== entry.expires) {
      throw new InputError(`${where}.expires=${JSON.stringify(entry.expires)} (${entry.id}) is invalid: expected a date, YYYY-MM-DD`);
    }
    if (entry.package !== undefined && (typeof entry.package !== "string" || entry.package === "")) throw new InputError(`${where}.package must be a package name when given`);
    return { id: entry.id, reason: entry.reason.trim(), expires: String(entry.expires), ...(entry.package !== undefined ? { package: entry.package } : {}) };
  });
}

/** What the gate decided. */
export interface GateVerdict {
  passed: boolean;
  /** Fixable findings at or above the threshold that no live entry allows. */
  blocking: Finding[];
  /** Findings an entry allows, with the entry. */
  allowed: { finding: Finding; entry: AllowListEntry }[];
  /** Entries past their expiry date: each one fails the gate. */
  expired: AllowListEntry[];
  /** Findings at or above the threshold with no fixed version yet (reported, not blocking). */
  unfixable: Finding[];
  /** Findings by severity, every one counted. */
  counts: Record<Severity, number>;
}

const rank = (severity: Severity) => SEVERITIES.indexOf(severity);

/**
 * Fails on fixable vulnerabilities at or above `threshold` that the allow-list does not accept, and on any expired
 * allow-list entry (an exception must be renewed with a reason, not forgotten).
 */
export function gate(findings: Finding[], allowList: AllowListEntry[], threshold: Severity, today: Date): GateVerdict {
  const day = today.toISOString().slice(0, 10);
  const expired = allowList.filter((entry) => entry.expires <= day);
  const live = allowList.filter((entry) => entry.expires > day);
  const counts = Object.fromEntries(SEVERITIES.map((severity) => [severity, findings.filter((finding) => finding.severity === severity).length])) as Record<Severity, number>;
  const serious = findings.filter((finding) => rank(finding.severity) >= rank(threshold));
  const allowed: GateVerdict["allowed"] = [];
  const blocking: Finding[] = [];
  const unfixable: Finding[] = [];
  for (const finding of serious) {
    const entry = live.find((candidate) => candidate.id === finding.id && (candidate.package === undefined || candidate.package === finding.pkg));
    if (entry) allowed.push({ finding, entry });
    else if (finding.fixed === "") unfixable.push(finding);
    else blocking.push(finding);
  }
  return { passed: blocking.length === 0 && expired.length === 0, blocking, allowed, expired, unfixable, counts };
}

const line = (finding: Finding) => `${finding.severity} ${finding.id} ${finding.pkg} ${finding.installed} -> ${finding.fixed || "no fix yet"} (${finding.target})`;

/** The gate's report: the verdict first, then what blocked, what was allowed and why, and the counts. */
export function formatVerdict(verdict: GateVerdict, threshold: Severity): string {
  const counts = SEVERITIES.slice().reverse().map((severity) => `${verdict.counts[severity]} ${severity}`).join(", ");
  return [
    verdict.passed
      ? `vulnerability gate passed: no fixable vulnerability at ${threshold} or above (${counts})`
      : `vulnerability gate FAILED: ${verdict.blocking.length} fixable at ${threshold} or above, ${verdict.expired.length} expired allow-list entr${verdict.expired.length === 1 ? "y" : "ies"} (${counts})`,
    ...verdict.blocking.map((finding) => `  blocking: ${line(finding)}`),
    ...verdict.expired.map((entry) => `  expired:  ${entry.id}${entry.package ? ` (${entry.package})` : ""} expired on ${entry.expires}: renew it with a reason, or remove it from ${ALLOWLIST_PATH}`),
    ...verdict.allowed.map(({ finding, entry }) => `  allowed:  ${line(finding)} until ${entry.expires}: ${entry.reason}`),
    ...verdict.unfixable.map((finding) => `  no fix:   ${line(finding)}`),
  ].join("\n");
}
