// StrykerJS config of `npm run mutate` (scripts/mutate.sh runs it on the image's Node; docs/mutation.md has the figures).
// Mutation testing of the decision logic: each mutant is a small change to one of the files below (a condition made
// always true, `>` made `>=`, a string emptied, ...); the unit and mocked tests that cover them must fail for it.
// Only fast, self-contained test files (vitest.mutation.config.ts): Stryker re-runs the tests that cover a mutant for
// every mutant, so no moto, engine or bench tests.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  mutate: [
    // Following and verifying a deployment: when a rollout is done, failed or still going; what verification
    // accepts; the order rule (no older release over a newer one); the deploy history, status and revision retention.
    "dagger/src/deploy/rollout.ts",
    "dagger/src/deploy/verify.ts",
    "dagger/src/deploy/order.ts",
    "dagger/src/deploy/history.ts",
    "dagger/src/deploy/status.ts",
    "dagger/src/deploy/retention.ts",
    // Deploy input validation (cluster, service, image reference, timeouts) before any AWS call.
    "dagger/src/deploy/validate.ts",
    // The ECR lifecycle policy we write and the evaluator that shows which images it would expire.
    "dagger/src/ecr/lifecycle.ts",
    "dagger/src/ecr/lifecycle-evaluator.ts",
    // Release tags: which tags a published image gets and which tag is the newest release.
    "dagger/src/ecr/release-tags.ts",
    // ECR input validation (repository names, tags, regions, account ids).
    "dagger/src/ecr/validate.ts",
    // The vulnerability gate's verdicts: which findings block a publish, and the Node runtime's own advisories.
    "dagger/src/supply-chain/vulnerabilities.ts",
    "dagger/src/supply-chain/node-runtime.ts",
    // The service: reading request bodies (media type, size limits), parsing the environment's config, the routes.
    "src/body.ts",
    "src/config.ts",
    "src/app.ts",
  ],
  testRunner: "vitest",
  // The test files are listed in vitest.mutation.config.ts (why not in `testFiles`: see there). related: a static
  // mutant (a module-level constant, which no per-test coverage can pin) runs only those that import its file.
  vitest: { configFile: "vitest.mutation.config.ts", related: true },
  coverageAnalysis: "perTest",
  // The machine's 2 cores are shared: at most 2 test runner processes.
  concurrency: 2,
  timeoutMS: 10_000,
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  // What the sandbox (a copy of the repository the mutants are written into) does not need.
  ignorePatterns: ["/infra/cdk.out", "/dist", "/coverage", "/.ci/results", "/reports"],
  thresholds: { high: 85, low: 80, break: null },
};
