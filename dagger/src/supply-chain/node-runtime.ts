/**
 * The Node.js runtime of the image, checked against Node's own security advisories. The official Node images install
 * `node` from a tarball, not as an apk, and Trivy 0.69.3's binary analyzers cover Go and Rust only: no image scanner
 * here matches it. Node.js publishes every core advisory in nodejs/security-wg, `vuln/core/index.json` (an object of
 * entries `{cve, vulnerable, patched, ref, description, overview, affectedEnvironments, severity}`, the ranges in npm's
 * semver syntax). A version is vulnerable when it satisfies `vulnerable` and not `patched`: the rule of Node's own
 * checker, nodejs/is-my-node-vulnerable v1.6.1, is-vulnerable.js (which reads the same URL). Plain TypeScript: the
 * data is fetched by ./scan.ts and judged by the gate of ./vulnerabilities.ts like any other finding.
 */
import type { Finding, Severity } from "./vulnerabilities.js";

/** Where Node.js publishes its core advisories (what nodejs/is-my-node-vulnerable reads). */
export const NODE_ADVISORIES_URL = "https://raw.githubusercontent.com/nodejs/security-wg/main/vuln/core/index.json";

/** One entry of vuln/core/index.json, the parts the gate reads. */
export interface NodeAdvisory {
  cve?: string[];
  vulnerable: string;
  patched?: string;
  ref?: string;
  description?: string;
  severity?: string;
}

type Version = [number, number, number];

/** The Node.js version of an image tag such as `node:24.20.0-alpine3.24`; anything else is refused, saying so. */
export function nodeVersionOfTag(tag: string): string {
  const version = /^node:(\d+\.\d+\.\d+)(?:-[\w.]+)?$/.exec(tag)?.[1];
  if (version === undefined) throw new Error(`NODE_IMAGE_TAG=${JSON.stringify(tag)} names no exact Node.js version (expected node:<major>.<minor>.<patch>[-<variant>]): the runtime cannot be checked`);
  return version;
}

const parseVersion = (text: string): Version => text.split(".").map(Number) as Version;
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** One comparator of a range as the bounds [lower inclusive, upper exclusive) it allows, or undefined for its syntax. */
function bounds(comparator: string): [Version, Version] | undefined {
  const INF: Version = [Infinity, 0, 0];
  let match = /^(\d+)(?:\.(\d+))?(?:\.[xX*])?$|^(\d+)\.[xX*](?:\.[xX*])?$/.exec(comparator);
  if (match && !/^\d+\.\d+\.\d+$/.test(comparator)) {
    const major = Number(match[1] ?? match[3]);
    const minor = match[2] === undefined ? undefined : Number(match[2]);
    return minor === undefined ? [[major, 0, 0], [major + 1, 0, 0]] : [[major, minor, 0], [major, minor + 1, 0]];
  }
  match = /^(\^|>=|<=|>|<|=)?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(comparator);
  if (!match) return undefined;
  const [, operator = "=", major, minor, patch] = match;
  const version: Version = [Number(major), Number(minor ?? 0), Number(patch ?? 0)];
  const partialNext: Version = minor === undefined ? [version[0] + 1, 0, 0] : patch === undefined ? [version[0], version[1] + 1, 0] : [version[0], version[1], version[2] + 1];
  switch (operator) {
    case "^":
      return [version, version[0] > 0 ? [version[0] + 1, 0, 0] : version[1] > 0 ? [0, version[1] + 1, 0] : [0, 0, version[2] + 1]];
    case ">=":
      return [version, INF];
    case ">":
      return [partialNext, INF];
    case "<=":
      return [[0, 0, 0], partialNext];
    case "<":
      return [[0, 0, 0], version];
    default:
      return [version, partialNext];
  }
}

/**
 * True when `version` satisfies the npm-semver `range` the advisories use: `||` alternatives of space-separated
 * comparators (`24.x`, `^24.14.1`, `>=18.0.0 <18.1.0`, `<= 8`, `24.14.1`). Other syntax is refused, naming it.
 */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  return range.split("||").some((alternative) => {
    const comparators = alternative.trim().replace(/(>=|<=|>|<|=|\^)\s+/g, "$1").split(/\s+/).filter(Boolean);
    return comparators.every((comparator) => {
      const allowed = bounds(comparator);
      if (!allowed) throw new Error(`the Node.js advisories use a version range this check cannot read: ${JSON.stringify(range)} (${comparator})`);
      return compare(v, allowed[0]) >= 0 && compare(v, allowed[1]) < 0;
    });
  });
}

/** The lowest version on `version`'s own release line that `patched` allows, or "" when the line has no fix. */
export function fixedOnLine(version: string, patched: string | undefined): string {
  const [major] = parseVersion(version);
  const candidates = [...(patched ?? "").matchAll(/(\d+)\.(\d+)\.(\d+)/g)].map((match) => [Number(match[1]), Number(match[2]), Number(match[3])] as Version);
  const fix = candidates.filter((candidate) => candidate[0] === major && compare(candidate, parseVersion(version)) > 0 && satisfies(candidate.join("."), patched ?? "")).sort(compare)[0];
  return fix ? fix.join(".") : "";
}

/** Parses vuln/core/index.json; anything not in its shape is refused before a verdict is made from it. */
export function parseNodeAdvisories(json: string): Record<string, NodeAdvisory> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`Node.js's advisories (${NODE_ADVISORIES_URL}) are not JSON`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed) || Object.keys(parsed).length === 0) {
    throw new Error(`Node.js's advisories (${NODE_ADVISORIES_URL}) are not an object of advisories (vuln/core/index.json)`);
  }
  for (const [key, entry] of Object.entries(parsed as Record<string, Partial<NodeAdvisory>>)) {
    if (typeof entry.vulnerable !== "string") throw new Error(`Node.js's advisory ${key} has vulnerable=${JSON.stringify(entry.vulnerable)}: expected a version range`);
  }
  return parsed as Record<string, NodeAdvisory>;
}

const SEVERITY: Record<string, Severity> = { low: "LOW", medium: "MEDIUM", high: "HIGH", critical: "CRITICAL" };

/** The advisories `version` is vulnerable to, as the gate's findings (package `node`, the fixed version on its line). */
export function nodeRuntimeFindings(version: string, advisories: Record<string, NodeAdvisory>, target: string): Finding[] {
  return Object.entries(advisories)
    .filter(([, advisory]) => satisfies(version, advisory.vulnerable) && !satisfies(version, advisory.patched ?? "<0"))
    .map(([key, advisory]) => ({
      id: advisory.cve?.[0] ?? `NSWG-CORE-${key}`,
      severity: SEVERITY[advisory.severity ?? ""] ?? "UNKNOWN",
      pkg: "node",
      installed: version,
      fixed: fixedOnLine(version, advisory.patched),
      target,
      ...(advisory.description ? { title: advisory.description } : {}),
    }));
}
