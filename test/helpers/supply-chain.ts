/**
 * Answers the supply-chain stages' questions in the fake engine: Syft's SBOM, `npm sbom`, Trivy's reports and the
 * allow-list, from the fixtures (written in each tool's documented format) and the repository's real `npm sbom`.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { NODE_ADVISORIES_URL } from "../../dagger/src/supply-chain/node-runtime.js";
import { ALLOWLIST_PATH } from "../../dagger/src/supply-chain/vulnerabilities.js";
import type { Answer, Step } from "./fake-engine.js";
import { ROOT } from "./process.js";

export const fixture = (name: string): string => readFileSync(path.join(ROOT, "test/fixtures", name), "utf8");

let npmSbomOutput: string | undefined;
/** The real `npm sbom --sbom-format cyclonedx --omit=dev` of this repository (what the stage runs in the build container). */
export function repositoryNpmSbom(): string {
  npmSbomOutput ??= execFileSync("npm", ["sbom", "--sbom-format", "cyclonedx", "--omit=dev"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return npmSbomOutput;
}

export interface SupplyChainAnswers {
  /** Trivy's report of the image (default: the fixture). */
  imageReport?: string;
  /** Trivy's report of the lockfile (default: the fixture). */
  lockfileReport?: string;
  /** The allow-list file's text; undefined: the repository has none. */
  allowList?: string;
  /** The fetched database's metadata.json (default: TRIVY_DB_METADATA). */
  dbMetadata?: string;
  /** Node.js's core advisories, vuln/core/index.json (default: the fixture, none of which applies to the image's Node). */
  nodeAdvisories?: string;
  /** Syft reading a pushed image from the registry (`--from registry`): the revision label the image carries. */
  pushed?: { revision?: string };
}

/**
 * Syft 1.46.0's `--output cyclonedx-json@1.6` of a platform image read from the registry, derived from the image
 * fixture: metadata.component names the reference and has its digest as version (the reference as typed: syft/source/stereoscopesource/image_source.go, Describe), the labels are
 * metadata.properties `syft:image:labels:<label>` (anchore/syft v1.46.0 syft/format/common/cyclonedxhelpers/
 * to_format_model.go, toBomDescriptorComponent and toBomProperties); a linux/arm64 image's apk packages and files are aarch64.
 */
export function pushedImageSyft(reference: string, platform: string | undefined, pushed: NonNullable<SupplyChainAnswers["pushed"]>): string {
  const requested = reference.slice(reference.lastIndexOf("@") + 1);
  const text = platform === "linux/arm64" ? fixture("syft-image.cdx.json").replaceAll("x86_64", "aarch64") : fixture("syft-image.cdx.json");
  const bom = JSON.parse(text) as { metadata: { component: Record<string, unknown>; properties?: unknown[] } };
  bom.metadata.component = { ...bom.metadata.component, name: reference, version: requested };
  const labels = { "org.opencontainers.image.title": "hono-ecr-service", ...(pushed.revision === undefined ? {} : { "org.opencontainers.image.revision": pushed.revision }) };
  bom.metadata.properties = Object.entries(labels).map(([name, value]) => ({ name: `syft:image:labels:${name}`, value }));
  return JSON.stringify(bom);
}

/**
 * `<cache-dir>/db/metadata.json` after `trivy image --download-db-only`, in the shape of aquasecurity/trivy v0.69.3
 * pkg/version/testdata/testcache/db/metadata.json (written here; NextUpdate is UpdatedAt + 6 h, as trivy-db builds).
 */
export const TRIVY_DB_METADATA = JSON.stringify({ Version: 2, NextUpdate: "2026-11-27T12:10:31.5Z", UpdatedAt: "2026-11-27T06:10:31.5Z", DownloadedAt: "2026-11-27T07:02:11.1Z" });

/** A resolver for the supply-chain stages; undefined for everything else. */
export function answerSupplyChain(answers: SupplyChainAnswers = {}): (chain: Step[]) => Answer | undefined {
  return (chain) => {
    const leaf = chain.at(-1)!;
    const exec = (chain.filter((step) => step.field === "withExec").at(-1)?.args.args as string[] | undefined) ?? [];
    if (leaf.field === "stdout") {
      if (exec[0] === "/syft" && exec.includes("registry")) {
        const platform = exec.includes("--platform") ? exec[exec.indexOf("--platform") + 1] : undefined;
        return { value: pushedImageSyft(exec[exec.indexOf("registry") + 1]!, platform, answers.pushed ?? {}) };
      }
      if (exec[0] === "/syft") return { value: fixture("syft-image.cdx.json") };
      if (exec[0] === "npm" && exec[1] === "sbom") return { value: repositoryNpmSbom() };
      if (exec[0] === "trivy" && exec[1] === "image") return { value: answers.imageReport ?? fixture("trivy-image-report.json") };
      if (exec[0] === "trivy" && exec[1] === "fs") return { value: answers.lockfileReport ?? fixture("trivy-lockfile-report.json") };
    }
    if (leaf.field === "contents" && chain.at(-2)?.field === "file" && chain.at(-2)?.args.path === "/trivy/db/metadata.json" && exec.includes("--download-db-only")) {
      return { value: answers.dbMetadata ?? TRIVY_DB_METADATA };
    }
    if (leaf.field === "contents" && chain.at(-2)?.field === "http" && chain.at(-2)?.args.url === NODE_ADVISORIES_URL) return { value: answers.nodeAdvisories ?? fixture("node-core-advisories.json") };
    if (leaf.field === "glob" && leaf.args.pattern === ALLOWLIST_PATH) return { value: answers.allowList === undefined ? [] : [ALLOWLIST_PATH] };
    if (leaf.field === "contents" && chain.at(-2)?.field === "file" && chain.at(-2)?.args.path === ALLOWLIST_PATH) return { value: answers.allowList ?? "" };
    return undefined;
  };
}
