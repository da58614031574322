import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import { Effect, OidcProviderNative, PolicyStatement, Role, WebIdentityPrincipal, type IOidcProvider } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import type { IdentitySettings } from "./config.js";
import { LOGIN_ACTIONS, PUBLISH_ACTIONS, REGISTRY_ACTIONS } from "./ecr-permissions.js";

/** GitHub's OIDC issuer and the audience configure-aws-credentials asks for. */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
export const STS_AUDIENCE = "sts.amazonaws.com";

/**
 * The `sub` claims of workflow runs on `branch` of the repository: the name form, and the immutable id form that
 * repositories created on or after 2026-07-15 (or opted in) send. Both are accepted; nothing else is.
 */
export function branchSubjects(settings: IdentitySettings): string[] {
  const [owner, repo] = settings.githubRepository.split("/");
  const ref = `ref:refs/heads/${settings.branch}`;
  return [`repo:${settings.githubRepository}:${ref}`, `repo:${owner}@${settings.githubOwnerId}/${repo}@${settings.githubRepositoryId}:${ref}`];
}

/** The stack's settings plus the usual stack props. */
export interface GithubActionsIdentityStackProps extends StackProps {
  settings: IdentitySettings;
}

/**
 * The AWS identity GitHub Actions needs to ship the service: the GitHub OIDC provider, a publish role (push to one ECR
 * repository, from one branch) and a registry role (create and configure that repository). No long-lived keys.
 */
export class GithubActionsIdentityStack extends Stack {
  readonly publishRole: Role;
  readonly registryRole: Role;

  constructor(scope: Construct, id: string, props: GithubActionsIdentityStackProps) {
    super(scope, id, props);
    const { settings } = props;

    const provider: IOidcProvider = settings.existingOidcProviderArn
      ? OidcProviderNative.fromOidcProviderArn(this, "GithubOidcProvider", settings.existingOidcProviderArn)
      : new OidcProviderNative(this, "GithubOidcProvider", { url: `https://${GITHUB_OIDC_HOST}`, clientIds: [STS_AUDIENCE] });

    const trustedBranch = () =>
      new WebIdentityPrincipal(provider.oidcProviderArn, {
        StringEquals: { [`${GITHUB_OIDC_HOST}:aud`]: STS_AUDIENCE, [`${GITHUB_OIDC_HOST}:sub`]: branchSubjects(settings) },
      });
    const repositoryArn = this.formatArn({ service: "ecr", resource: "repository", resourceName: settings.ecrRepository });

    this.publishRole = new Role(this, "PublishRole", {
      assumedBy: trustedBranch(),
      description: `GitHub Actions (${settings.githubRepository}@${settings.branch}) pushes images to ECR ${settings.ecrRepository}`,
    });
    this.publishRole.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: LOGIN_ACTIONS, resources: ["*"] }));
    this.publishRole.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: PUBLISH_ACTIONS, resources: [repositoryArn] }));

    this.registryRole = new Role(this, "RegistryRole", {
      assumedBy: trustedBranch(),
      description: `GitHub Actions (${settings.githubRepository}@${settings.branch}) creates and configures ECR ${settings.ecrRepository}`,
    });
    this.registryRole.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: REGISTRY_ACTIONS, resources: [repositoryArn] }));

    new CfnOutput(this, "PublishRoleArn", { value: this.publishRole.roleArn, description: "Repository variable AWS_PUBLISH_ROLE_ARN" });
    new CfnOutput(this, "RegistryRoleArn", { value: this.registryRole.roleArn, description: "Repository variable AWS_REGISTRY_ROLE_ARN" });
    new CfnOutput(this, "EcrRepositoryName", { value: settings.ecrRepository, description: "Repository variable ECR_REPOSITORY" });
    new CfnOutput(this, "AwsRegion", { value: settings.region, description: "Repository variable AWS_REGION" });
  }
}
