import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
  resolve: {
    // The AWS SDK is a dependency of the Dagger module (dagger/package.json), not of the service: tests that mock or
    // call it use the module's copy, so that a mock reaches the client the module's code creates.
    alias: { "@aws-sdk/client-ecr": fileURLToPath(new URL("./dagger/node_modules/@aws-sdk/client-ecr", import.meta.url)) },
  },
});
