// The Node.js runtime of the image against Node's own core advisories. The fixture test/fixtures/node-core-advisories.json
// is a subset of nodejs/security-wg vuln/core/index.json (commit f1288d0d672396dcdc5c62b3cfcef46688097833, a data
// file: entries 2, 8, 100, 158, 159, 163, 164, 166, 171, unchanged); the rule "vulnerable and not patched" is that of
// nodejs/is-my-node-vulnerable v1.6.1, is-vulnerable.js.
import { describe, expect, it } from "vitest";
import { fixedOnLine, nodeRuntimeFindings, nodeVersionOfTag, parseNodeAdvisories, satisfies } from "../../dagger/src/supply-chain/node-runtime.js";
import { formatVerdict, gate } from "../../dagger/src/supply-chain/vulnerabilities.js";
import { NODE_IMAGE_TAG } from "../../dagger/src/versions.js";
import { fixture } from "../helpers/supply-chain.js";

const advisories = parseNodeAdvisories(fixture("node-core-advisories.json"));
const TODAY = new Date("2026-11-27T12:00:00Z");

describe("the advisories' version ranges (npm semver, as vuln/core uses it)", () => {
  it.each([
    ["24.14.0", "20.x || 22.x || 24.x || 25.x", true],
    ["26.0.0", "20.x || 22.x || 24.x || 25.x", false],
    ["24.14.1", "^20.20.2 || ^22.22.2 || ^24.14.1 || ^25.8.2", true],
    ["24.14.0", "^20.20.2 || ^22.22.2 || ^24.14.1 || ^25.8.2", false],
    ["0.10.47", "^0.10.48", false],
    ["0.10.49", "^0.10.48", true],
    ["0.11.0", "^0.10.48", false],
    ["0.12.5", "0.12.x", true],
    ["18.0.5", ">=18.0.0 <18.1.0", true],
    ["18.1.0", ">=18.0.0 <18.1.0", false],
    ["8.9.9", "<= 8", true],
    ["9.0.0", "<= 8", false],
    ["24.20.0", "24.20.0", true],
  ])("%s satisfies %s: %s", (version, range, expected) => {
    expect(satisfies(version, range)).toBe(expected);
  });

  it("refuses syntax it cannot read, naming the range", () => {
    expect(() => satisfies("24.0.0", "~24.1.0")).toThrow('the Node.js advisories use a version range this check cannot read: "~24.1.0" (~24.1.0)');
  });

  it("the fixed version is the lowest patched one on the installed release line", () => {
    expect(fixedOnLine("24.13.1", "^20.20.2 || ^22.22.2 || ^24.14.1 || ^25.8.2")).toBe("24.14.1");
    expect(fixedOnLine("23.1.0", "^22.22.2 || ^24.14.1")).toBe("");
  });
});

describe("the image's Node.js runtime in the gate", () => {
  it("the version comes from NODE_IMAGE_TAG (the runtime image starts from it); other tags are refused", () => {
    expect(nodeVersionOfTag(NODE_IMAGE_TAG)).toBe("24.20.0");
    expect(nodeVersionOfTag("node:24.20.0")).toBe("24.20.0");
    expect(() => nodeVersionOfTag("node:24-alpine")).toThrow('NODE_IMAGE_TAG="node:24-alpine" names no exact Node.js version');
  });

  it("the pinned Node (24.20.0) is patched for every advisory of the fixture", () => {
    expect(nodeRuntimeFindings("24.20.0", advisories, "node")).toEqual([]);
  });

  it("a vulnerable Node version fails the gate, naming the advisory and the fixed version", () => {
    const findings = nodeRuntimeFindings("24.14.0", advisories, "node 24.14.0 (node:24.14.0-alpine3.23)");
    expect(findings.map((finding) => `${finding.severity} ${finding.id} -> ${finding.fixed}`)).toEqual([
      "HIGH CVE-2026-21637 -> 24.14.1",
      "HIGH CVE-2026-21710 -> 24.14.1",
      "MEDIUM CVE-2026-21712 -> 24.14.1",
      "MEDIUM CVE-2026-21717 -> 24.14.1",
    ]);
    const verdict = gate(findings, [], "HIGH", TODAY);
    expect(verdict.passed).toBe(false);
    expect(formatVerdict(verdict, "HIGH").split("\n").slice(0, 3)).toEqual([
      "vulnerability gate FAILED: 2 fixable at HIGH or above, 0 expired allow-list entries (0 CRITICAL, 2 HIGH, 2 MEDIUM, 0 LOW, 0 UNKNOWN)",
      "  blocking: HIGH CVE-2026-21637 node 24.14.0 -> 24.14.1 (node 24.14.0 (node:24.14.0-alpine3.23))",
      "  blocking: HIGH CVE-2026-21710 node 24.14.0 -> 24.14.1 (node 24.14.0 (node:24.14.0-alpine3.23))",
    ]);
    // An advisory without a CVE is named by its entry; old lines are matched by their own ranges.
    expect(nodeRuntimeFindings("8.1.0", advisories, "node").map((finding) => finding.id)).toEqual(["NSWG-CORE-2"]);
    expect(nodeRuntimeFindings("0.10.40", advisories, "node")).toMatchObject([{ id: "CVE-2016-5180", severity: "CRITICAL", fixed: "0.10.48" }]);
  });

  it("refuses data not in vuln/core's shape before judging", () => {
    expect(() => parseNodeAdvisories("<html>")).toThrow("are not JSON");
    expect(() => parseNodeAdvisories("[]")).toThrow("are not an object of advisories (vuln/core/index.json)");
    expect(() => parseNodeAdvisories('{"1": {"cve": []}}')).toThrow("Node.js's advisory 1 has vulnerable=undefined: expected a version range");
  });
});
