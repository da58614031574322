/**
 * `bootstrap`: the one-time AWS side, idempotent, from a container (the repository's own aws-cdk, ./cdk.ts):
 * 1. `cdk bootstrap aws://<account>/<region>` when the account/region has no CDKToolkit stack;
 * 2. `cdk deploy GithubActionsEcrIdentity` (the trust root: changed only here, never by CI);
 * 3. `cdk bootstrap --cloudformation-execution-policies <its CloudFormationExecutionPolicyArn>` when the toolkit does
 *    not use exactly that policy yet (cdk keeps the toolkit's other parameters: aws/aws-cdk-cli
 *    packages/@aws-cdk/toolkit-lib/lib/api/bootstrap/deploy-bootstrap.ts, `usePreviousParameters ?? true`);
 * 4. setup-registry (../ecr/setup.ts), signing with the stack's SigningProfileArn when asked;
 * then the `gh` lines for the GitHub side (./github-setup.ts) and the next steps.
 */
import type { Directory } from "@dagger.io/dagger";
import { AwsError } from "../aws-errors.js";
import { DEFAULT_KEEP } from "../ecr/lifecycle.js";
import { createEcrClient, type AwsCredentials } from "../ecr/registry.js";
import { setUpRegistry } from "../ecr/setup.js";
import { callerIdentity, createCloudFormationClient, createStsClient, describeStack, outputValue, TOOLKIT_STACK } from "./accounts.js";
import { cdkContainer, runCdk, unchanged, type CdkCredentials } from "./cdk.js";
import { githubSetupLines, githubVariables, serviceEnvironments } from "./github-setup.js";

/** The identity stack (infra/app.ts). */
export const IDENTITY_STACK = "GithubActionsEcrIdentity";
/** The identity stack's output with the execution policy for `cdk bootstrap --cloudformation-execution-policies`. */
export const EXECUTION_POLICY_OUTPUT = "CloudFormationExecutionPolicyArn";
/** The CDKToolkit parameter that holds the execution policies (comma-separated; bootstrap-template.yaml). */
const EXECUTION_POLICIES_PARAMETER = "CloudFormationExecutionPolicies";

/**
 * The policies of a CommaDelimitedList parameter as DescribeStacks gives it: `arn1,arn2` (CloudFormation), or the
 * list's Python form `['arn1', 'arn2']` (moto 5.2.1); empty when none (cdk's default, AdministratorAccess).
 */
export const policyList = (value: string): string[] =>
  value
    .replace(/^\[|\]$/g, "")
    .split(",")
    .map((item) => item.trim().replace(/^'|'$/g, ""))
    .filter(Boolean);

/** What bootstrap is asked for, checked already. */
export interface BootstrapRequest {
  githubRepository: string;
  ids?: { ownerId: string; repositoryId: string };
  repository: string;
  signing: boolean;
}

/** Runs the steps; resolves with the report (what changed, or that nothing did, and what is left to do by hand). */
export async function bootstrapAccount(setting: { source: Directory; region: string; secrets: CdkCredentials; credentials: AwsCredentials }, request: BootstrapRequest): Promise<string> {
  const { region } = setting;
  const identity = await callerIdentity(createStsClient(region, setting.credentials), region);
  const cloudformation = createCloudFormationClient(region, setting.credentials);
  const environment = `aws://${identity.account}/${region}`;
  const base = cdkContainer(setting.source, region, setting.secrets);
  const changed: string[] = [];
  const lines: string[] = [`bootstrap of ${environment} for ${request.githubRepository}`];

  const toolkit = await describeStack(cloudformation, region, TOOLKIT_STACK);
  if (toolkit) lines.push(`  cdk bootstrap: ${TOOLKIT_STACK} stands (${toolkit.status}, version ${outputValue(toolkit, "BootstrapVersion") ?? "?"}): left as is`);
  else {
    await runCdk("bootstrap: cdk bootstrap", base, ["bootstrap", environment]);
    changed.push(`${environment} bootstrapped (${TOOLKIT_STACK} created)`);
    lines.push(`  cdk bootstrap: ${TOOLKIT_STACK} created`);
  }

  const context = [
    ["githubRepository", request.githubRepository],
    ...(request.ids ? [["githubOwnerId", request.ids.ownerId], ["githubRepositoryId", request.ids.repositoryId]] : []),
    ["region", region],
    ["ecrRepository", request.repository],
  ].flatMap(([key, value]) => ["-c", `${key}=${value}`]);
  const deployed = await runCdk(`bootstrap: cdk deploy ${IDENTITY_STACK}`, base, ["deploy", IDENTITY_STACK, "--require-approval", "never", ...context]);
  if (unchanged(deployed.output)) lines.push(`  ${IDENTITY_STACK}: no changes`);
  else {
    changed.push(`${IDENTITY_STACK} deployed`);
    lines.push(`  ${IDENTITY_STACK}: deployed`);
  }
  const stack = await describeStack(cloudformation, region, IDENTITY_STACK);
  if (!stack) throw new AwsError(`${IDENTITY_STACK} was deployed but CloudFormation does not show it in ${region}`);

  const policy = outputValue(stack, EXECUTION_POLICY_OUTPUT);
  if (policy === undefined) lines.push(`  execution policy: ${IDENTITY_STACK} has no ${EXECUTION_POLICY_OUTPUT} output: the toolkit keeps its execution policies`);
  else {
    const current = policyList((await describeStack(cloudformation, region, TOOLKIT_STACK))?.parameters[EXECUTION_POLICIES_PARAMETER] ?? "").join(",");
    if (current === policy) lines.push(`  execution policy: the toolkit already uses ${policy}`);
    else {
      await runCdk("bootstrap: cdk bootstrap --cloudformation-execution-policies", base, ["bootstrap", environment, "--cloudformation-execution-policies", policy]);
      changed.push(`${TOOLKIT_STACK} now uses ${policy} (was: ${current || "AdministratorAccess, cdk's default"})`);
      lines.push(`  execution policy: ${current || "AdministratorAccess (default)"} -> ${policy}`);
    }
  }

  const signingProfileArn = request.signing ? outputValue(stack, "SigningProfileArn") : undefined;
  if (request.signing && signingProfileArn === undefined) throw new AwsError(`--signing: ${IDENTITY_STACK} has no SigningProfileArn output; nothing after the identity stack was changed`);
  const registry = await setUpRegistry(createEcrClient(region, setting.credentials), request.repository, DEFAULT_KEEP, signingProfileArn, { region, repository: request.repository });
  changed.push(...registry.changed);
  lines.push(...registry.lines.map((line) => `  ${line}`));

  const variables = githubVariables(stack);
  const environments = serviceEnvironments(variables);
  const aws = `dagger call aws --region=${region} --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN`;
  return [
    ...lines,
    changed.length === 0 ? "nothing changed: the account, the identity stack and the registry were already set up" : `changed: ${changed.join("; ")}`,
    "",
    "Left to do by hand. 1. The GitHub side (paste; an existing environment is left as it is, add required reviewers to production and registry: README, \"Who can assume what\"):",
    ...githubSetupLines(variables, request.githubRepository),
    "2. The first release: push to main (CI publishes it), or from here:",
    `${aws} publish --repository=${request.repository}`,
    "3. The environments' stacks (CI provisions them on main from then on):",
    ...environments.map((name) => `${aws} provision --environment=${name}`),
  ].join("\n");
}
