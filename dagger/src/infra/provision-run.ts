/**
 * `provision` end to end: the reads through the CDK lookup role, then `cdk synth`, `cdk diff` (the plan) and, unless
 * --plan, `cdk deploy` in a container with the parameters that keep what runs (./provision.ts), then the traffic
 * checked again.
 *
 * Roles, as the aws-cdk CLI uses them (aws/aws-cdk-cli, main at v2.1138 and the repository's 2.1148.1): `cdk diff
 * --method=template` reads the deployed template with the lookup role (packages/@aws-cdk/toolkit-lib/lib/api/deployments/deployments.ts,
 * readCurrentTemplateWithNestedStacks -> accessStackForLookupBestEffort) and creates no change set (the default "auto"
 * creates one with the deploy role: packages/aws-cdk/lib/cli/cli-config.ts, diff `method`), so a plan needs the lookup
 * role only; `cdk deploy` uses the deploy and file-publishing roles.
 */
import type { Directory } from "@dagger.io/dagger";
import { AwsError } from "../aws-errors.js";
import { createDeployClients, realRuntime, type ServiceTarget } from "../deploy/ecs.js";
import { APP_NAME, serviceStackName } from "../deploy/names.js";
import type { AwsCredentials } from "../ecr/registry.js";
import { assumeLookupRole, callerIdentity, createCloudFormationClient, createStsClient } from "./accounts.js";
import { CDK_OUT, cdkContainer, runCdk, unchanged, type CdkCredentials } from "./cdk.js";
import { checkTrafficAfter, chooseImage, liveState, liveWeights, parameterArgs, stackParameters, templateFacts, trafficLines } from "./provision.js";
import type { ProvisionImage } from "./validate.js";

/** Where provision runs: the repository, the region, and the credentials as secrets (for cdk) and as values (for the SDK). */
export interface ProvisionSetting {
  source: Directory;
  region: string;
  secrets: CdkCredentials;
  credentials: AwsCredentials;
}

/** Lines of cdk's output kept in the report after a deploy (its events are in the call's progress output). */
const DEPLOY_TAIL_LINES = 15;

/** Plans (`plan`) or provisions the environment's stack; resolves with the report. */
export async function provisionEnvironment(setting: ProvisionSetting, target: ServiceTarget, options: { plan: boolean; image?: ProvisionImage }): Promise<string> {
  const stack = serviceStackName(target.environment);
  const sts = createStsClient(setting.region, setting.credentials);
  const lookup = await assumeLookupRole(sts, setting.region, await callerIdentity(sts, setting.region));
  const runtime = realRuntime(createDeployClients(setting.region, lookup));
  const live = await liveState(createCloudFormationClient(setting.region, lookup), runtime, target);
  const underWay = live.inProgress.length > 0 ? `a deployment of ${target.environment} is under way (${live.inProgress.join("; ")})` : undefined;
  if (underWay && !options.plan) throw new AwsError(`provision refused: ${underWay}, its traffic weights are mid-shift. Wait for it to end (dagger call aws ... status --environment=${target.environment}), then provision again; nothing was changed`);

  const base = cdkContainer(setting.source, setting.region, setting.secrets);
  const synth = await runCdk(`provision ${target.environment}: cdk synth`, base, ["synth", stack, "--quiet", "-c", `region=${setting.region}`]);
  const facts = templateFacts(await synth.container.file(`${CDK_OUT}/${stack}.template.json`).contents());
  // A plan shows the diff even before the first release exists; provisioning needs one.
  const image = await chooseImage(runtime, target, live, options.image, facts.repository ?? APP_NAME).catch((error: unknown) => {
    if (options.plan && error instanceof AwsError) return { digest: "(none)", why: error.message };
    throw error;
  });
  const weights = liveWeights(live);
  const parameters = stackParameters(facts, image.digest, weights);
  const diff = await runCdk(`provision ${target.environment}: cdk diff`, synth.container, ["diff", stack, "--app", CDK_OUT, "--method=template"]);

  const previous = live.stack?.parameters ?? {};
  const changes = Object.entries(parameters).map(([key, value]) => (previous[key] === undefined ? `${key}=${value} (new)` : previous[key] === value ? `${key}=${value} (unchanged)` : `${key}=${previous[key]} -> ${value}`));
  const lines = [
    `${options.plan ? "plan" : "provision"} of ${stack} (${live.stack ? `stack ${live.stack.status}` : "no stack yet: it will be created"})`,
    `  image:      ${image.digest}, ${image.why}`,
    weights
      ? `  traffic:    the production rule's weights now, passed on: ${trafficLines(live.status).join("; ")}`
      : `  traffic:    ${facts.parameters.includes("TargetGroupWeight") ? "no production rule yet: the template's 100/0" : "one target group (rolling): no weights"}`,
    `  parameters: ${changes.join(", ")}`,
    ...(underWay ? [`  WARNING:    ${underWay}: provision will refuse until it ends`] : []),
    ...(live.status?.warning ? [`  WARNING:    ${live.status.warning}`] : []),
    "  plan (cdk diff, template against the deployed one):",
    ...diff.output.split("\n").map((line) => `    ${line}`),
  ];
  if (options.plan) return lines.join("\n");

  const deploy = await runCdk(`provision ${target.environment}: cdk deploy`, diff.container, ["deploy", stack, "--app", CDK_OUT, "--require-approval", "never", ...parameterArgs(stack, parameters)]);
  const after = await checkTrafficAfter(runtime, target, live.status === undefined);
  return [
    ...lines,
    `  deployed:   ${unchanged(deploy.output) ? "no changes (the template and the parameters are what the stack has)" : `${stack} ${live.stack ? "updated" : "created"}`}`,
    ...deploy.output.split("\n").slice(-DEPLOY_TAIL_LINES).map((line) => `    ${line}`),
    ...trafficLines(after).map((line) => `  traffic after: ${line}`),
  ].join("\n");
}
