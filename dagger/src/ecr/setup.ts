/**
 * setup-registry's steps (used by `setup-registry` and by `bootstrap`): the repository with its settings, the lifecycle
 * policy, then signing when a profile is given. Idempotent: each step checks before it changes anything.
 */
import type { ECRClient } from "@aws-sdk/client-ecr";
import { AwsError, type CallContext } from "../aws-errors.js";
import { releaseLifecyclePolicy } from "./lifecycle.js";
import { applyLifecyclePolicy, applySigningConfiguration, ensureRepository } from "./registry.js";

/** What setup-registry reported, and what it changed (empty: nothing). */
export interface RegistrySetup {
  lines: string[];
  changed: string[];
}

/**
 * Creates the repository if missing (or brings its settings in line), applies the lifecycle policy keeping `keep`
 * releases, and signing with `signingProfileArn` when given. A failure says what was already changed.
 */
export async function setUpRegistry(client: ECRClient, repository: string, keep: number, signingProfileArn: string | undefined, context: CallContext): Promise<RegistrySetup> {
  const policy = releaseLifecyclePolicy(keep);
  const changed: string[] = [];
  try {
    const report = await ensureRepository(client, repository, context, changed);
    const policyChange = await applyLifecyclePolicy(client, repository, policy, context);
    if (policyChange !== "unchanged") changed.push(`lifecycle policy ${policyChange}`);
    let signing = "signing: not configured (deploy refuses unsigned images: pass --signing-profile-arn=<the identity stack's SigningProfileArn>)";
    if (signingProfileArn !== undefined) {
      const signingChange = await applySigningConfiguration(client, repository, signingProfileArn, context);
      if (signingChange !== "unchanged") changed.push(`signing ${signingChange}`);
      signing = `signing: ${signingChange} (ECR signs each image pushed to ${repository} with ${signingProfileArn})`;
    }
    const lines = [
      `repository ${repository}: ${report.change}${report.notes.length > 0 ? ` (${report.notes.join("; ")})` : ""}`,
      `image URI: ${report.repositoryUri}`,
      `lifecycle policy: ${policyChange} (keep ${keep} newest releases with their signatures, and the one latest points to)`,
      signing,
    ];
    return { lines, changed };
  } catch (error) {
    if (!(error instanceof AwsError)) throw error;
    throw new AwsError(
      `${error.message}\nsetup-registry stopped part-way. Already changed: ${changed.length > 0 ? changed.join("; ") : "nothing"}. ` +
        "Not done: the steps after that (repository settings, the lifecycle policy, then signing). Fix the cause and run it again: each step checks before it changes anything.",
    );
  }
}
