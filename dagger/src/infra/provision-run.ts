/**
 * `provision` end to end: the reads through the CDK lookup role, then `cdk synth`, `cdk diff` (the plan) and, unless
 * --plan, `cdk deploy` in a container with the parameters that keep what runs (./provision.ts), then the traffic
 * checked again. The synthesized template is compared with the deployed one (./template-change.ts): no difference
 * skips `cdk deploy`; the running digest is passed only when the task definition or the service changes anyway.
 * Just before `cdk deploy` the environment is read again: a deployment under way, or one that ended since, refuses.
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
import { assumeLookupRole, callerIdentity, cdkQualifier, createCloudFormationClient, createStsClient, deployedTemplate } from "./accounts.js";
import { CDK_OUT, cdkContainer, runCdk, unchanged, type CdkCredentials } from "./cdk.js";
import { checkTrafficAfter, chooseImage, IMAGE_PARAMETER, liveState, liveWeights, parameterArgs, refuseUnderWay, stackParameters, templateFacts, trafficLines, underWay } from "./provision.js";
import { templateChange, type TemplateChange } from "./template-change.js";
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
  // The lookup role of the qualifier the stacks are synthesized with (cdk.json, as infra/config.ts reads it).
  const qualifier = cdkQualifier(await setting.source.file("cdk.json").contents());
  const sts = createStsClient(setting.region, setting.credentials);
  const lookup = await assumeLookupRole(sts, setting.region, await callerIdentity(sts, setting.region), qualifier);
  const runtime = realRuntime(createDeployClients(setting.region, lookup));
  const cloudformation = createCloudFormationClient(setting.region, lookup);
  const live = await liveState(cloudformation, runtime, target);
  const busy = underWay(live, target.environment);
  if (!options.plan) refuseUnderWay(live, target.environment);

  const base = cdkContainer(setting.source, setting.region, setting.secrets);
  const synth = await runCdk(`provision ${target.environment}: cdk synth`, base, ["synth", stack, "--quiet", "-c", `region=${setting.region}`]);
  const synthesized = await synth.container.file(`${CDK_OUT}/${stack}.template.json`).contents();
  const facts = templateFacts(synthesized);
  // A plan shows the diff even before the first release exists; provisioning needs one.
  const image = await chooseImage(runtime, target, live, options.image, facts.repository ?? APP_NAME).catch((error: unknown) => {
    if (options.plan && error instanceof AwsError) return { digest: "(none)", why: error.message };
    throw error;
  });
  const weights = liveWeights(live);
  const previous = live.stack?.parameters ?? {};
  // The weights change the listener rule (when they differ from the stack's); the digest is passed only when the task
  // definition or the service changes anyway (./template-change.ts): otherwise the stack keeps its previous one.
  const changedWeights = Object.entries(stackParameters(facts, undefined, weights)).filter(([key, value]) => previous[key] !== value).map(([key]) => key);
  const change: TemplateChange = live.status ? templateChange(await deployedTemplate(cloudformation, setting.region, stack), synthesized, changedWeights) : { kind: "service", why: ["the stack is created"] };
  const parameters = stackParameters(facts, change.kind === "service" ? image.digest : undefined, weights);
  const diff = await runCdk(`provision ${target.environment}: cdk diff`, synth.container, ["diff", stack, "--app", CDK_OUT, "--method=template"]);

  const kept = parameters[IMAGE_PARAMETER] === undefined && previous[IMAGE_PARAMETER] !== undefined ? [`${IMAGE_PARAMETER} not passed (the stack keeps ${previous[IMAGE_PARAMETER]})`] : [];
  const changes = Object.entries(parameters).map(([key, value]) => (previous[key] === undefined ? `${key}=${value} (new)` : previous[key] === value ? `${key}=${value} (unchanged)` : `${key}=${previous[key]} -> ${value}`));
  const lines = [
    `${options.plan ? "plan" : "provision"} of ${stack} (${live.stack ? `stack ${live.stack.status}` : "no stack yet: it will be created"})`,
    `  image:      ${image.digest}, ${image.why}`,
    weights
      ? `  traffic:    the production rule's weights now, passed on: ${trafficLines(live.status).join("; ")}`
      : `  traffic:    ${facts.parameters.includes("TargetGroupWeight") ? "no production rule yet: the template's 100/0" : "one target group (rolling): no weights"}`,
    `  change:     ${changeLine(change)}`,
    `  parameters: ${[...changes, ...kept].join(", ") || "none"}`,
    ...(busy ? [`  WARNING:    ${busy}: provision will refuse until it ends`] : []),
    ...(live.status?.warning ? [`  WARNING:    ${live.status.warning}`] : []),
    "  plan (cdk diff, template against the deployed one):",
    ...diff.output.split("\n").map((line) => `    ${line}`),
  ];
  if (options.plan) return lines.join("\n");
  if (change.kind === "none") return [...lines, "  deployed:   no change (the deployed template is the synthesized one): cdk deploy skipped"].join("\n");

  // Minutes after the first reads: a deploy that started since would race the stack update, one that ended since
  // moved the digest or the weights read above.
  const now = await liveState(cloudformation, runtime, target);
  refuseUnderWay(now, target.environment);
  if (now.status?.digest !== live.status?.digest || JSON.stringify(liveWeights(now)) !== JSON.stringify(weights)) {
    throw new AwsError(`provision refused: what runs in ${target.environment} changed since provision read it (digest ${live.status?.digest ?? "none"} -> ${now.status?.digest ?? "none"}): provision again; nothing was changed`);
  }

  const deploy = await runCdk(`provision ${target.environment}: cdk deploy`, diff.container, ["deploy", stack, "--app", CDK_OUT, "--require-approval", "never", ...parameterArgs(stack, parameters)]);
  const after = await checkTrafficAfter(runtime, target, live.status === undefined);
  return [
    ...lines,
    `  deployed:   ${unchanged(deploy.output) ? "no changes (the template and the parameters are what the stack has)" : `${stack} ${live.stack ? "updated" : "created"}`}`,
    ...deploy.output.split("\n").slice(-DEPLOY_TAIL_LINES).map((line) => `    ${line}`),
    ...trafficLines(after).map((line) => `  traffic after: ${line}`),
  ].join("\n");
}

/** The report's line on what the deploy changes and so which digest it passes. */
const changeLine = (change: TemplateChange): string =>
  change.kind === "none"
    ? "none: the deployed template is the synthesized one; cdk deploy is skipped"
    : change.kind === "other"
      ? "the task definition and the service stay as deployed: ImageDigest is not passed (CloudFormation keeps its value), no ECS deployment starts"
      : `${change.why.join(", ")}: ImageDigest=<the image above> is passed`;
