// The tests `npm run mutate` runs (stryker.config.mjs): the fast unit and mocked test files that cover the mutated
// decision logic, nothing that needs moto, an engine, a real server or a bench. Listed here, not in Stryker's
// `testFiles`: with `testFiles`, Stryker 10.1.1 activates static mutants (module-level constants such as a regular
// expression) only after the module has loaded, so they all survive (stryker-mutator/stryker-js#6144, #6209;
// core dist/src/mutants/mutant-test-planner.js: `mutantActivation: testFilter ? 'runtime' : 'static'`).
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/** The test files of the mutation run. */
export const MUTATION_TEST_FILES = [
  // Following and verifying a deployment, deploy input validation.
  "test/deploy/blue-green.test.ts",
  "test/deploy/deploy-mocked.test.ts",
  "test/deploy/history.test.ts",
  "test/deploy/order.test.ts",
  "test/deploy/retention.test.ts",
  // Lifecycle policy and evaluator, release tags, ECR input validation.
  "test/ecr/errors.test.ts",
  "test/ecr/lifecycle.test.ts",
  "test/ecr/validate.test.ts",
  // The vulnerability gate.
  "test/supply-chain/node-runtime.test.ts",
  "test/supply-chain/vulnerabilities.test.ts",
  // The service's routes, body reading and config.
  "test/app.test.ts",
  "test/config.test.ts",
  // Tests written for what the mutation run showed untested.
  "test/mutation/*.test.ts",
];

export default defineConfig({ ...base, test: { ...base.test, include: MUTATION_TEST_FILES } });
