import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
  resolve: {
    // The AWS SDK clients the pipeline uses are dependencies of the Dagger module (dagger/package.json), not of the
    // service: tests that mock or call them use the module's copy, so that a mock reaches the client the module's code creates.
    alias: Object.fromEntries(
      ["@aws-sdk/client-cloudformation", "@aws-sdk/client-ecr", "@aws-sdk/client-ecs", "@aws-sdk/client-elastic-load-balancing-v2", "@aws-sdk/client-sts"].map((name) => [name, fileURLToPath(new URL(`./dagger/node_modules/${name}`, import.meta.url))]),
    ),
  },
});
