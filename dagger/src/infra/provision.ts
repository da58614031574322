/**
 * `provision`: `cdk diff` (the plan) and `cdk deploy` of one environment's stack, HonoService-<environment>, with the
 * parameters that keep what runs there: the image digest the service runs now (so an infrastructure change never
 * reverts a release) and, for blue/green, the weights the production listener rule has now (ECS rewrites them at each
 * deployment; a CloudFormation update of the rule, or a replaced rule, writes the template's back: aws/aws-cdk#36649).
 * Every read goes through the CDK lookup role (./accounts.ts); cdk runs in a container (./cdk.ts).
 */
import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { AwsError } from "../aws-errors.js";
import { listServiceDeployments, type DeployRuntime, type ServiceTarget } from "../deploy/ecs.js";
import { serviceStackName } from "../deploy/names.js";
import { ONGOING_STATUSES, shortId } from "../deploy/rollout.js";
import { serviceStatus, type StatusReport } from "../deploy/status.js";
import { describeImage, findImageByTag } from "../ecr/registry.js";
import { LATEST_TAG } from "../ecr/release-tags.js";
import { describeStack, type StackDescription } from "./accounts.js";
import type { ProvisionImage } from "./validate.js";

/** The stack's parameters provision sets (infra/service-stack.ts declares them). */
export const IMAGE_PARAMETER = "ImageDigest";
/** The production rule's weights of the blue (TargetGroup) and green (AlternateTargetGroup) target group, blue/green only. */
export const WEIGHT_PARAMETERS = ["TargetGroupWeight", "AlternateTargetGroupWeight"] as const;
/** The stack output naming the target groups, blue first (infra/service-stack.ts). */
const TARGET_GROUPS_OUTPUT = "TargetGroupArns";
/** The stack output naming the ECR repository the tasks pull from (infra/service-stack.ts). */
export const REPOSITORY_OUTPUT = "EcrRepositoryName";
/** Stack states in which no stack stands yet: cdk deploy creates it (a failed first create is deleted and created again). */
const NOT_CREATED = new Set(["REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"]);

/** What a synthesized template says provision needs: its declared parameters and the repository its tasks pull from. */
export interface TemplateFacts {
  parameters: string[];
  repository?: string;
}

/** The parameters and the ECR repository of a synthesized service-stack template (its JSON text). */
export function templateFacts(text: string): TemplateFacts {
  const template = JSON.parse(text) as { Parameters?: Record<string, unknown>; Outputs?: Record<string, { Value?: unknown }> };
  const repository = template.Outputs?.[REPOSITORY_OUTPUT]?.Value;
  return { parameters: Object.keys(template.Parameters ?? {}), ...(typeof repository === "string" ? { repository } : {}) };
}

/** What stands in the environment now, read through the lookup role. */
export interface LiveState {
  stack?: StackDescription;
  /** Present once the service exists. */
  status?: StatusReport;
  /** Deployments under way (a blue/green one mid-shift has its weights half-way). */
  inProgress: string[];
}

/** The environment's stack and service as they are now; the service is read only when the stack stands. */
export async function liveState(cloudformation: CloudFormationClient, runtime: DeployRuntime, target: ServiceTarget): Promise<LiveState> {
  const stack = await describeStack(cloudformation, target.region, serviceStackName(target.environment));
  if (!stack || NOT_CREATED.has(stack.status)) return { ...(stack ? { stack } : {}), inProgress: [] };
  const status = await serviceStatus(runtime, target);
  // As deploy checks before it changes anything (../deploy/deploy.ts currentState): a deployment whose own rolloutState
  // is IN_PROGRESS, or a service deployment the service-deployment API lists as ongoing (blue/green: through its bake).
  const ongoing = await listServiceDeployments(runtime.clients, target, { statuses: ONGOING_STATUSES });
  const inProgress = [
    ...status.deployments.filter((deployment) => deployment.rolloutState === "IN_PROGRESS").map((deployment) => `deployment ${deployment.id} (${deployment.status}, IN_PROGRESS)`),
    ...ongoing.map((brief) => `service deployment ${shortId(brief.serviceDeploymentArn)} (${brief.status})`),
  ];
  return { stack, status, inProgress };
}

/** What is under way in the environment (a deployment mid-shift), or undefined. */
export const underWay = (live: LiveState, environment: string): string | undefined =>
  live.inProgress.length > 0 ? `a deployment of ${environment} is under way (${live.inProgress.join("; ")})` : undefined;

/** Throws provision's refusal when a deployment is under way (checked after the reads and again just before cdk deploy). */
export function refuseUnderWay(live: LiveState, environment: string): void {
  const busy = underWay(live, environment);
  if (busy) throw new AwsError(`provision refused: ${busy}, its traffic weights are mid-shift. Wait for it to end (dagger call aws ... status --environment=${environment}), then provision again; nothing was changed`);
}

/** The image the stack is given, and why that one. */
export interface ChosenImage {
  digest: string;
  why: string;
}

/**
 * The digest the stack runs: the one the service runs now (whatever --image says: provision never moves a release,
 * deploy does); on the first provision, --image or the release `latest` points to in the stack's repository.
 */
export async function chooseImage(runtime: DeployRuntime, target: ServiceTarget, live: LiveState, image: ProvisionImage | undefined, repository: string): Promise<ChosenImage> {
  if (live.status) {
    if (!live.status.digest) throw new AwsError(`${target.environment}'s service runs ${live.status.image}, not an image by digest: deploy a release first (dagger call aws ... deploy), then provision`);
    const ignored = image?.digest !== undefined && image.digest !== live.status.digest ? `; --image ${image.digest} is not used: deploy moves releases` : "";
    return { digest: live.status.digest, why: `the digest ${target.environment} runs now (${live.status.taskDefinition})${ignored}` };
  }
  const name = image?.repository ?? repository;
  if (image?.repository !== undefined && image.repository !== repository) {
    throw new AwsError(`--image is in repository "${image.repository}", but the stack's tasks pull from "${repository}" (context ecrRepository)`);
  }
  const context = { region: target.region, repository: name };
  if (image?.digest !== undefined) {
    const found = await describeImage(runtime.clients.ecr, name, { imageDigest: image.digest }, context);
    if (!found?.imageDigest) throw new AwsError(`no image ${image.digest} in ECR repository "${name}" in ${target.region}: publish it first (dagger call aws ... publish)`);
    return { digest: found.imageDigest, why: "--image (first provision: no service yet)" };
  }
  const tag = image?.tag ?? LATEST_TAG;
  const digest = await findImageByTag(runtime.clients.ecr, name, tag, context);
  if (!digest) throw new AwsError(`no image tagged ${tag} in ECR repository "${name}" in ${target.region}: publish a release first (push to main, or dagger call aws ... publish --repository=${name})`);
  return { digest, why: `${name}:${tag} (first provision: no service yet${image ? "" : "; the newest release publish tagged latest"})` };
}

/**
 * The production rule's weights now, as the stack's weight parameters (blue = the first of the stack's TargetGroupArns
 * output). Undefined when the service has no such rule (rolling, or not created yet): the template's 100/0 stands.
 */
export function liveWeights(live: LiveState): Record<(typeof WEIGHT_PARAMETERS)[number], string> | undefined {
  const traffic = live.status?.traffic;
  if (!traffic || traffic.length === 0) return undefined;
  const groups = (live.stack?.outputs.find((output) => output.key === TARGET_GROUPS_OUTPUT)?.value ?? "").split(",").filter(Boolean);
  const unknown = traffic.filter((share) => !groups.includes(share.targetGroupArn));
  if (groups.length !== 2 || unknown.length > 0) {
    throw new AwsError(
      `the production listener rule forwards to ${traffic.map((share) => share.targetGroupArn).join(", ")}, not to the stack's two target groups (output ${TARGET_GROUPS_OUTPUT}: ${groups.join(", ") || "none"}): set the rule right by hand before provisioning`,
    );
  }
  const weight = (arn: string) => traffic.find((share) => share.targetGroupArn === arn)?.weight ?? 0;
  const [blue, green] = groups as [string, string];
  if (weight(blue) + weight(green) === 0) throw new AwsError("the production listener rule gives both target groups weight 0: set the rule right by hand before provisioning");
  return { TargetGroupWeight: String(weight(blue)), AlternateTargetGroupWeight: String(weight(green)) };
}

/**
 * The `--parameters` values for the stack: only those its template declares (cdk passes unknown ones on and
 * CloudFormation fails). Without `digest`, ImageDigest is not passed and cdk keeps its previous value (UsePreviousValue:
 * aws/aws-cdk-cli 2.1148.1, packages/@aws-cdk/toolkit-lib/lib/api/deployments/cfn-api.ts, ParameterValues).
 */
export function stackParameters(facts: TemplateFacts, digest: string | undefined, weights: Record<string, string> | undefined): Record<string, string> {
  const wanted: Record<string, string> = { ...(digest === undefined ? {} : { [IMAGE_PARAMETER]: digest }), ...(weights ?? {}) };
  return Object.fromEntries(Object.entries(wanted).filter(([key]) => facts.parameters.includes(key)));
}

/** `cdk --parameters` arguments for `stack`. */
export const parameterArgs = (stack: string, parameters: Record<string, string>): string[] => Object.entries(parameters).flatMap(([key, value]) => ["--parameters", `${stack}:${key}=${value}`]);

/** A line per target group the production rule forwards to: `blue weight 100, 2 healthy target(s)`. */
export const trafficLines = (status: StatusReport | undefined): string[] =>
  (status?.traffic ?? []).map((share) => `${share.targetGroupArn.split("/").slice(-2, -1)[0]} weight ${share.weight}, ${share.healthy} healthy target(s)`);

/** Longest wait, after the stack was created, for the target groups that get traffic to have a healthy target. */
export const TRAFFIC_CHECK_MS = 5 * 60_000;

/**
 * After cdk deploy: where the production rule sends traffic; fails loudly if a group that gets some has no healthy
 * target. After an update that is checked once (the tasks that served before still do); after the stack was created,
 * up to TRAFFIC_CHECK_MS for the first tasks to pass their health checks.
 */
export async function checkTrafficAfter(runtime: DeployRuntime, target: ServiceTarget, created: boolean): Promise<StatusReport> {
  const deadline = runtime.now() + (created ? TRAFFIC_CHECK_MS : 0);
  for (;;) {
    const status = await serviceStatus(runtime, target);
    if (!status.warning) return status;
    if (runtime.now() >= deadline) {
      throw new AwsError(`${serviceStackName(target.environment)} deployed, but ${status.warning}. Traffic now: ${trafficLines(status).join("; ")}`);
    }
    runtime.log(`${target.environment}: waiting for a healthy target where traffic goes (${trafficLines(status).join("; ")})`);
    await runtime.sleep(runtime.pollMs);
  }
}
