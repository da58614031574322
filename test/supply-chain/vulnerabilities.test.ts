// The vulnerability gate's decisions on Trivy reports (fixtures in Trivy's documented JSON format) and the allow-list.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../dagger/src/ecr/validate.js";
import { ALLOWLIST_PATH, formatVerdict, gate, parseAllowList, parseTrivyReport, validateSeverity, type AllowListEntry } from "../../dagger/src/supply-chain/vulnerabilities.js";
import { ROOT } from "../helpers/process.js";
import { fixture } from "../helpers/supply-chain.js";

const findings = [...parseTrivyReport(fixture("trivy-image-report.json")), ...parseTrivyReport(fixture("trivy-lockfile-report.json"))];
const TODAY = new Date("2026-11-27T12:00:00Z");

describe("Trivy report", () => {
  it("reads every vulnerability of every target, a null list included", () => {
    expect(findings.map((finding) => `${finding.severity} ${finding.id} ${finding.pkg} ${finding.installed} -> ${finding.fixed} @ ${finding.target}`)).toEqual([
      "HIGH CVE-2026-10001 libcrypto3 3.5.1-r0 -> 3.5.2-r0 @ /scan/image.tar (alpine 3.24.0)",
      "CRITICAL CVE-2026-10002 busybox 1.37.0-r20 ->  @ /scan/image.tar (alpine 3.24.0)",
      "LOW CVE-2026-10003 musl 1.2.5-r10 -> 1.2.5-r11 @ /scan/image.tar (alpine 3.24.0)",
      "MEDIUM GHSA-abcd-2345-wxyz hono 4.13.19 -> 4.13.20 @ package-lock.json",
    ]);
  });

  it("refuses what is not a Trivy schema-2 report", () => {
    expect(() => parseTrivyReport("not json")).toThrow("the scanner's report is not JSON");
    expect(() => parseTrivyReport('{"matches": []}')).toThrow("the scanner's report has schema version undefined, expected Trivy's 2");
  });
});

describe("the gate", () => {
  it("passes at CRITICAL: the critical finding has no fix yet (reported, not blocking)", () => {
    const verdict = gate(findings, [], "CRITICAL", TODAY);
    expect(verdict.passed).toBe(true);
    expect(verdict.unfixable.map((finding) => finding.id)).toEqual(["CVE-2026-10002"]);
    expect(formatVerdict(verdict, "CRITICAL")).toBe(
      [
        "vulnerability gate passed: no fixable vulnerability at CRITICAL or above (1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 LOW, 0 UNKNOWN)",
        "  no fix:   CRITICAL CVE-2026-10002 busybox 1.37.0-r20 -> no fix yet (/scan/image.tar (alpine 3.24.0))",
      ].join("\n"),
    );
  });

  it("fails at HIGH, naming package, version, id and fixed version", () => {
    const verdict = gate(findings, [], "HIGH", TODAY);
    expect(verdict.passed).toBe(false);
    expect(formatVerdict(verdict, "HIGH").split("\n").slice(0, 2)).toEqual([
      "vulnerability gate FAILED: 1 fixable at HIGH or above, 0 expired allow-list entries (1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 LOW, 0 UNKNOWN)",
      "  blocking: HIGH CVE-2026-10001 libcrypto3 3.5.1-r0 -> 3.5.2-r0 (/scan/image.tar (alpine 3.24.0))",
    ]);
    expect(gate(findings, [], "MEDIUM", TODAY).blocking.map((finding) => finding.id)).toEqual(["CVE-2026-10001", "GHSA-abcd-2345-wxyz"]);
  });

  it("an allow-list entry with a reason lets a finding through until it expires; an expired entry fails the gate", () => {
    const entry: AllowListEntry = { id: "CVE-2026-10001", package: "libcrypto3", reason: "not reachable: the service opens no TLS connections", expires: "2026-12-31" };
    const allowed = gate(findings, [entry], "HIGH", TODAY);
    expect(allowed.passed).toBe(true);
    expect(formatVerdict(allowed, "HIGH")).toContain("  allowed:  HIGH CVE-2026-10001 libcrypto3 3.5.1-r0 -> 3.5.2-r0 (/scan/image.tar (alpine 3.24.0)) until 2026-12-31: not reachable");
    const expired = gate(findings, [{ ...entry, expires: "2026-11-27" }], "HIGH", TODAY);
    expect(expired.passed).toBe(false);
    expect(expired.expired).toHaveLength(1);
    expect(formatVerdict(expired, "HIGH")).toContain(
      "  expired:  CVE-2026-10001 (libcrypto3) expired on 2026-11-27: renew it with a reason, or remove it from security/vulnerability-allowlist.json",
    );
    // An expired entry fails the gate even when its finding is gone.
    expect(gate([], [{ ...entry, expires: "2026-01-01" }], "CRITICAL", TODAY).passed).toBe(false);
    // An entry for another package does not apply.
    expect(gate(findings, [{ ...entry, package: "openssl" }], "HIGH", TODAY).passed).toBe(false);
  });
});

describe("the allow-list file", () => {
  it("is valid as committed (no entries)", () => {
    expect(parseAllowList(readFileSync(path.join(ROOT, ALLOWLIST_PATH), "utf8"))).toEqual([]);
  });

  it.each([
    ["not json", "security/vulnerability-allowlist.json is not JSON"],
    ['{"ignore": []}', 'security/vulnerability-allowlist.json must be {"entries": [...]}'],
    ['{"entries": [{"id": "CVE-26", "reason": "a long enough reason", "expires": "2027-01-01"}]}', 'entries[0].id="CVE-26" is invalid: expected a vulnerability id'],
    // The catch-all for other databases' ids (RUSTSEC-2024-0001, GO-2024-1234) must not take malformed CVE or GHSA ids.
    ['{"entries": [{"id": "CVE-2026-123", "reason": "a long enough reason", "expires": "2027-01-01"}]}', 'entries[0].id="CVE-2026-123" is invalid: expected a vulnerability id'],
    ['{"entries": [{"id": "GHSA-2345-6789-c", "reason": "a long enough reason", "expires": "2027-01-01"}]}', 'entries[0].id="GHSA-2345-6789-c" is invalid: expected a vulnerability id'],
    ['{"entries": [{"id": "CVE-2026-10001", "reason": "ok", "expires": "2027-01-01"}]}', "entries[0] (CVE-2026-10001) needs a reason of at least 10 characters"],
    ['{"entries": [{"id": "CVE-2026-10001", "reason": "a long enough reason", "expires": "2027-02-30"}]}', 'entries[0].expires="2027-02-30" (CVE-2026-10001) is invalid: expected a date, YYYY-MM-DD'],
    ['{"entries": [{"id": "CVE-2026-10001", "reason": "a long enough reason"}]}', "entries[0].expires=undefined (CVE-2026-10001) is invalid"],
  ])("refuses %s naming the entry and the rule", (text, message) => {
    expect(() => parseAllowList(text)).toThrow(InputError);
    expect(() => parseAllowList(text)).toThrow(message);
  });

  it("severity arguments: LOW to CRITICAL, any case", () => {
    expect(validateSeverity("high")).toBe("HIGH");
    expect(() => validateSeverity("severe")).toThrow('--severity="severe" is invalid: expected one of LOW, MEDIUM, HIGH, CRITICAL');
    expect(() => validateSeverity("UNKNOWN")).toThrow(InputError);
  });
});
