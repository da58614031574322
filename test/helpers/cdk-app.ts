/**
 * A CDK App as `cdk synth` builds it from this repository: with the feature flags of cdk.json's context (the CLI
 * passes cdk.json's context to the app; a bare `new App()` in a test would synthesize with none of them).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { App } from "aws-cdk-lib";
import { ROOT } from "./process.js";

/** cdk.json's context as written. */
export const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(path.join(ROOT, "cdk.json"), "utf8")) as { context: Record<string, unknown> }).context;

/** The feature flags of cdk.json's context (keys of the form `@scope/module:flag`). */
export const CDK_JSON_FLAGS = Object.fromEntries(Object.entries(CDK_JSON_CONTEXT).filter(([key]) => key.startsWith("@")));

/** A new App with cdk.json's feature flags, plus `context`. */
export function cdkApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...CDK_JSON_FLAGS, ...context } });
}
