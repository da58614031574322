// The supply-chain functions against the fake engine: what they ask it for (Syft and Trivy pinned by digest, the image
// as an OCI archive, Trivy's database in a cache volume, npm sbom in the build container), how the reports are read,
// and what the gate decides (publish and the gate: test/dagger/publish-plan.test.ts).
import { describe, expect, it } from "vitest";
import { ALLOWLIST_PATH } from "../../dagger/src/supply-chain/vulnerabilities.js";
import { SYFT_IMAGE, TRIVY_CACHE_VOLUME, TRIVY_IMAGE } from "../../dagger/src/versions.js";
import type { Step } from "../helpers/fake-engine.js";
import { answerNonRootUid, callsEndingWith, runPlan, stepNamed } from "../helpers/plan.js";
import { COMMIT } from "../helpers/publish.js";
import { answerSupplyChain } from "../helpers/supply-chain.js";

const DIGEST_PIN = /^[\w./-]+:[\w.-]+@sha256:[a-f0-9]{64}$/;
const execOf = (chain: Step[]) => (chain.filter((step) => step.field === "withExec").at(-1)?.args.args as string[] | undefined) ?? [];

describe("sbom and scan (fake engine)", () => {
  it("sbom runs Syft (pinned by digest) on the image as an OCI archive and npm sbom in the build container, and returns the merged SBOM", async () => {
    const supply = answerSupplyChain();
    // The file's contents are what the function wrote into it.
    const written = (chain: Step[]) => (chain.at(-1)!.field === "contents" ? chain.find((step) => step.field === "withNewFile")?.args.contents : undefined);
    const run = await runPlan(
      async (pipeline) => (await pipeline.sbom(undefined, COMMIT)).contents(),
      (chain) => supply(chain) ?? (written(chain) !== undefined ? { value: written(chain) } : answerNonRootUid(chain)),
    );
    expect(run.error).toBeUndefined();
    expect(SYFT_IMAGE).toMatch(DIGEST_PIN);
    const syft = callsEndingWith(run.engine, "stdout").find((chain) => execOf(chain)[0] === "/syft")!;
    expect(syft[1]).toEqual({ field: "from", args: { address: SYFT_IMAGE } });
    expect(execOf(syft)).toEqual(["/syft", "scan", "oci-archive:/scan/image.tar", "--output", "cyclonedx-json"]);
    const tarball = run.engine.chainOf(String(stepNamed(syft, "withMountedFile").args.source));
    expect(tarball.at(-1)!.field).toBe("asTarball");
    expect(tarball.some((step) => step.field === "withEntrypoint")).toBe(true); // the runtime image, not a build container
    const npm = callsEndingWith(run.engine, "stdout").find((chain) => execOf(chain)[1] === "sbom")!;
    expect(execOf(npm)).toEqual(["npm", "sbom", "--sbom-format", "cyclonedx", "--omit=dev"]);
    const file = run.engine.calls.flatMap((chain) => chain.filter((step) => step.field === "withNewFile"))[0]!;
    expect(file.args.path).toBe("sbom.cdx.json");
    const bom = JSON.parse(run.result!) as { metadata: { component: { version: string } }; components: unknown[] };
    expect(bom.metadata.component.version).toBe(COMMIT);
    expect(bom.components.length).toBeGreaterThan(15);
  });

  it("scan runs Trivy (pinned by digest, database in a cache volume) on the image and the lockfile, and reads the allow-list", async () => {
    const supply = answerSupplyChain({ allowList: '{"entries": []}' });
    const run = await runPlan(async (pipeline) => pipeline.scan(), (chain) => supply(chain) ?? answerNonRootUid(chain));
    expect(run.error).toBeUndefined();
    expect(run.result).toMatch(/^vulnerability gate passed: no fixable vulnerability at CRITICAL or above/);
    expect(TRIVY_IMAGE).toMatch(DIGEST_PIN);
    const scans = callsEndingWith(run.engine, "stdout").filter((chain) => execOf(chain)[0] === "trivy");
    expect(scans.map((chain) => execOf(chain).slice(0, 2).join(" ")).sort()).toEqual(["trivy fs", "trivy image"]);
    for (const chain of scans) {
      expect(chain[1]).toEqual({ field: "from", args: { address: TRIVY_IMAGE } });
      const cache = stepNamed(chain, "withMountedCache");
      expect(cache.args.path).toBe("/root/.cache/trivy");
      expect(run.engine.chainOf(String(cache.args.cache))).toEqual([{ field: "cacheVolume", args: { key: TRIVY_CACHE_VOLUME } }]);
      expect(execOf(chain)).toEqual(expect.arrayContaining(["--format", "json", "--exit-code", "0"]));
    }
    const lockfile = scans.find((chain) => execOf(chain)[1] === "fs")!;
    expect(stepNamed(lockfile, "withDirectory").args.include).toEqual(["package.json", "package-lock.json"]);
    expect(callsEndingWith(run.engine, "contents").some((chain) => chain.at(-2)!.args.path === ALLOWLIST_PATH)).toBe(true);
  });

  it("scan fails at the given severity, naming what blocks; a bad severity is refused before anything runs", async () => {
    const supply = answerSupplyChain();
    const run = await runPlan(async (pipeline) => pipeline.scan("high"), (chain) => supply(chain) ?? answerNonRootUid(chain));
    expect(run.error?.message).toContain("vulnerability gate FAILED: 1 fixable at HIGH or above");
    expect(run.error?.message).toContain("blocking: HIGH CVE-2026-10001 libcrypto3 3.5.1-r0 -> 3.5.2-r0");
    const bad = await runPlan(async (pipeline) => pipeline.scan("urgent"));
    expect(bad.error?.message).toBe('--severity="urgent" is invalid: expected one of LOW, MEDIUM, HIGH, CRITICAL');
    expect(bad.engine.rawQueries).toEqual([]);
  });

  it("an expired allow-list entry fails the gate", async () => {
    const allowList = JSON.stringify({ entries: [{ id: "CVE-2026-10002", reason: "busybox applets are never run by the service", expires: "2020-01-01" }] });
    const supply = answerSupplyChain({ allowList });
    const run = await runPlan(async (pipeline) => pipeline.scan(), (chain) => supply(chain) ?? answerNonRootUid(chain));
    expect(run.error?.message).toContain("expired:  CVE-2026-10002 expired on 2020-01-01");
  });
});
