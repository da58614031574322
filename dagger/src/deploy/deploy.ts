/**
 * deploy and rollback of one environment's ECS service (status: ./status.ts). The Dagger functions in ../aws.ts are thin wrappers;
 * everything here is plain TypeScript over the AWS SDK, with the clock, the sleep and fetch injected (the tests drive them).
 */
import type { Deployment, Service } from "@aws-sdk/client-ecs";
import { InputError } from "../ecr/validate.js";
import { describeImage, platformImages } from "../ecr/registry.js";
import { platformOfTag, releaseTagOf } from "../ecr/release-tags.js";
import {
  containerImage,
  describeRevision,
  describeService,
  describeServiceDeployment,
  listServiceDeployments,
  loadBalancerUrl,
  parseImage,
  registerRevisionWithImage,
  refuseStackUpdate,
  RELEASE_TAG,
  serviceTags,
  serviceTargetGroups,
  tagService,
  tagValue,
  targetHealth,
  taskAddress,
  tasksOf,
  untagService,
  updateService,
  type DeployRuntime,
  type Revision,
  type ServiceTarget,
} from "./ecs.js";
import { DeployError } from "./errors.js";
import { previousRevision } from "./history.js";
import { checkReleaseOrder, checkRollbackTarget, freezeTag, frozenAgainst, ROLLED_BACK_FROM_TAG, type OrderVerdict, type PushedImage } from "./order.js";
import { marksOf, markEnvironment } from "./retention.js";
import { bakeMinutes, DEFAULT_ROLLOUT_MINUTES, followRollout, ONGOING_STATUSES, shortId } from "./rollout.js";
import { awaitScanFindings, awaitSignature, expectedSigningProfiles } from "../supply-chain/registry-checks.js";
import type { Severity } from "../supply-chain/vulnerabilities.js";
import type { ImageChoice } from "./validate.js";
import { waitForHealthyTargets, waitForVersion } from "./verify.js";

export interface DeployOptions {
  /** Longest wait for the rollout and the checks after it; omitted: DEFAULT_ROLLOUT_MINUTES plus the service's bake time. */
  timeoutMs?: number;
  /** Consecutive `/version` answers with the released commit that prove it serves. */
  checks: number;
  /** Where `/version` is asked (default: the load balancer's DNS name, for an HTTP-only environment). */
  url?: string;
  /** Lowest severity of ECR's scan findings that refuses the image. */
  severity: Severity;
  /** Deploy despite findings at or above `severity`, for this reason (printed in the report). */
  allowVulnerable?: string;
  /** Deploy although ECR has no scan result and will not get one (expired, unsupported, never scanned), for this reason. */
  allowUnscanned?: string;
  /** Rollback only: roll back although the signature check cannot pass (e.g. the signing profile was rotated since), for this reason. */
  allowUnsigned?: string;
  /** Deploy a release older than the running one, or than the one a rollback left behind, for this reason (order.ts). */
  allowOlder?: string;
}

/** Options with the timeout decided. */
type Resolved = DeployOptions & { timeoutMs: number };

/** The timeout given, or one that covers the environment's bake time (read from the service's deployment configuration). */
function resolveOptions(options: DeployOptions, service: Service): Resolved {
  return { ...options, timeoutMs: options.timeoutMs ?? (DEFAULT_ROLLOUT_MINUTES + bakeMinutes(service)) * 60_000 };
}

/** What a deploy or rollback did. */
export interface DeployReport {
  environment: string;
  commit: string;
  image: string;
  taskDefinition: string;
  previousTaskDefinition: string;
  url?: string;
  elapsedMs: number;
  /** True when the release already ran: nothing was changed. */
  unchanged: boolean;
  /** ECR's scan of the image the tasks run, and the signature, as checked before the deploy. */
  checks?: string[];
}

export type { DeployRuntime } from "./ecs.js";
export { realRuntime } from "./ecs.js";

/** The running service, its PRIMARY deployment, that deployment's revision and the service container's image. */
interface Current {
  service: Service;
  primary: Deployment;
  revision: Revision;
  image: string;
}

/** A release resolved in ECR: the image by digest and the release tag (the commit) that /version reports. */
interface Release {
  image: string;
  digest: string;
  commit: string;
  repository: string;
  /** The image the tasks pull for their architecture: the index's platform image, or the image itself. */
  platformDigest: string;
  /** Every platform image of the index (none for a single image). */
  platformDigests: string[];
  /** When ECR received it: the order releases go in. */
  pushedAt?: Date;
}

/**
 * The service as it is, refused if a deployment is still under way (two deploys must never race): a deployment whose
 * own rolloutState is IN_PROGRESS, whatever its status (PRIMARY or not), or a service deployment the service-deployment
 * API lists as ongoing (a blue/green deployment stays IN_PROGRESS there through its bake, whatever rolloutState says).
 */
async function currentState(runtime: DeployRuntime, target: ServiceTarget): Promise<Current> {
  await refuseStackUpdate(runtime.clients, target);
  const service = await describeService(runtime.clients, target);
  const deployments = service.deployments ?? [];
  const primary = deployments.find((deployment) => deployment.status === "PRIMARY");
  if (!primary?.taskDefinition) throw new DeployError("in-progress", `service ${target.service} in ${target.cluster} has no PRIMARY deployment`);
  const unfinished = deployments
    .filter((deployment) => deployment.rolloutState === "IN_PROGRESS")
    .map((deployment) => `${deployment.id} (${deployment.status}, ${deployment.rolloutState}, ${deployment.taskDefinition}, since ${deployment.createdAt?.toISOString() ?? "?"})`);
  const ongoing = (await listServiceDeployments(runtime.clients, target, { statuses: ONGOING_STATUSES })).map(
    (brief) => `service deployment ${shortId(brief.serviceDeploymentArn)} (${brief.status}, since ${brief.createdAt?.toISOString() ?? "?"})`,
  );
  if (unfinished.length + ongoing.length > 0) {
    throw new DeployError("in-progress", `another deployment of ${target.environment} is under way: ${[...unfinished, ...ongoing].join("; ")}. Wait for it to end (status) before deploying; nothing was changed`);
  }
  const revision = await describeRevision(runtime.clients, target, primary.taskDefinition);
  return { service, primary, revision, image: containerImage(revision.taskDefinition, target.container) };
}

/**
 * Finds the release in the repository the service runs from, checks that it exists and that it runs on the task
 * definition's CPU architecture. Nothing is changed yet.
 */
async function resolveRelease(runtime: DeployRuntime, target: ServiceTarget, current: Current, choice: ImageChoice): Promise<Release> {
  const running = parseImage(current.image);
  if (choice.repository !== undefined && choice.repository !== running.repository) {
    throw new InputError(`--image is in repository "${choice.repository}", but ${target.environment} pulls from "${running.repository}" (its execution role may pull only from that one)`);
  }
  const context = { region: target.region, repository: running.repository };
  const detail = await describeImage(runtime.clients.ecr, running.repository, choice.commit !== undefined ? { imageTag: choice.commit } : { imageDigest: choice.digest! }, context);
  if (!detail?.imageDigest) {
    throw new DeployError(
      "image-missing",
      `no image ${choice.commit !== undefined ? `tagged ${choice.commit}` : choice.digest} in ECR repository "${running.repository}" in ${target.region}: publish it first (dagger call aws ... publish), or check the lifecycle policy has not expired it`,
    );
  }
  const digest = detail.imageDigest;
  const commit = choice.commit ?? releaseTagOf(detail.imageTags ?? []);
  if (!commit) throw new DeployError("image-missing", `image ${digest} has no release tag in "${running.repository}" (tags: ${(detail.imageTags ?? []).join(", ") || "none"}): deploy a release that publish made`);

  const architecture = current.revision.taskDefinition.runtimePlatform?.cpuArchitecture === "ARM64" ? "arm64" : "amd64";
  const entries = await platformImages(runtime.clients.ecr, running.repository, digest, context);
  const platforms = entries?.map((entry) => entry.platform);
  if (platforms !== undefined && !platforms.includes(`linux/${architecture}`)) {
    throw new DeployError(
      "wrong-architecture",
      `image ${digest} has ${platforms.join(", ") || "no platform"}, but ${target.environment} runs linux/${architecture} tasks: publish it for linux/${architecture} (the default publishes both), or change the architecture in infra/environments.ts`,
    );
  }
  if (platforms === undefined) {
    const tagged = (detail.imageTags ?? []).map(platformOfTag).find(Boolean);
    if (tagged && tagged !== `linux/${architecture}`) {
      throw new DeployError("wrong-architecture", `image ${digest} is a ${tagged} image, but ${target.environment} runs linux/${architecture} tasks`);
    }
    if (!tagged) runtime.log(`warning: ${digest} is a single-platform image without a platform tag: its architecture cannot be checked before ECS pulls it`);
  }
  const platformDigest = entries?.find((entry) => entry.platform === `linux/${architecture}`)?.digest ?? digest;
  return { image: `${running.registry}/${running.repository}@${digest}`, digest, commit, repository: running.repository, platformDigest, platformDigests: entries?.map((entry) => entry.digest) ?? [], ...(detail.imagePushedAt ? { pushedAt: detail.imagePushedAt } : {}) };
}

/** A release as the order rule sees it: its digest and push time. */
const pushedImage = (release: Release): PushedImage => ({ digest: release.digest, ...(release.pushedAt ? { pushedAt: release.pushedAt } : {}) });

/** The image the service runs now, with its push time when ECR still has it. */
async function runningImage(runtime: DeployRuntime, target: ServiceTarget, current: Current): Promise<PushedImage> {
  const { repository, digest } = parseImage(current.image);
  if (!digest) return { digest: current.image };
  const detail = await describeImage(runtime.clients.ecr, repository, { imageDigest: digest }, { region: target.region, repository });
  return { digest, ...(detail?.imagePushedAt ? { pushedAt: detail.imagePushedAt } : {}) };
}

/** order.ts's rule for `release`: the report lines, and the freeze a rollback left (lifted once the release serves). */
async function checkOrder(runtime: DeployRuntime, target: ServiceTarget, current: Current, release: Release, allowOlder: string | undefined): Promise<OrderVerdict> {
  const frozen = frozenAgainst(await serviceTags(runtime.clients, target, current.service.serviceArn!));
  const verdict = checkReleaseOrder(target.environment, pushedImage(release), await runningImage(runtime, target, current), frozen, allowOlder);
  for (const line of verdict.lines) runtime.log(`${target.environment}: ${line}`);
  return verdict;
}

/**
 * What ECR says of the release before it runs: its scan of the image the tasks pull (awaited; findings at or above the
 * threshold, or no scan result at all, refuse it unless accepted with a reason) and its signature by the registry's
 * signing profile (awaited; refused, except that a rollback may pass it with a reason: it only returns to a release
 * that already ran). Every override is printed in the report.
 */
async function checkRelease(runtime: DeployRuntime, target: ServiceTarget, release: Release, options: Resolved, verb: "deploy" | "roll back"): Promise<string[]> {
  const clock = { now: runtime.now, sleep: runtime.sleep, log: runtime.log, pollMs: runtime.pollMs, deadline: runtime.now() + options.timeoutMs };
  const context = { region: target.region, repository: release.repository };
  const signature = async (): Promise<string> => {
    try {
      const expected = await expectedSigningProfiles(runtime.clients.ecr, release.repository, context);
      const signed = await awaitSignature(runtime.clients.ecr, release.repository, { digest: release.digest, platformDigests: release.platformDigests }, expected, clock, context);
      return `signed by ${signed.profile} (${signed.on})`;
    } catch (error) {
      if (!(error instanceof DeployError) || error.failure !== "unsigned" || verb !== "roll back") throw error;
      if (options.allowUnsigned === undefined) throw new DeployError("unsigned", `${error.message}. Nothing was changed; to roll back anyway pass --allow-unsigned="<why>"`);
      return `rolled back without a valid signature (${error.message}), because: ${options.allowUnsigned}`;
    }
  };
  const [scan, signer] = await Promise.all([awaitScanFindings(runtime.clients.ecr, release.repository, release.platformDigest, options.severity, clock, context), signature()]);
  const lines: string[] = [];
  if (!scan.scanned) {
    const why = `ECR has no scan result for ${scan.digest}: ${scan.status}: ${scan.meaning}`;
    if (options.allowUnscanned === undefined) throw new DeployError("not-scanned", `${why}. Nothing was changed; to ${verb} anyway pass --allow-unscanned="<why the image is trusted unscanned>"`);
    lines.push(`${verb === "deploy" ? "deployed" : "rolled back"} unscanned (${why}), because: ${options.allowUnscanned}`);
  } else {
    const counts = Object.entries(scan.counts).map(([severity, count]) => `${count} ${severity}`).join(", ") || "no findings";
    lines.push(`ECR scan of ${scan.digest}: ${counts}`);
    if (scan.serious.length > 0) {
      if (options.allowVulnerable === undefined) {
        throw new DeployError(
          "vulnerable",
          `ECR's scan of ${scan.digest} found ${scan.serious.length} at ${options.severity} or above: ${scan.serious.join("; ")}. Nothing was changed; to ${verb} anyway pass --allow-vulnerable="<why the risk is accepted>"`,
        );
      }
      lines.push(`${verb === "deploy" ? "deployed" : "rolled back"} despite ${scan.serious.length} finding(s) at ${options.severity} or above (${scan.serious.join("; ")}), because: ${options.allowVulnerable}`);
    }
  }
  lines.push(signer);
  for (const line of lines) runtime.log(`${target.environment}: ${line}`);
  return lines;
}

/** Where /version is asked: --url, else the load balancer (HTTP only: an HTTPS certificate names the domain, not the ALB). */
async function serviceUrl(runtime: DeployRuntime, target: ServiceTarget, service: Service, url: string | undefined): Promise<string> {
  if (url !== undefined) return url;
  const groups = serviceTargetGroups(service);
  if (groups.length === 0) throw new InputError(`${target.environment}'s service is not behind a load balancer: pass --url=<where GET /version answers>`);
  const found = await loadBalancerUrl(runtime.clients, target, groups);
  if (found.https) throw new InputError(`${target.environment} serves HTTPS for its domain, which the load balancer's own name does not match: pass --url=https://<your domain>`);
  return found.url;
}

/**
 * Moves the service to `taskDefinitionArn`, follows its service deployment (./rollout.ts) and proves the release
 * serves. The service deployment is the one UpdateService's answer names (`currentServiceDeployment`), else the newest
 * ListServiceDeployments shows since just before the update.
 */
async function rollOut(runtime: DeployRuntime, target: ServiceTarget, current: Current, taskDefinitionArn: string, release: Release, url: string, options: Resolved): Promise<number> {
  const started = runtime.now();
  const deadline = started + options.timeoutMs;
  const seen = new Set((current.service.events ?? []).map((event) => event.id!).filter(Boolean));
  const since = new Date(Date.now() - 60_000);
  const updated = await updateService(runtime.clients, target, taskDefinitionArn);
  let arn = updated.currentServiceDeployment;
  runtime.log(`${target.environment}: service deployment ${arn ? shortId(arn) : "(not named yet)"} started: ${taskDefinitionArn} (${release.commit}), timeout ${Math.round(options.timeoutMs / 60_000)} min`);
  const serviceDeployment = async () => {
    arn ??= (await listServiceDeployments(runtime.clients, target, { since })).find((brief) => brief.serviceDeploymentArn)?.serviceDeploymentArn;
    return arn ? describeServiceDeployment(runtime.clients, target, arn) : undefined;
  };
  await followRollout(
    {
      describe: () => describeService(runtime.clients, target),
      serviceDeployment,
      stoppedReasons: async () =>
        (await tasksOf(runtime.clients, target, taskDefinitionArn, "STOPPED")).map((task) => `${task.taskArn?.split("/").pop()}: ${task.stoppedReason ?? "?"}${task.containers?.[0]?.reason ? ` (${task.containers[0].reason})` : ""}`),
      now: runtime.now,
      sleep: runtime.sleep,
      log: runtime.log,
      pollMs: runtime.pollMs,
      timeoutMs: options.timeoutMs,
    },
    taskDefinitionArn,
    current.revision.taskDefinition.taskDefinitionArn!,
    seen,
  );
  const addresses = (await tasksOf(runtime.clients, target, taskDefinitionArn, "RUNNING")).map(taskAddress).filter((ip): ip is string => ip !== undefined);
  const groups = serviceTargetGroups(current.service);
  if (groups.length > 0) await waitForHealthyTargets(runtime, addresses, () => targetHealth(runtime.clients, target, groups), deadline);
  await waitForVersion(runtime, url, release.commit, options.checks, deadline);
  return runtime.now() - started;
}

/**
 * Tags both ends of the rollout (deploy-aware retention, ./retention.ts): what the service moves to as deployed-<env>,
 * what it runs now as rollback-<env>, so that whatever the outcome the image it runs is kept. Before the service changes
 * (after a rollback's freeze tag, which changes nothing that runs).
 */
async function markBothEnds(runtime: DeployRuntime, target: ServiceTarget, current: Current, release: Release): Promise<void> {
  const runningDigest = parseImage(current.image).digest;
  await markEnvironment(runtime.clients, target, release.repository, { deployed: release.digest, ...(runningDigest ? { rollback: runningDigest } : {}) }, runtime.log);
}

/**
 * Rolls out (both ends tagged already, markBothEnds), then moves the environment's tags to follow what runs: `after` on
 * success (the revision the service moved to, when its tags differ), the running one when ECS rolled the release back.
 */
async function rollOutRetained(
  runtime: DeployRuntime,
  target: ServiceTarget,
  current: Current,
  to: { arn: string; release: Release; after?: Revision },
  url: string,
  options: Resolved,
): Promise<number> {
  const settle = async (revision: Revision) => {
    try {
      await markEnvironment(runtime.clients, target, to.release.repository, await marksOf(runtime.clients, target, revision), runtime.log);
    } catch (error) {
      runtime.log(`warning: the ECR tags of ${target.environment} were not moved back to what it runs (${(error as Error).message}); the next deploy moves them`);
    }
  };
  try {
    const elapsedMs = await rollOut(runtime, target, current, to.arn, to.release, url, options);
    if (to.after) await settle(to.after);
    return elapsedMs;
  } catch (error) {
    if (error instanceof DeployError && (error.failure === "circuit-breaker" || error.failure === "deployment-alarm")) await settle(current.revision);
    throw error;
  }
}

/**
 * Deploys a release: registers a revision of the running task definition that differs only in the image, updates the
 * service, follows the rollout and proves the release serves. The image already running is a no-op.
 */
export async function deployRelease(runtime: DeployRuntime, target: ServiceTarget, choice: ImageChoice, given: DeployOptions): Promise<DeployReport> {
  const current = await currentState(runtime, target);
  const options = resolveOptions(given, current.service);
  const release = await resolveRelease(runtime, target, current, choice);
  const previous = current.revision.taskDefinition.taskDefinitionArn!;
  if (parseImage(current.image).digest === release.digest) {
    // Nothing to roll out; the environment's ECR tags are put where they belong (a repository set up before them).
    await markEnvironment(runtime.clients, target, release.repository, await marksOf(runtime.clients, target, current.revision), runtime.log);
    return { environment: target.environment, commit: release.commit, image: release.image, taskDefinition: previous, previousTaskDefinition: previous, elapsedMs: 0, unchanged: true };
  }
  const url = await serviceUrl(runtime, target, current.service, options.url);
  const order = await checkOrder(runtime, target, current, release, options.allowOlder);
  const checks = [...order.lines, ...(await checkRelease(runtime, target, release, options, "deploy"))];
  await markBothEnds(runtime, target, current, release);
  const registered = await registerRevisionWithImage(runtime.clients, target, current.revision, release.image, release.commit);
  runtime.log(`${target.environment}: registered ${registered.taskDefinitionArn} (${release.image}), replacing ${previous}`);
  const elapsedMs = await rollOutRetained(runtime, target, current, { arn: registered.taskDefinitionArn!, release }, url, options);
  if (order.liftsFreeze) await untagService(runtime.clients, target, current.service.serviceArn!, [ROLLED_BACK_FROM_TAG]);
  return { environment: target.environment, commit: release.commit, image: release.image, taskDefinition: registered.taskDefinitionArn!, previousTaskDefinition: previous, url, elapsedMs, unchanged: false, checks };
}

/**
 * Rolls back to the revision the running one replaced (recorded by deploy), or, when none is recorded or it is no longer
 * ACTIVE (a stack update registered the running one), to the newest older ACTIVE revision that ran a release; with the
 * same checks as a deploy.
 */
export async function rollbackRelease(runtime: DeployRuntime, target: ServiceTarget, given: DeployOptions): Promise<DeployReport> {
  const current = await currentState(runtime, target);
  const options = resolveOptions(given, current.service);
  const running = current.revision.taskDefinition.taskDefinitionArn!;
  const { revision: previous, image, how } = await previousRevision(runtime.clients, target, current.revision);
  const previousArn = previous.taskDefinition.taskDefinitionArn!;
  runtime.log(`${target.environment}: rollback target ${previousArn} (${how})`);
  const release = await resolveRelease(runtime, target, { ...current, revision: previous }, { digest: image.digest });
  const earlier = frozenAgainst(await serviceTags(runtime.clients, target, current.service.serviceArn!));
  checkRollbackTarget(target.environment, pushedImage(release), earlier);
  const url = await serviceUrl(runtime, target, current.service, options.url);
  const checks = await checkRelease(runtime, target, release, options, "roll back");
  // Frozen before the service moves: a deploy queued behind this rollback must not put the release back. A freeze
  // already there against a later release stays (a second rollback must not unfreeze the first one's release).
  const leaving = await runningImage(runtime, target, current);
  const freeze = earlier?.pushedAt && leaving.pushedAt && earlier.pushedAt > leaving.pushedAt ? earlier : leaving;
  await tagService(runtime.clients, target, current.service.serviceArn!, [freezeTag(freeze)]);
  runtime.log(`${target.environment}: frozen against ${freeze.digest}: deploy refuses it and older releases until a newer one is deployed`);
  runtime.log(`${target.environment}: rolling back from ${running} to ${previousArn} (${release.commit})`);
  await markBothEnds(runtime, target, current, release);
  const to = { arn: previousArn, release: { ...release, commit: tagValue(previous.tags, RELEASE_TAG) ?? release.commit }, after: previous };
  const elapsedMs = await rollOutRetained(runtime, target, current, to, url, options);
  return { environment: target.environment, commit: release.commit, image: release.image, taskDefinition: previousArn, previousTaskDefinition: running, url, elapsedMs, unchanged: false, checks };
}

/** A deploy or rollback report as a person (and the CI job summary) reads it. */
export function formatDeploy(report: DeployReport, verb: "deployed" | "rolled back"): string {
  if (report.unchanged) return `${report.environment} already runs ${report.commit} (${report.image}, ${report.taskDefinition}): nothing to do`;
  const seconds = Math.round(report.elapsedMs / 1000);
  return [
    `${verb} ${report.commit} to ${report.environment} in ${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`,
    `  image:           ${report.image}`,
    `  task definition: ${report.taskDefinition} (before: ${report.previousTaskDefinition})`,
    `  url:             ${report.url ?? "?"}`,
    ...(report.checks ?? []).map((line) => `  checked:         ${line}`),
  ].join("\n");
}
