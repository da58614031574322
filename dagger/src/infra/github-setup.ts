/**
 * The GitHub side of the set-up, derived from the identity stack's outputs: each output names its variable in its
 * Description, as `Repository variable NAME` or `Variable NAME of the GitHub environment ENV` (infra/github-actions-identity-stack.ts),
 * so a new output with such a description shows up here with no list of its own.
 */
import type { StackDescription } from "./accounts.js";

/** One GitHub variable an output fills: a repository variable, or one of an environment. */
export interface GithubVariable {
  name: string;
  value: string;
  environment?: string;
}

const REPOSITORY_VARIABLE = /^Repository variable ([A-Z][A-Z0-9_]*)\b/;
const ENVIRONMENT_VARIABLE = /^Variable ([A-Z][A-Z0-9_]*) of the GitHub environment ([A-Za-z0-9._-]+)$/;
/** Wherever the form appears in a description (e.g. "setup-registry --signing-profile-arn (repository variable SIGNING_PROFILE_ARN)"). */
const REPOSITORY_VARIABLE_ANYWHERE = /\b[Rr]epository variable ([A-Z][A-Z0-9_]*)\b/;

/** The variables the stack's outputs name, in output order. */
export function githubVariables(stack: StackDescription): GithubVariable[] {
  return stack.outputs.flatMap((output): GithubVariable[] => {
    const environment = ENVIRONMENT_VARIABLE.exec(output.description);
    if (environment) {
      const [, name = "", inEnvironment = ""] = environment;
      return [{ name, value: output.value, environment: inEnvironment }];
    }
    const [, name] = REPOSITORY_VARIABLE.exec(output.description) ?? REPOSITORY_VARIABLE_ANYWHERE.exec(output.description) ?? [];
    return name ? [{ name, value: output.value }] : [];
  });
}

/** `value` as one shell word (single quotes; a quote inside closed, escaped and reopened). */
export const shellQuote = (value: string): string => (/^[A-Za-z0-9_.:/@=+,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);

/**
 * `gh` lines ready to paste: each environment created only if missing (deployment branches: `branch` only; an existing
 * one, its reviewers included, is left as it is), then every variable.
 */
export function githubSetupLines(variables: GithubVariable[], repository: string, branch = "main"): string[] {
  const environments = [...new Set(variables.flatMap((variable) => (variable.environment ? [variable.environment] : [])))];
  const repo = shellQuote(repository);
  return [
    ...environments.flatMap((environment) => [
      `gh api repos/${repo}/environments/${environment} --silent 2>/dev/null || { gh api -X PUT repos/${repo}/environments/${environment} -F 'deployment_branch_policy[protected_branches]=false' -F 'deployment_branch_policy[custom_branch_policies]=true' --silent && gh api -X POST repos/${repo}/environments/${environment}/deployment-branch-policies -f name=${shellQuote(branch)} -f type=branch --silent; }`,
    ]),
    ...variables.map((variable) => `gh variable set ${variable.name} --repo ${repo}${variable.environment ? ` --env ${variable.environment}` : ""} --body ${shellQuote(variable.value)}`),
  ];
}

/** The environments whose jobs deploy or provision (they hold AWS_DEPLOY_ROLE_ARN or AWS_PROVISION_ROLE_ARN). */
export const serviceEnvironments = (variables: GithubVariable[]): string[] => [
  ...new Set(variables.filter((variable) => variable.environment && /^AWS_(DEPLOY|PROVISION)_ROLE_ARN$/.test(variable.name)).map((variable) => variable.environment!)),
];
