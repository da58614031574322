// The supply-chain functions against the fake engine: what they ask it for (Syft and Trivy pinned by digest, the image
// as an OCI archive, Trivy's database fetched once and handed to both scans, npm sbom in the build container), how the reports are read,
// and what the gate decides (publish and the gate: test/dagger/publish-plan.test.ts).
import { describe, expect, it } from "vitest";
import { ALLOWLIST_PATH } from "../../dagger/src/supply-chain/vulnerabilities.js";
import { NODE_ADVISORIES_URL } from "../../dagger/src/supply-chain/node-runtime.js";
import { TRIVY_CACHE_DIR, TRIVY_DB_DIR, dbWindow } from "../../dagger/src/supply-chain/trivy-db.js";
import { SYFT_IMAGE, TRIVY_IMAGE } from "../../dagger/src/versions.js";
import type { Step } from "../helpers/fake-engine.js";
import { answerNonRootUid, callsEndingWith, namedValues, runPlan, stepNamed, stepsNamed } from "../helpers/plan.js";
import { COMMIT } from "../helpers/publish.js";
import { answerSupplyChain, fixture } from "../helpers/supply-chain.js";

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
    expect(execOf(syft)).toEqual(["/syft", "scan", "oci-archive:/scan/image.tar", "--output", "cyclonedx-json@1.6"]);
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

  it("scan fetches Trivy's database once (pinned by digest, its own filesystem, the 6-hour window in its inputs), then scans the image and the lockfile with it", async () => {
    const supply = answerSupplyChain({ allowList: '{"entries": []}' });
    const run = await runPlan(async (pipeline) => pipeline.scan(), (chain) => supply(chain) ?? answerNonRootUid(chain));
    expect(run.error).toBeUndefined();
    expect(run.result).toMatch(/^vulnerability gate passed: no fixable vulnerability at CRITICAL or above/);
    expect(run.result).toContain("database: Trivy's, built 2026-11-27T06:10:31.5Z");
    expect(TRIVY_IMAGE).toMatch(DIGEST_PIN);
    // One fetch, and it is read before any scan runs.
    const trivyExecs = run.engine.calls.filter((chain) => execOf(chain)[0] === "trivy" && ["stdout", "contents"].includes(chain.at(-1)!.field));
    const fetches = trivyExecs.filter((chain) => execOf(chain).includes("--download-db-only"));
    expect(fetches).toHaveLength(1);
    expect(run.engine.calls.indexOf(fetches[0]!)).toBe(run.engine.calls.findIndex((chain) => execOf(chain)[0] === "trivy"));
    const fetch = fetches[0]!;
    expect(execOf(fetch)).toEqual(["trivy", "image", "--download-db-only", "--cache-dir", TRIVY_CACHE_DIR, "--no-progress"]);
    expect(fetch[1]).toEqual({ field: "from", args: { address: TRIVY_IMAGE } });
    expect(stepsNamed(fetch, "withMountedCache")).toEqual([]); // no volume another run could be writing
    expect(namedValues(fetch, "withEnvVariable").GATE_DB_WINDOW).toBe(dbWindow(new Date()));
    expect(fetch.at(-2)).toEqual({ field: "file", args: { path: `${TRIVY_DB_DIR}/metadata.json` } });

    const scans = trivyExecs.filter((chain) => chain.at(-1)!.field === "stdout");
    expect(scans.map((chain) => execOf(chain).slice(0, 2).join(" ")).sort()).toEqual(["trivy fs", "trivy image"]);
    for (const chain of scans) {
      expect(chain[1]).toEqual({ field: "from", args: { address: TRIVY_IMAGE } });
      expect(stepsNamed(chain, "withMountedCache")).toEqual([]);
      // The database is the one fetched: its directory mounted, its build date in the exec's inputs.
      const mounted = stepNamed(chain, "withMountedDirectory");
      expect(mounted.args.path).toBe(TRIVY_DB_DIR);
      const dir = run.engine.chainOf(String(mounted.args.source));
      expect(dir.at(-1)).toEqual({ field: "directory", args: { path: TRIVY_DB_DIR } });
      expect(execOf(dir)).toEqual(execOf(fetch));
      expect(namedValues(chain, "withEnvVariable").GATE_DB_UPDATED_AT).toBe("2026-11-27T06:10:31.5Z");
      expect(execOf(chain)).toEqual(expect.arrayContaining(["--skip-db-update", "--skip-java-db-update", "--format", "json", "--exit-code", "0"]));
      // The scan cache in memory: no fanal.db for the two scans to lock.
      expect(execOf(chain).join(" ")).toContain("--cache-backend memory");
      expect(execOf(chain).join(" ")).toContain(`--cache-dir ${TRIVY_CACHE_DIR}`);
    }
    const lockfile = scans.find((chain) => execOf(chain)[1] === "fs")!;
    expect(stepNamed(lockfile, "withDirectory").args.include).toEqual(["package.json", "package-lock.json"]);
    expect(callsEndingWith(run.engine, "contents").some((chain) => chain.at(-2)!.args.path === ALLOWLIST_PATH)).toBe(true);
  });

  it("the database's window moves every 6 hours (UTC): a cached verdict never outlives the database it was computed with", () => {
    expect(dbWindow(new Date("2026-11-27T05:59:59Z"))).toBe("2026-11-27T00Z");
    expect(dbWindow(new Date("2026-11-27T06:00:00Z"))).toBe("2026-11-27T06Z");
    expect(dbWindow(new Date("2026-11-27T23:10:00Z"))).toBe("2026-11-27T18Z");
  });

  it("a database of another schema, or metadata without a build date, is refused before any scan", async () => {
    for (const [dbMetadata, message] of [
      ['{"Version": 1, "UpdatedAt": "2026-11-27T06:10:31Z"}', "Trivy's database has schema version 1, expected 2 (the one Trivy 0.69.3 reads)"],
      ['{"Version": 2}', "Trivy's database metadata has UpdatedAt=undefined: expected an RFC 3339 time"],
      ["oops", "Trivy's database metadata (/trivy/db/metadata.json) is not JSON"],
    ]) {
      const supply = answerSupplyChain({ dbMetadata });
      const run = await runPlan(async (pipeline) => pipeline.scan(), (chain) => supply(chain) ?? answerNonRootUid(chain));
      expect(run.error?.message).toContain(message);
      expect(run.engine.calls.filter((chain) => execOf(chain)[0] === "trivy" && chain.at(-1)!.field === "stdout")).toEqual([]);
    }
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

  it("scan checks the image's Node.js runtime against Node's core advisories (fetched by the engine); a vulnerable one fails the gate, naming advisory and fixed version", async () => {
    const passing = answerSupplyChain();
    const ok = await runPlan(async (pipeline) => pipeline.scan(), (chain) => passing(chain) ?? answerNonRootUid(chain));
    expect(ok.error).toBeUndefined();
    expect(ok.result).toContain("node runtime: 24.20.0 against Node.js's 9 core advisories (nodejs/security-wg), 0 apply");
    expect(callsEndingWith(ok.engine, "contents").some((chain) => chain.at(-2)!.field === "http" && chain.at(-2)!.args.url === NODE_ADVISORIES_URL)).toBe(true);

    // The same data with an advisory that the image's 24.20.0 does not have the fix for, in vuln/core's shape.
    const advisories = { ...(JSON.parse(fixture("node-core-advisories.json")) as object), 999: { cve: ["CVE-2026-39999"], vulnerable: "24.x || 25.x", patched: "^24.20.1 || ^25.9.1", description: "written for this test", affectedEnvironments: ["all"], severity: "high" } };
    const supply = answerSupplyChain({ nodeAdvisories: JSON.stringify(advisories) });
    const run = await runPlan(async (pipeline) => pipeline.scan("high"), (chain) => supply(chain) ?? answerNonRootUid(chain));
    expect(run.error?.message).toContain("blocking: HIGH CVE-2026-39999 node 24.20.0 -> 24.20.1 (node 24.20.0 (node:24.20.0-alpine3.24))");
  });

  it("an expired allow-list entry fails the gate", async () => {
    const allowList = JSON.stringify({ entries: [{ id: "CVE-2026-10002", reason: "busybox applets are never run by the service", expires: "2020-01-01" }] });
    const supply = answerSupplyChain({ allowList });
    const run = await runPlan(async (pipeline) => pipeline.scan(), (chain) => supply(chain) ?? answerNonRootUid(chain));
    expect(run.error?.message).toContain("expired:  CVE-2026-10002 expired on 2020-01-01");
  });
});
