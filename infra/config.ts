/**
 * The stack's settings, from CDK context (`-c name=value` or cdk.json), validated before anything is synthesized.
 * Each bad value stops the synth with an error naming the context key, the value and the rule.
 */
import { InputError, validateRegion, validateRepositoryName } from "../dagger/src/ecr/validate.js";

/** What the stack needs to know. */
export interface IdentitySettings {
  /** GitHub repository as OWNER/REPO. */
  githubRepository: string;
  /** Numeric ids of the owner and the repository, for the immutable `sub` form GitHub sends to newer repositories. */
  githubOwnerId: string;
  githubRepositoryId: string;
  /** The only branch allowed to publish. */
  branch: string;
  /** The GitHub environment (with required reviewers) whose jobs may assume the registry role. */
  registryEnvironment: string;
  /**
   * The exact `sub` prefix the repository sends (GitHub's OIDC subject API, `sub_claim_prefix`), when given: the roles
   * then trust only that form instead of both the name form and the immutable id form.
   */
  subjectPrefix?: string;
  /** The ECR repository the roles may use. */
  ecrRepository: string;
  /** AWS region of the ECR repository and of the stack. */
  region: string;
  /** ARN of an existing GitHub OIDC provider in the account (an account holds only one); omitted: the stack creates it. */
  existingOidcProviderArn?: string;
}

/** Reads one context value (a string, or undefined when unset or empty). */
export type ContextReader = (key: string) => unknown;

const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
const NUMERIC_ID = /^[1-9]\d{0,19}$/;
const BRANCH = /^(?!\/|.*\/\/|.*\.\.|.*\/$|.*\.lock$)[A-Za-z0-9._/-]{1,255}$/;
const ENVIRONMENT = /^[A-Za-z0-9._-]{1,255}$/;
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
  const idHint = `pass -c githubOwnerId=... -c githubRepositoryId=... (from: gh api repos/${githubRepository} --jq '.owner.id, .id')`;
  const githubOwnerId = check("githubOwnerId", required("githubOwnerId", idHint), NUMERIC_ID, "the owner's numeric id");
  const githubRepositoryId = check("githubRepositoryId", required("githubRepositoryId", idHint), NUMERIC_ID, "the repository's numeric id");
  const branch = check("branch", read("branch") ?? "main", BRANCH, "a git branch name, e.g. main");
  const registryEnvironment = check("registryEnvironment", read("registryEnvironment") ?? "registry", ENVIRONMENT, "a GitHub environment name, e.g. registry");
  const subjectPrefix = read("subjectPrefix");
  if (subjectPrefix !== undefined) validateSubjectPrefix(subjectPrefix, githubRepository, githubOwnerId, githubRepositoryId);
  const region = read("region") ?? defaultRegion;
  if (region === undefined) throw new InputError("context region is required: pass -c region=eu-west-1 (or configure a default region for the AWS CLI)");
  const existingOidcProviderArn = read("existingOidcProviderArn");
  if (existingOidcProviderArn !== undefined) {
    check("existingOidcProviderArn", existingOidcProviderArn, OIDC_PROVIDER_ARN, "arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com");
  }
  return {
    githubRepository,
    githubOwnerId,
    githubRepositoryId,
    branch,
    registryEnvironment,
    ...(subjectPrefix !== undefined ? { subjectPrefix } : {}),
    ecrRepository: validateRepositoryName(read("ecrRepository") ?? "hono-ecr-service"),
    region: validateRegion(region),
    ...(existingOidcProviderArn !== undefined ? { existingOidcProviderArn } : {}),
  };
}

/**
 * The `sub` prefix forms a repository can send: the name form `repo:OWNER/REPO` and the immutable id form
 * `repo:OWNER@OWNER_ID/REPO@REPO_ID` (ids appended with `@`, which no GitHub name can contain).
 */
export function subjectPrefixes(githubRepository: string, ownerId: string, repositoryId: string): string[] {
  const [owner, repo] = githubRepository.split("/");
  return [`repo:${githubRepository}`, `repo:${owner}@${ownerId}/${repo}@${repositoryId}`];
}

/**
 * Accepts a `subjectPrefix` only if it is one of this repository's two forms. A hyphenated id form
 * (`repo:OWNER-OWNER_ID/REPO-REPO_ID`, as in one of GitHub's changelog examples) is refused: anyone can register an owner
 * and a repository with those names, so such a subject proves nothing.
 */
function validateSubjectPrefix(prefix: string, githubRepository: string, ownerId: string, repositoryId: string): void {
  const allowed = subjectPrefixes(githubRepository, ownerId, repositoryId);
  const [owner, repo] = githubRepository.split("/");
  if (prefix === `repo:${owner}-${ownerId}/${repo}-${repositoryId}`) {
    throw new InputError(
      `context subjectPrefix=${JSON.stringify(prefix)} is refused: the hyphenated id form can be produced by anyone who registers those names; ` +
        `use the form GitHub's OIDC subject API returns (${allowed[1]})`,
    );
  }
  if (!allowed.includes(prefix)) {
    throw new InputError(`context subjectPrefix=${JSON.stringify(prefix)} is invalid: expected one of ${allowed.join(" or ")} (from githubRepository, githubOwnerId and githubRepositoryId)`);
  }
}
