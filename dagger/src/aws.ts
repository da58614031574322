/**
 * The functions that call AWS, behind one set of credentials: `dagger call aws --region=... --access-key-id=... ...`
 * followed by the function. Publishing to ECR and setting it up, deploying to, rolling back and reading the status of an
 * environment's ECS service, provisioning its stack, and the one-time bootstrap of the account.
 */
import { createHash } from "node:crypto";
import { argument, dag, func, object, type Directory, type File, type GitRepository, type Platform, type Secret } from "@dagger.io/dagger";
import type { ECRClient } from "@aws-sdk/client-ecr";
import type { CallContext } from "./aws-errors.js";
import { createDeployClients, serviceTarget } from "./deploy/ecs.js";
import { deployRelease, formatDeploy, realRuntime, rollbackRelease, type DeployOptions } from "./deploy/deploy.js";
import { formatStatus, serviceStatus } from "./deploy/status.js";
import { DIGEST_PATTERN, MAX_CHECKS, MAX_TIMEOUT_MINUTES, parseImageChoice, validateCount, validateEnvironmentName, validateServiceUrl, validateStatusFormat } from "./deploy/validate.js";
import { environmentReleases, evaluateLifecyclePolicy } from "./ecr/lifecycle-evaluator.js";
import { DEFAULT_KEEP, releaseLifecyclePolicy } from "./ecr/lifecycle.js";
import {
  createEcrClient,
  findImageByTag,
  getRegistryAuth,
  listImages,
  previewLifecyclePolicy,
  tagRelease,
  validateSigningProfileArn,
  type AwsCredentials,
} from "./ecr/registry.js";
import { DEFAULT_PLATFORMS, validatePlatforms, validateReleaseTag } from "./ecr/release-tags.js";
import { setUpRegistry } from "./ecr/setup.js";
import { InputError, registryHost, validateRepositoryName, validateTag, validateTags } from "./ecr/validate.js";
import { bootstrapAccount } from "./infra/bootstrap.js";
import { provisionEnvironment } from "./infra/provision-run.js";
import { parseProvisionImage, validateGithubIds, validateGithubRepository } from "./infra/validate.js";
import { buildImage, releaseImages, servicePackage } from "./release.js";
import { smokeTest } from "./smoke.js";
import { findPushedRelease, pushedReleaseSbom } from "./supply-chain/pushed-sbom.js";
import { sbomFile, vulnerabilityGate } from "./supply-chain/scan.js";
import { validateSeverity } from "./supply-chain/vulnerabilities.js";

/** Storage price of ECR (private repositories, per GB-month, most regions), for the lifecycle preview's cost column. */
const ECR_STORAGE_USD_PER_GB_MONTH = 0.1;

/** AWS functions (ECR and ECS), with the region and credentials given once to `aws`. */
@object()
export class Aws {
  /** The repository the releases are built from. */
  source: Directory;
  /** AWS region of the registry and the environments. */
  region: string;
  /** AWS access key id. */
  accessKeyId: Secret;
  /** AWS secret access key. */
  secretAccessKey: Secret;
  /** AWS session token, for temporary credentials such as OIDC. */
  sessionToken?: Secret;

  constructor(source: Directory, region: string, accessKeyId: Secret, secretAccessKey: Secret, sessionToken?: Secret) {
    this.source = source;
    this.region = region;
    this.accessKeyId = accessKeyId;
    this.secretAccessKey = secretAccessKey;
    this.sessionToken = sessionToken;
  }

  /** The credentials, read from their secrets just before a call (never logged, never put in a container). */
  private async credentials(): Promise<AwsCredentials> {
    return {
      accessKeyId: await this.accessKeyId.plaintext(),
      secretAccessKey: await this.secretAccessKey.plaintext(),
      ...(this.sessionToken ? { sessionToken: await this.sessionToken.plaintext() } : {}),
    };
  }

  /** An ECR client for `repository`'s calls, after the repository name is checked. */
  private async ecr(repository: string): Promise<{ client: ECRClient; context: CallContext }> {
    const context = { region: this.region, repository: validateRepositoryName(repository) };
    return { client: createEcrClient(this.region, await this.credentials()), context };
  }

  /**
   * Publishes a release to ECR: builds the image index (linux/amd64 and linux/arm64 by default) from one bundle, smoke-tests
   * the engine's own platform image, pushes exactly what it tested under the commit tag, then adds the other tags by
   * digest. A commit already in ECR is never rebuilt: the other tags move to the digest stored. The commit comes from the
   * repository; a checkout with uncommitted changes is refused unless --allow-dirty. Returns each reference with its digest.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN publish --repository=hono-ecr-service`
   */
  @func({ cache: "never" })
  async publish(
    /** ECR repository name, e.g. hono-ecr-service. */
    repository: string,
    /**
     * The git repository the release is built from (defaults to this one): its HEAD commit tags the release. The engine
     * loads it before publish runs; outside a git checkout the call stops there ("not a git repository").
     */
    @argument({ defaultPath: "/" })
    git: GitRepository,
    /** The commit to release, instead of the repository's HEAD. */
    commit?: string,
    /** Publish a checkout with uncommitted changes, tagged `<commit>-dirty-<hash of the changes>`. */
    allowDirty = false,
    /** Build time in seconds since 1970: the commit's time (`git log -1 --format=%ct`); omitted: "unknown" in /version. */
    sourceDateEpoch?: number,
    /** More tags for the release besides the commit, e.g. latest or v1.2.3 (CI on main passes latest). */
    tags?: string[],
    /** Platforms of the release (default: linux/amd64,linux/arm64). */
    platforms?: Platform[],
    /** Repository URL for the `org.opencontainers.image.source` label. */
    sourceUrl = "",
    /** Lowest severity of a fixable vulnerability that stops the push (the vulnerability gate, as in `dagger call scan`). */
    severity = "CRITICAL",
  ): Promise<string> {
    validateRepositoryName(repository);
    const threshold = validateSeverity(severity);
    const extraTags = tags === undefined ? [] : validateTags(tags).map(validateReleaseTag);
    const platformList = validatePlatforms(platforms ?? DEFAULT_PLATFORMS);
    if (commit !== undefined) validateReleaseTag(validateTag(commit));
    const release = await releaseTag(git, commit, allowDirty);
    const releaseTags = [release, ...extraTags.filter((tag) => tag !== release)];

    const { client, context } = await this.ecr(repository);
    // Also the check that the repository exists: a missing one stops the publish here, before anything is built.
    let digest = await findImageByTag(client, repository, release, context);
    const lines: string[] = [];
    if (digest) {
      lines.push(`${release} is already in ECR as ${digest}: not rebuilt, tags moved to it`);
    } else {
      const images = await releaseImages(this.source, platformList as Platform[], release, sourceDateEpoch, sourceUrl);
      const native = await dag.defaultPlatform();
      const tested = images.get(native) ?? (await buildImage(this.source, undefined, release, sourceDateEpoch, sourceUrl));
      const pkg = await servicePackage(this.source);
      lines.push(await smokeTest(tested, pkg.name));
      if (!images.has(native)) lines.push(`smoke-tested on ${native}, from the same bundle as the ${platformList.join(", ")} images`);
      // The gate reads the image that was smoke-tested; a failing gate stops here, before anything is pushed.
      const { verdict, report } = await vulnerabilityGate(this.source, tested, threshold);
      if (!verdict.passed) throw new Error(`publish refused: nothing was pushed\n${report}`);
      const [gateSummary = ""] = report.split("\n");
      lines.push(gateSummary);
      const auth = await getRegistryAuth(client, context);
      const password = dag.setSecret("ecr-registry-password", auth.password);
      const pushed = await dag
        .container()
        .withRegistryAuth(auth.registryHost, auth.username, password)
        .publish(`${auth.registryHost}/${repository}:${release}`, { platformVariants: [...images.values()] });
      digest = pushed.slice(pushed.lastIndexOf("@") + 1);
    }
    const tagged = await tagRelease(client, repository, digest, releaseTags, context);
    const host = registryHost(tagged.registryId, this.region);
    // The SBOM is read from what was pushed, by digest (release-sbom), never from a rebuild.
    lines.push(`sbom of the pushed images: dagger call aws ... release-sbom --repository=${repository} --commit=${release} --digest=${digest} export --path=sbom.cdx.json`);
    return [...lines, ...tagged.references.map((reference) => `${host}/${repository}:${reference}`)].join("\n");
  }

  /**
   * The SBOM of the release as publish pushed it (CycloneDX 1.6): Syft reads each platform image the commit tag's index
   * lists from ECR by digest (nothing rebuilt); the bundled npm packages come from this checkout's lockfile. The index
   * digest is in metadata.component, each platform image is a container component with its digest. Refused when
   * --digest is not the tag's or an image's revision label is not the commit.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN release-sbom --repository=hono-ecr-service --commit=$(git rev-parse HEAD) export --path=sbom.cdx.json`
   */
  @func({ cache: "never" })
  async releaseSbom(
    /** ECR repository name, e.g. hono-ecr-service. */
    repository: string,
    /** The release: the commit tag publish pushed it under (check out that commit: its lockfile gives the npm packages). */
    commit: string,
    /** The image index digest publish printed, sha256:<64 hex>: refused unless the commit tag points to it. */
    digest?: string,
  ): Promise<File> {
    validateRepositoryName(repository);
    validateReleaseTag(validateTag(commit));
    if (digest !== undefined && !DIGEST_PATTERN.test(digest)) throw new InputError(`--digest=${JSON.stringify(digest)} is invalid: expected sha256:<64 lowercase hex>`);
    const { client, context } = await this.ecr(repository);
    const auth = await getRegistryAuth(client, context);
    const release = await findPushedRelease(client, { host: auth.registryHost, repository }, commit, digest, context);
    const { name, version } = await servicePackage(this.source);
    const password = dag.setSecret("ecr-registry-password", auth.password);
    return sbomFile(await pushedReleaseSbom(this.source, release, { host: auth.registryHost, username: auth.username, password }, { name, version }));
  }

  /**
   * Creates the ECR repository if missing (scan on push; release tags immutable, latest movable; AES-256) and applies the
   * lifecycle policy. Idempotent: a second run changes nothing and says so; a run that fails says what it already changed.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN setup-registry --repository=hono-ecr-service`
   */
  @func({ cache: "never" })
  async setupRegistry(
    /** ECR repository name, e.g. hono-ecr-service. */
    repository: string,
    /** How many releases to keep, besides the one latest points to (each release: an index and its platform images). */
    keep = DEFAULT_KEEP,
    /** AWS Signer profile (the identity stack's output SigningProfileArn): ECR then signs every image pushed to the repository. */
    signingProfileArn?: string,
  ): Promise<string> {
    validateRepositoryName(repository);
    if (signingProfileArn !== undefined) validateSigningProfileArn(signingProfileArn);
    releaseLifecyclePolicy(keep); // checks keep before any AWS call
    const { client, context } = await this.ecr(repository);
    return (await setUpRegistry(client, repository, keep, signingProfileArn, context)).lines.join("\n");
  }

  /**
   * Lists the images the lifecycle policy would expire now, with the storage each one takes: through ECR's own preview, or
   * with --offline through this pipeline's evaluator of ECR's documented rules over the repository's images (DescribeImages).
   * What each environment runs or would roll back to (deployed-<env>, rollback-<env>) is kept whatever its age, and says so.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY lifecycle-preview --repository=hono-ecr-service --keep=5 --offline`
   */
  @func({ cache: "never" })
  async lifecyclePreview(
    /** ECR repository name, e.g. hono-ecr-service. */
    repository: string,
    /** How many releases the previewed policy keeps. */
    keep = DEFAULT_KEEP,
    /** Evaluate the policy here, from the repository's image list, instead of asking ECR for a preview. */
    offline = false,
  ): Promise<string> {
    validateRepositoryName(repository);
    const policy = releaseLifecyclePolicy(keep);
    const { client, context } = await this.ecr(repository);
    const images = offline ? await listImages(client, repository, context) : [];
    // What deploy and rollback tagged (deployed-<env>, rollback-<env>): kept whatever its age, listed when evaluated here.
    const environments = environmentReleases(images).map((line) => `kept whatever its age: ${line} (and its platform images)`);
    const expiring: { digest: string; tags: string[]; pushedAt?: Date; sizeInBytes?: number; rulePriority?: number }[] = offline
      ? evaluateLifecyclePolicy(policy, images, new Date()).map(({ image, rulePriority }) => ({ ...image, rulePriority }))
      : (await previewLifecyclePolicy(client, repository, policy, context)).map((r) => ({
          digest: r.imageDigest ?? "?",
          tags: r.imageTags ?? [],
          pushedAt: r.imagePushedAt,
          rulePriority: r.appliedRulePriority,
        }));
    const how = offline ? "evaluated offline" : "ECR preview";
    if (expiring.length === 0) return [`nothing would expire in ${repository} (keep ${keep}; ${how})`, ...environments].join("\n");
    const bytes = expiring.reduce((sum, image) => sum + (image.sizeInBytes ?? 0), 0);
    const lines = expiring.map(
      (image) =>
        `${image.digest} ${image.tags.join(",") || "<untagged>"} pushed ${image.pushedAt?.toISOString() ?? "?"}` +
        `${image.sizeInBytes !== undefined ? ` ${formatMiB(image.sizeInBytes)}` : ""} -> expire (rule ${image.rulePriority ?? "?"})`,
    );
    const cost = offline ? `, ${formatMiB(bytes)}, about $${((bytes / 1024 ** 3) * ECR_STORAGE_USD_PER_GB_MONTH).toFixed(4)} a month (layers shared with kept images stay stored)` : "";
    const note = "what each environment runs or would roll back to (deployed-<env>, rollback-<env>) is kept, whatever its age";
    return [`${expiring.length} image(s) would expire in ${repository} (keep ${keep}; ${how}${cost}):`, ...lines, ...environments, note].join("\n");
  }

  /**
   * Deploys a release to an environment's ECS service: registers a task definition revision that differs from the
   * running one only in the image, updates the service, follows the rollout, and succeeds only when the deployment is
   * SUCCESSFUL in the service-deployment API (every lifecycle stage, BAKE_TIME included) with the PRIMARY deployment on
   * the new revision, the new tasks are healthy in the target group and GET /version answers the release's commit N times in a
   * row. Before any change it awaits ECR's scan of the image (findings at or above --severity refuse it unless
   * --allow-vulnerable gives a reason; no scan result, unless --allow-unscanned does) and its signature by the
   * registry's signing profile (an unsigned image is refused). Deploys only move forward: a release ECR received before
   * the running one, or after a rollback the release rolled back from (or an older one), is refused unless
   * --allow-older gives a reason. A circuit-breaker or alarm rollback, a timeout, a missing image or the wrong
   * architecture fail, naming the cause.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN deploy --environment=staging --commit=$(git rev-parse HEAD)`
   */
  @func({ cache: "never" })
  async deploy(
    /** The environment (an entry of infra/environments.ts), e.g. staging. */
    environment: string,
    /** The image by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:..., or sha256:... in the service's repository. */
    image?: string,
    /** Or the release's full commit id, resolved to its digest in the service's repository. */
    commit?: string,
    /** Longest wait for the rollout and the checks, in minutes (default: 20 plus the environment's bake time, read from its service). */
    timeoutMinutes?: number,
    /** How many consecutive GET /version answers must report the release. */
    checks = 5,
    /** Where GET /version is asked (default: the load balancer's own name; required for an HTTPS environment: its domain). */
    url?: string,
    /** Lowest severity of ECR's scan findings that refuses the image: LOW, MEDIUM, HIGH or CRITICAL. */
    severity = "CRITICAL",
    /** Deploy despite such findings, giving the reason (printed in the report and the job summary). */
    allowVulnerable?: string,
    /** Deploy although ECR has no scan result and will get none (scan expired, image unsupported or archived, never scanned, quota), giving the reason (printed). */
    allowUnscanned?: string,
    /** Deploy a release older than the running one (or than the one a rollback left), giving the reason (printed). */
    allowOlder?: string,
  ): Promise<string> {
    const target = serviceTarget(validateEnvironmentName(environment), this.region);
    const choice = parseImageChoice(image, commit, this.region);
    const options = this.deployOptions(timeoutMinutes, checks, url, severity, { allowVulnerable, allowUnscanned, allowOlder });
    const runtime = realRuntime(createDeployClients(this.region, await this.credentials()));
    return formatDeploy(await deployRelease(runtime, target, choice, options), "deployed");
  }

  /**
   * Rolls an environment back to the task definition revision that ran before the current one (recorded by deploy),
   * with the same checks as deploy; a check that cannot pass (an expired scan, a rotated signing profile) is passed
   * with --allow-unscanned / --allow-unsigned and a reason, printed in the report: an incident is never blocked.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN rollback --environment=production`
   */
  @func({ cache: "never" })
  async rollback(
    /** The environment, e.g. production. */
    environment: string,
    /** Longest wait for the rollout and the checks, in minutes (default: 20 plus the environment's bake time, read from its service). */
    timeoutMinutes?: number,
    /** How many consecutive GET /version answers must report the release rolled back to. */
    checks = 5,
    /** Where GET /version is asked (required for an HTTPS environment: its domain). */
    url?: string,
    /** Lowest severity of ECR's scan findings that refuses the image rolled back to. */
    severity = "CRITICAL",
    /** Roll back despite such findings, giving the reason. */
    allowVulnerable?: string,
    /** Roll back although ECR has no scan result for the image (e.g. its scan expired), giving the reason (printed). */
    allowUnscanned?: string,
    /** Roll back although the signature check cannot pass (e.g. the signing profile was rotated since that release), giving the reason (printed). */
    allowUnsigned?: string,
  ): Promise<string> {
    const target = serviceTarget(validateEnvironmentName(environment), this.region);
    const options = this.deployOptions(timeoutMinutes, checks, url, severity, { allowVulnerable, allowUnscanned, allowUnsigned });
    const runtime = realRuntime(createDeployClients(this.region, await this.credentials()));
    return formatDeploy(await rollbackRelease(runtime, target, options), "rolled back");
  }

  /**
   * What runs in an environment now: release, image digest, task definition, running and desired tasks, the deployments
   * and their outcome, the latest events. Plain text, or JSON with --format=json.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY status --environment=staging --format=json`
   */
  @func({ cache: "never" })
  async status(
    /** The environment, e.g. staging. */
    environment: string,
    /** Output format: text or json. (Not `--json`: dagger call has a flag of that name, and an argument may not share it.) */
    format = "text",
  ): Promise<string> {
    const target = serviceTarget(validateEnvironmentName(environment), this.region);
    const asJson = validateStatusFormat(format) === "json";
    const report = await serviceStatus(realRuntime(createDeployClients(this.region, await this.credentials())), target);
    return asJson ? JSON.stringify(report, null, 2) : formatStatus(report);
  }

  /**
   * Plans (--plan: `cdk diff`) or applies (`cdk deploy`) the environment's stack HonoService-<environment>, from a
   * container with the repository's own aws-cdk. The stack always gets the image digest the service runs now (an
   * infrastructure change never reverts a release; the first provision takes --image or the release latest points to)
   * and, for blue/green, the weights the production listener rule has now (a stack update or a replaced rule cannot
   * send traffic to the empty target group). Refused while a deployment is under way; after a deploy, fails if traffic
   * goes to a target group without a healthy target. The reads go through the CDK lookup role.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN provision --environment=staging --plan`
   */
  @func({ cache: "never" })
  async provision(
    /** The environment (an entry of infra/environments.ts), e.g. staging. */
    environment: string,
    /** Only show the plan (`cdk diff`, read-only: the CDK lookup role is enough); change nothing. */
    plan = false,
    /** First provision only (no service yet): the image to run, <repository>:<tag> or <repository>@sha256:... (default: the release latest points to). */
    image?: string,
  ): Promise<string> {
    const target = serviceTarget(validateEnvironmentName(environment), this.region);
    const choice = image === undefined ? undefined : parseProvisionImage(image, this.region);
    return provisionEnvironment(await this.cdkSetting(), target, { plan, ...(choice ? { image: choice } : {}) });
  }

  /**
   * The one-time AWS side, idempotent: `cdk bootstrap` where the account/region has none, the identity stack
   * (GithubActionsEcrIdentity, the roles GitHub Actions may assume), the toolkit re-bootstrapped with the stack's
   * CloudFormation execution policy, and setup-registry. Prints the `gh` lines for the GitHub variables and
   * environments, and the next steps. A second run changes nothing and says so.
   *
   * Example: `dagger call aws --region=eu-west-1 --access-key-id=env://AWS_ACCESS_KEY_ID --secret-access-key=env://AWS_SECRET_ACCESS_KEY --session-token=env://AWS_SESSION_TOKEN bootstrap --github-repository=acme/shop --github-owner-id=1111 --github-repository-id=2222 --signing`
   */
  @func({ cache: "never" })
  async bootstrap(
    /** The GitHub repository whose workflows may assume the roles, OWNER/REPO. */
    githubRepository: string,
    /** The owner's numeric id (gh api repos/OWNER/REPO --jq .owner.id): the roles then trust only the immutable sub form. */
    githubOwnerId?: string,
    /** The repository's numeric id (gh api repos/OWNER/REPO --jq .id), with --github-owner-id. */
    githubRepositoryId?: string,
    /** ECR repository name. */
    repository = "hono-ecr-service",
    /** Have ECR sign every image pushed, with the identity stack's signing profile (SigningProfileArn). */
    signing = false,
  ): Promise<string> {
    const github = validateGithubRepository(githubRepository);
    const ids = validateGithubIds(github, githubOwnerId, githubRepositoryId);
    validateRepositoryName(repository);
    return bootstrapAccount(await this.cdkSetting(), { githubRepository: github, ...(ids ? { ids } : {}), repository, signing });
  }

  /** The repository, the region and the credentials, as secrets for cdk's container and as values for the SDK's reads. */
  private async cdkSetting() {
    const secrets = { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey, ...(this.sessionToken ? { sessionToken: this.sessionToken } : {}) };
    return { source: this.source, region: this.region, secrets, credentials: await this.credentials() };
  }

  /** The deploy options after each value is checked; every override needs a reason of at least 10 characters. */
  private deployOptions(timeoutMinutes: number | undefined, checks: number, url: string | undefined, severity: string, overrides: Overrides): DeployOptions {
    const serviceUrl = validateServiceUrl(url);
    const reasons: Overrides = {};
    for (const [name, reason] of Object.entries(overrides) as [keyof Overrides, string | undefined][]) {
      if (reason === undefined) continue;
      if (reason.trim().length < 10) throw new InputError(`--${OVERRIDE_FLAGS[name]}=${JSON.stringify(reason)} is too short: give the reason the risk is accepted (at least 10 characters)`);
      reasons[name] = reason.trim();
    }
    return {
      ...(timeoutMinutes !== undefined ? { timeoutMs: validateCount("timeout-minutes", timeoutMinutes, 1, MAX_TIMEOUT_MINUTES) * 60_000 } : {}),
      checks: validateCount("checks", checks, 1, MAX_CHECKS),
      severity: validateSeverity(severity),
      ...(serviceUrl !== undefined ? { url: serviceUrl } : {}),
      ...reasons,
    };
  }
}

/** The checks deploy and rollback may be told to pass, each with a reason. */
type Overrides = Pick<DeployOptions, "allowVulnerable" | "allowUnscanned" | "allowUnsigned" | "allowOlder">;
const OVERRIDE_FLAGS: Record<keyof Overrides, string> = { allowVulnerable: "allow-vulnerable", allowUnscanned: "allow-unscanned", allowUnsigned: "allow-unsigned", allowOlder: "allow-older" };

const formatMiB = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/**
 * The tag of the release: `commit` when given, else the repository's HEAD commit. Uncommitted changes are refused,
 * unless `allowDirty`: then the tag is `<commit>-dirty-<first 12 hex of the changes' sha256>`, never the clean commit's.
 */
async function releaseTag(git: GitRepository, commit: string | undefined, allowDirty: boolean): Promise<string> {
  const head = commit ?? validateTag(await git.head().commit());
  const changes = git.uncommitted();
  if (await changes.isEmpty()) return head;
  const paths = [...(await changes.modifiedPaths()), ...(await changes.addedPaths()), ...(await changes.removedPaths())];
  if (!allowDirty) {
    throw new InputError(
      `the checkout has uncommitted changes (${paths.slice(0, 5).join(", ")}${paths.length > 5 ? `, and ${paths.length - 5} more` : ""}): ` +
        `commit them first, or pass --allow-dirty to publish them tagged ${head}-dirty-<hash>, never as ${head}`,
    );
  }
  const patch = await changes.asPatch().contents();
  return `${head}-dirty-${createHash("sha256").update(patch).digest("hex").slice(0, 12)}`;
}
