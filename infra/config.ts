/**
 * The stack's settings, from CDK context (`-c name=value` or cdk.json), validated before anything is synthesized.
 * Each bad value stops the synth with an error naming the context key, the value and the rule.
 */
import { InputError, validateRegion, validateRepositoryName } from "../dagger/src/ecr/validate.js";

/** What the stack needs to know. */
export interface IdentitySettings {
  /** GitHub repository as OWNER/REPO. */
  githubRepository: string;
  /**
   * Numeric ids of the owner and the repository (both or neither). Given: the roles trust only the immutable `sub` form
   * `repo:OWNER@OWNER_ID/REPO@REPO_ID:...` and check the `repository_id` claim; omitted: only the name form, with a
   * synth warning (a deleted or renamed repository's name can be registered again by anyone).
   */
  githubOwnerId?: string;
  githubRepositoryId?: string;
  /** The only branch allowed to publish. */
  branch: string;
  /** The GitHub environment (with required reviewers) whose jobs may assume the registry role. */
  registryEnvironment: string;
  /**
   * The exact `sub` prefix the repository sends (GitHub's OIDC subject API, `sub_claim_prefix`), when given: the roles
   * then trust only that form instead of both the name form and the immutable id form.
   */
  subjectPrefix?: string;
  /**
   * Also check the `job_workflow_ref` claim (AWS STS condition key for GitHub since February 2026): each role only from its
   * workflow files on `branch`. Default true; `-c workflowClaims=false` turns it off (a synth warning says so).
   */
  workflowClaims: boolean;
  /** The ECR repository the roles may use. */
  ecrRepository: string;
  /** AWS region of the ECR repository and of the stack. */
  region: string;
  /** ARN of an existing GitHub OIDC provider in the account (an account holds only one); omitted: the stack creates it. */
  existingOidcProviderArn?: string;
  /**
   * The `cdk bootstrap` qualifier whose roles (`cdk-<qualifier>-<kind>-role-<account>-<region>`) the plan and provision
   * roles may assume; context `cdkQualifier`, else CDK's own `@aws-cdk/core:bootstrapQualifier`, else `hnb659fds`.
   */
  cdkQualifier: string;
}

/** Reads one context value (a string, or undefined when unset or empty). */
export type ContextReader = (key: string) => unknown;

const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
const NUMERIC_ID = /^[1-9]\d{0,19}$/;
const BRANCH = /^(?!\/|.*\/\/|.*\.\.|.*\/$|.*\.lock$)[A-Za-z0-9._/-]{1,255}$/;
const ENVIRONMENT = /^[A-Za-z0-9._-]{1,255}$/;
/** `cdk bootstrap`'s rule for a qualifier (aws-cdk 2.1148, lib/api/bootstrap/bootstrap-template.yaml, parameter Qualifier). */
const CDK_QUALIFIER = /^[A-Za-z0-9_-]{1,10}$/;
/** The qualifier `cdk bootstrap` uses unless told otherwise. */
export const DEFAULT_CDK_QUALIFIER = "hnb659fds";
/** aws-cdk-lib's context key for the qualifier of every DefaultStackSynthesizer (BOOTSTRAP_QUALIFIER_CONTEXT). */
export const CDK_QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier";
const OIDC_PROVIDER_ARN = /^arn:aws(-cn|-us-gov)?:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;

/** Validates the stack's context; `defaultRegion` is the CLI's region (CDK_DEFAULT_REGION). */
export function readIdentitySettings(context: ContextReader, defaultRegion?: string): IdentitySettings {
  const read = (key: string): string | undefined => {
    const value = context(key);
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string" && typeof value !== "number") throw new InputError(`context ${key} must be a string, got ${typeof value}`);
    return String(value);
  };
  const required = (key: string, hint: string): string => {
    const value = read(key);
    if (value === undefined) throw new InputError(`context ${key} is required: ${hint}`);
    return value;
  };
  const check = (key: string, value: string, pattern: RegExp, rule: string): string => {
    if (!pattern.test(value)) throw new InputError(`context ${key}=${JSON.stringify(value)} is invalid: expected ${rule}`);
    return value;
  };

  const githubRepository = check("githubRepository", required("githubRepository", "pass -c githubRepository=OWNER/REPO"), GITHUB_REPOSITORY, "OWNER/REPO, e.g. acme/shop");
  const idHint = `pass both -c githubOwnerId=... -c githubRepositoryId=... (from: gh api repos/${githubRepository} --jq '.owner.id, .id'), or neither`;
  const ownerId = read("githubOwnerId");
  const repositoryId = read("githubRepositoryId");
  if ((ownerId === undefined) !== (repositoryId === undefined)) throw new InputError(`context ${ownerId === undefined ? "githubOwnerId" : "githubRepositoryId"} is required with the other id: ${idHint}`);
  const githubOwnerId = ownerId === undefined ? undefined : check("githubOwnerId", ownerId, NUMERIC_ID, "the owner's numeric id");
  const githubRepositoryId = repositoryId === undefined ? undefined : check("githubRepositoryId", repositoryId, NUMERIC_ID, "the repository's numeric id");
  const branch = check("branch", read("branch") ?? "main", BRANCH, "a git branch name, e.g. main");
  const registryEnvironment = check("registryEnvironment", read("registryEnvironment") ?? "registry", ENVIRONMENT, "a GitHub environment name, e.g. registry");
  const subjectPrefix = read("subjectPrefix");
  if (subjectPrefix !== undefined) validateSubjectPrefix(subjectPrefix, githubRepository, githubOwnerId, githubRepositoryId);
  const workflowClaims = check("workflowClaims", read("workflowClaims") ?? "true", /^(true|false)$/, "true or false") === "true";
  const { region, ecrRepository } = readServiceSettings(context, defaultRegion);
  const existingOidcProviderArn = read("existingOidcProviderArn");
  if (existingOidcProviderArn !== undefined) {
    check("existingOidcProviderArn", existingOidcProviderArn, OIDC_PROVIDER_ARN, "arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com");
  }
  // CDK's own key (the qualifier every DefaultStackSynthesizer of the app uses) is the fallback: set it once in cdk.json
  // and the service stacks and these roles move to that bootstrap together.
  const qualifierKey = read("cdkQualifier") !== undefined ? "cdkQualifier" : CDK_QUALIFIER_CONTEXT;
  const cdkQualifier = check(qualifierKey, read(qualifierKey) ?? DEFAULT_CDK_QUALIFIER, CDK_QUALIFIER, "a cdk bootstrap qualifier: 1 to 10 letters, digits, _ or -, e.g. hnb659fds");
  return {
    githubRepository,
    ...(githubOwnerId !== undefined && githubRepositoryId !== undefined ? { githubOwnerId, githubRepositoryId } : {}),
    branch,
    registryEnvironment,
    ...(subjectPrefix !== undefined ? { subjectPrefix } : {}),
    workflowClaims,
    ecrRepository,
    region,
    ...(existingOidcProviderArn !== undefined ? { existingOidcProviderArn } : {}),
    cdkQualifier,
  };
}

/** What the service stacks need of the context without the identity stack: the region and the ECR repository. */
export function readServiceSettings(context: ContextReader, defaultRegion?: string): Pick<IdentitySettings, "region" | "ecrRepository"> {
  const read = (key: string): string | undefined => {
    const value = context(key);
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") throw new InputError(`context ${key} must be a string, got ${typeof value}`);
    return value;
  };
  const region = read("region") ?? defaultRegion;
  if (region === undefined) throw new InputError("context region is required: pass -c region=eu-west-1 (or configure a default region for the AWS CLI)");
  return { region: validateRegion(region), ecrRepository: validateRepositoryName(read("ecrRepository") ?? "hono-ecr-service") };
}

/**
 * The `sub` prefix forms a repository can send: the name form `repo:OWNER/REPO` and, with the ids, the immutable id form
 * `repo:OWNER@OWNER_ID/REPO@REPO_ID` (ids appended with `@`, which no GitHub name can contain).
 */
export function subjectPrefixes(githubRepository: string, ownerId?: string, repositoryId?: string): string[] {
  const [owner, repo] = githubRepository.split("/");
  return ownerId === undefined || repositoryId === undefined ? [`repo:${githubRepository}`] : [`repo:${githubRepository}`, `repo:${owner}@${ownerId}/${repo}@${repositoryId}`];
}

/**
 * Accepts a `subjectPrefix` only if it is one of this repository's two forms. A hyphenated id form
 * (`repo:OWNER-OWNER_ID/REPO-REPO_ID`, as in one of GitHub's changelog examples) is refused: anyone can register an owner
 * and a repository with those names, so such a subject proves nothing.
 */
function validateSubjectPrefix(prefix: string, githubRepository: string, ownerId?: string, repositoryId?: string): void {
  const allowed = subjectPrefixes(githubRepository, ownerId, repositoryId);
  const [owner, repo] = githubRepository.split("/");
  if (ownerId !== undefined && prefix === `repo:${owner}-${ownerId}/${repo}-${repositoryId}`) {
    throw new InputError(
      `context subjectPrefix=${JSON.stringify(prefix)} is refused: the hyphenated id form can be produced by anyone who registers those names; ` +
        `use the form GitHub's OIDC subject API returns (${allowed.at(-1)!})`,
    );
  }
  if (!allowed.includes(prefix)) {
    throw new InputError(`context subjectPrefix=${JSON.stringify(prefix)} is invalid: expected one of ${allowed.join(" or ")} (from githubRepository${ownerId === undefined ? "; the id form needs githubOwnerId and githubRepositoryId" : ", githubOwnerId and githubRepositoryId"})`);
  }
}
