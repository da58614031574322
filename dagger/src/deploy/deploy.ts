/**
 * deploy, rollback and status of one environment's ECS service. The Dagger functions in ../aws.ts are thin wrappers;
 * everything here is plain TypeScript over the AWS SDK, with the clock, the sleep and fetch injected (the tests drive them).
 */
import type { Deployment, Service } from "@aws-sdk/client-ecs";
import { InputError } from "../ecr/validate.js";
import { describeImage, platformImages } from "../ecr/registry.js";
import { isMutableTag, platformOfTag } from "../ecr/release-tags.js";
import {
  containerImage,
  describeRevision,
  describeService,
  loadBalancerUrl,
  PREVIOUS_TAG,
  registerRevisionWithImage,
  RELEASE_TAG,
  serviceTargetGroups,
  tagValue,
  targetHealth,
  taskAddress,
  tasksOf,
  updateService,
  type DeployClients,
  type Revision,
  type ServiceTarget,
} from "./ecs.js";
import { DeployError } from "./errors.js";
import { followRollout } from "./rollout.js";
import { awaitScanFindings, awaitSignature, expectedSigningProfiles } from "../supply-chain/registry-checks.js";
import type { Severity } from "../supply-chain/vulnerabilities.js";
import type { ImageChoice } from "./validate.js";
import { waitForHealthyTargets, waitForVersion, type VerifyRuntime } from "./verify.js";

/** The AWS clients plus the clock, sleep, fetch and progress output. */
export interface DeployRuntime extends VerifyRuntime {
  clients: DeployClients;
}

/** The real clock, sleep and fetch; progress lines to stderr (the Dagger call's progress output). */
export function realRuntime(clients: DeployClients): DeployRuntime {
  return {
    clients,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log: (line) => console.error(line),
    fetch: globalThis.fetch,
    pollMs: 10_000,
  };
}

export interface DeployOptions {
  /** Longest wait for the rollout and the checks after it. */
  timeoutMs: number;
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

/** What runs in an environment now. */
export interface StatusReport {
  environment: string;
  cluster: string;
  service: string;
  commit: string;
  image: string;
  digest?: string;
  taskDefinition: string;
  running: number;
  desired: number;
  pending: number;
  deployments: { id?: string; status?: string; taskDefinition?: string; rolloutState?: string; reason?: string; updatedAt?: string }[];
  events: string[];
}

/** The running service, its PRIMARY deployment, that deployment's revision and the service container's image. */
interface Current {
  service: Service;
  primary: Deployment;
  revision: Revision;
  image: string;
}

/** An image as the task definition names it: registry host, repository and digest. */
interface ImageReference {
  registry: string;
  repository: string;
  digest?: string;
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
}

function parseImage(image: string): ImageReference {
  const match = /^([^/]+)\/([^@:]+)(?:@(sha256:[a-f0-9]{64})|:[^@]+)?$/.exec(image);
  if (!match) throw new DeployError("image-missing", `the running task definition names an image this pipeline cannot read: ${image}`);
  const [, registry = "", repository = "", digest] = match;
  return { registry, repository, ...(digest ? { digest } : {}) };
}

/** The service as it is, refused if a deployment is still under way (two deploys must never race). */
async function currentState(runtime: DeployRuntime, target: ServiceTarget): Promise<Current> {
  const service = await describeService(runtime.clients, target);
  const deployments = service.deployments ?? [];
  const primary = deployments.find((deployment) => deployment.status === "PRIMARY");
  if (!primary?.taskDefinition) throw new DeployError("in-progress", `service ${target.service} in ${target.cluster} has no PRIMARY deployment`);
  const unfinished = deployments.filter((deployment) => deployment.status !== "PRIMARY" || deployment.rolloutState === "IN_PROGRESS");
  if (unfinished.length > 0) {
    const described = unfinished.map((deployment) => `${deployment.id} (${deployment.status}, ${deployment.rolloutState ?? "?"}, ${deployment.taskDefinition}, since ${deployment.createdAt?.toISOString() ?? "?"})`);
    throw new DeployError("in-progress", `another deployment of ${target.environment} is under way: ${described.join("; ")}. Wait for it to end (status) before deploying; nothing was changed`);
  }
  const revision = await describeRevision(runtime.clients, target, primary.taskDefinition);
  return { service, primary, revision, image: containerImage(revision.taskDefinition, target.container) };
}

/** The release tag among an image's tags: not `latest`, not a platform image's `<tag>-<os>-<arch>`. */
function releaseTagOf(tags: string[]): string | undefined {
  const candidates = tags.filter((tag) => !isMutableTag(tag) && platformOfTag(tag) === undefined);
  return candidates.find((tag) => /^[0-9a-f]{40}(-dirty-[0-9a-f]{12})?$/.test(tag)) ?? candidates[0];
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
  return { image: `${running.registry}/${running.repository}@${digest}`, digest, commit, repository: running.repository, platformDigest, platformDigests: entries?.map((entry) => entry.digest) ?? [] };
}

/**
 * What ECR says of the release before it runs: its scan of the image the tasks pull (awaited; findings at or above the
 * threshold, or no scan result at all, refuse it unless accepted with a reason) and its signature by the registry's
 * signing profile (awaited; refused, except that a rollback may pass it with a reason: it only returns to a release
 * that already ran). Every override is printed in the report.
 */
async function checkRelease(runtime: DeployRuntime, target: ServiceTarget, release: Release, options: DeployOptions, verb: "deploy" | "roll back"): Promise<string[]> {
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

/** Moves the service to `taskDefinitionArn`, follows the rollout and proves the release serves. */
async function rollOut(runtime: DeployRuntime, target: ServiceTarget, current: Current, taskDefinitionArn: string, release: Release, url: string, options: DeployOptions): Promise<number> {
  const started = runtime.now();
  const deadline = started + options.timeoutMs;
  const seen = new Set((current.service.events ?? []).map((event) => event.id!).filter(Boolean));
  const updated = await updateService(runtime.clients, target, taskDefinitionArn);
  const deployment = updated.deployments?.find((candidate) => candidate.status === "PRIMARY" && candidate.taskDefinition === taskDefinitionArn);
  if (!deployment?.id) throw new DeployError("in-progress", `ECS accepted the update but lists no PRIMARY deployment of ${taskDefinitionArn}`);
  runtime.log(`${target.environment}: deployment ${deployment.id} started: ${taskDefinitionArn} (${release.commit})`);
  await followRollout(
    {
      describe: () => describeService(runtime.clients, target),
      stoppedReasons: async () =>
        (await tasksOf(runtime.clients, target, taskDefinitionArn, "STOPPED")).map((task) => `${task.taskArn?.split("/").pop()}: ${task.stoppedReason ?? "?"}${task.containers?.[0]?.reason ? ` (${task.containers[0].reason})` : ""}`),
      now: runtime.now,
      sleep: runtime.sleep,
      log: runtime.log,
      pollMs: runtime.pollMs,
      timeoutMs: options.timeoutMs,
    },
    deployment.id,
    taskDefinitionArn,
    seen,
  );
  const addresses = (await tasksOf(runtime.clients, target, taskDefinitionArn, "RUNNING")).map(taskAddress).filter((ip): ip is string => ip !== undefined);
  const groups = serviceTargetGroups(current.service);
  if (groups.length > 0) await waitForHealthyTargets(runtime, addresses, () => targetHealth(runtime.clients, target, groups), deadline);
  await waitForVersion(runtime, url, release.commit, options.checks, deadline);
  return runtime.now() - started;
}

/**
 * Deploys a release: registers a revision of the running task definition that differs only in the image, updates the
 * service, follows the rollout and proves the release serves. The image already running is a no-op.
 */
export async function deployRelease(runtime: DeployRuntime, target: ServiceTarget, choice: ImageChoice, options: DeployOptions): Promise<DeployReport> {
  const current = await currentState(runtime, target);
  const release = await resolveRelease(runtime, target, current, choice);
  const previous = current.revision.taskDefinition.taskDefinitionArn!;
  if (parseImage(current.image).digest === release.digest) {
    return { environment: target.environment, commit: release.commit, image: release.image, taskDefinition: previous, previousTaskDefinition: previous, elapsedMs: 0, unchanged: true };
  }
  const url = await serviceUrl(runtime, target, current.service, options.url);
  const checks = await checkRelease(runtime, target, release, options, "deploy");
  const registered = await registerRevisionWithImage(runtime.clients, target, current.revision, release.image, release.commit);
  runtime.log(`${target.environment}: registered ${registered.taskDefinitionArn} (${release.image}), replacing ${previous}`);
  const elapsedMs = await rollOut(runtime, target, current, registered.taskDefinitionArn!, release, url, options);
  return { environment: target.environment, commit: release.commit, image: release.image, taskDefinition: registered.taskDefinitionArn!, previousTaskDefinition: previous, url, elapsedMs, unchanged: false, checks };
}

/** Rolls back to the revision the running one replaced (recorded by deploy), with the same checks as a deploy. */
export async function rollbackRelease(runtime: DeployRuntime, target: ServiceTarget, options: DeployOptions): Promise<DeployReport> {
  const current = await currentState(runtime, target);
  const running = current.revision.taskDefinition.taskDefinitionArn!;
  const previousArn = tagValue(current.revision.tags, PREVIOUS_TAG);
  if (!previousArn) {
    throw new DeployError("no-previous", `${target.environment} runs ${running}, which deploy did not register: no earlier revision is recorded. Deploy an earlier release instead (--commit=<sha>)`);
  }
  const previous = await describeRevision(runtime.clients, target, previousArn);
  if (previous.taskDefinition.status !== "ACTIVE") throw new DeployError("no-previous", `the previous revision ${previousArn} is ${previous.taskDefinition.status}: deploy its release instead (--commit=<sha>)`);
  const image = parseImage(containerImage(previous.taskDefinition, target.container));
  if (!image.digest) throw new DeployError("image-missing", `the previous revision ${previousArn} names its image by tag, not by digest: deploy a release instead`);
  const release = await resolveRelease(runtime, target, { ...current, revision: previous }, { digest: image.digest });
  const url = await serviceUrl(runtime, target, current.service, options.url);
  const checks = await checkRelease(runtime, target, release, options, "roll back");
  runtime.log(`${target.environment}: rolling back from ${running} to ${previousArn} (${release.commit})`);
  const elapsedMs = await rollOut(runtime, target, current, previousArn, { ...release, commit: tagValue(previous.tags, RELEASE_TAG) ?? release.commit }, url, options);
  return { environment: target.environment, commit: release.commit, image: release.image, taskDefinition: previousArn, previousTaskDefinition: running, url, elapsedMs, unchanged: false, checks };
}

/** What runs in the environment now, and how its last deployments went. */
export async function serviceStatus(runtime: DeployRuntime, target: ServiceTarget): Promise<StatusReport> {
  const service = await describeService(runtime.clients, target);
  const primary = service.deployments?.find((deployment) => deployment.status === "PRIMARY");
  const revision = primary?.taskDefinition ? await describeRevision(runtime.clients, target, primary.taskDefinition) : undefined;
  const image = revision ? containerImage(revision.taskDefinition, target.container) : "?";
  const digest = parseImage(image).digest;
  return {
    environment: target.environment,
    cluster: target.cluster,
    service: target.service,
    commit: (revision && tagValue(revision.tags, RELEASE_TAG)) ?? "unknown (a revision deploy did not register: the stack's first)",
    image,
    ...(digest ? { digest } : {}),
    taskDefinition: primary?.taskDefinition ?? "?",
    running: service.runningCount ?? 0,
    desired: service.desiredCount ?? 0,
    pending: service.pendingCount ?? 0,
    deployments: (service.deployments ?? []).map((deployment) => ({
      id: deployment.id,
      status: deployment.status,
      taskDefinition: deployment.taskDefinition,
      rolloutState: deployment.rolloutState,
      reason: deployment.rolloutStateReason,
      updatedAt: deployment.updatedAt?.toISOString(),
    })),
    events: (service.events ?? []).slice(0, 5).map((event) => `${event.createdAt?.toISOString() ?? ""} ${event.message ?? ""}`.trim()),
  };
}

/** A status report as a person reads it. */
export function formatStatus(report: StatusReport): string {
  return [
    `${report.environment}: service ${report.service} in cluster ${report.cluster}`,
    `  release:         ${report.commit}`,
    `  image:           ${report.image}`,
    `  task definition: ${report.taskDefinition}`,
    `  tasks:           ${report.running} running of ${report.desired} desired, ${report.pending} pending`,
    ...report.deployments.map((deployment) => `  deployment:      ${deployment.id} ${deployment.status} ${deployment.rolloutState ?? ""}${deployment.reason ? ` (${deployment.reason})` : ""} ${deployment.taskDefinition ?? ""}`),
    ...report.events.map((event) => `  event:           ${event}`),
  ].join("\n");
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
