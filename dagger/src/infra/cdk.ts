/**
 * The repository's own aws-cdk CLI (its root devDependency, `npx cdk`), run in the build environment (../stages.ts
 * nodeBuildEnv) with the AWS credentials as Dagger secrets only: never in an argument, an environment value or output.
 */
import { randomUUID } from "node:crypto";
import type { Container, Directory, Secret } from "@dagger.io/dagger";
import { nodeBuildEnv, runStage } from "../stages.js";

/** The credentials, as the Dagger secrets they were given as. */
export interface CdkCredentials {
  accessKeyId: Secret;
  secretAccessKey: Secret;
  sessionToken?: Secret;
}

/** Where `cdk synth` writes the cloud assembly (cdk.json's `output`). */
export const CDK_OUT = "infra/cdk.out";
/**
 * A fresh value per call, set on the container just before the cdk commands: the engine caches an exec by its inputs,
 * and with the same long-lived credentials (whose plaintext is part of the key) a second `provision` would otherwise
 * be answered from the cache without asking AWS. The dependency install before it stays cached.
 */
export const RUN_ID_VARIABLE = "CDK_RUN_ID";

/** The build environment with the region, the credentials (secrets) and this call's run id; cdk commands run in it. */
export function cdkContainer(source: Directory, region: string, credentials: CdkCredentials, runId: string = randomUUID()): Container {
  let container = nodeBuildEnv(source)
    .withEnvVariable("AWS_REGION", region)
    .withEnvVariable("AWS_DEFAULT_REGION", region)
    .withEnvVariable("CDK_DISABLE_VERSION_CHECK", "true")
    .withSecretVariable("AWS_ACCESS_KEY_ID", credentials.accessKeyId)
    .withSecretVariable("AWS_SECRET_ACCESS_KEY", credentials.secretAccessKey);
  if (credentials.sessionToken) container = container.withSecretVariable("AWS_SESSION_TOKEN", credentials.sessionToken);
  return container.withEnvVariable(RUN_ID_VARIABLE, runId);
}

/** What one cdk command printed (stdout, then stderr, where cdk writes its progress and diffs), and the container after it. */
export interface CdkRun {
  container: Container;
  output: string;
}

/** The command line of `cdk <args>`: the local CLI only (never a download), without the notices banner. */
export const cdkArgs = (args: string[]): string[] => ["npx", "--no-install", "cdk", ...args, "--no-notices"];

/** Runs `cdk <args>` in `container` as stage `stage`; a non-zero exit fails naming the stage, the command and cdk's output. */
export async function runCdk(stage: string, container: Container, args: string[]): Promise<CdkRun> {
  const ran = await runStage(stage, container, cdkArgs(args));
  const [stdout, stderr] = await Promise.all([ran.stdout(), ran.stderr()]);
  return { container: ran, output: [stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join("\n") };
}

/** True when cdk said a deploy or a bootstrap changed nothing (aws/aws-cdk-cli packages/aws-cdk/lib/cli/cdk-toolkit.ts: "(no changes)"). */
export const unchanged = (output: string): boolean => /\(no changes\)/.test(output);
