import { Annotations, CfnOutput, CliCredentialsStackSynthesizer, Duration, Fn, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { Platform, SigningProfile } from "aws-cdk-lib/aws-signer";
import { Effect, ManagedPolicy, OidcProviderNative, PolicyStatement, Role, WebIdentityPrincipal, type IOidcProvider } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { MAX_ENVIRONMENTS } from "../dagger/src/ecr/lifecycle.js";
import { InputError } from "../dagger/src/ecr/validate.js";
import { type IdentitySettings } from "./config.js";
import { ASSUMABLE_BOOTSTRAP_ROLES, assumeBootstrapRoles } from "./cdk-bootstrap-roles.js";
import { deployStatements } from "./deploy-permissions.js";
import { executionPolicyDocuments, executionPolicyStatements } from "./execution-policy.js";
import { boundaryStatements, createPermissionsBoundary } from "./permissions-boundary.js";
import { acknowledge, acknowledgeWildcards } from "./nag.js";
import { LOGIN_ACTIONS, PUBLISH_ACTIONS, REGISTRY_ACTIONS, REGISTRY_SIGNING_ACTIONS, SIGN_ON_PUSH_ACTIONS } from "./ecr-permissions.js";

/** GitHub's OIDC issuer and the audience configure-aws-credentials asks for. */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
export const STS_AUDIENCE = "sts.amazonaws.com";

/**
 * The workflow files whose jobs may assume each role (.github/workflows/), checked through the `job_workflow_ref` claim:
 * `OWNER/REPO/.github/workflows/FILE@refs/heads/BRANCH`, the file as it is on the branch (a pull request's or another
 * branch's copy has another ref).
 */
export const ROLE_WORKFLOWS = { publish: ["ci.yml"], registry: ["setup-registry.yml"], deploy: ["ci.yml", "rollback.yml"], plan: ["ci.yml"], provision: ["ci.yml"] } as const;

/**
 * The one `sub` prefix the roles trust: the exact one given (`subjectPrefix`, GitHub's `sub_claim_prefix`); else the
 * immutable id form when the ids are known; else the name form (with a synth warning).
 */
function prefixes(settings: IdentitySettings): string[] {
  const [owner, repo] = settings.githubRepository.split("/");
  if (settings.subjectPrefix) return [settings.subjectPrefix];
  if (settings.githubOwnerId && settings.githubRepositoryId) return [`repo:${owner}@${settings.githubOwnerId}/${repo}@${settings.githubRepositoryId}`];
  return [`repo:${settings.githubRepository}`];
}

/** The `job_workflow_ref` values of jobs in `files` on the branch. */
export function workflowRefs(settings: IdentitySettings, files: readonly string[]): string[] {
  return files.map((file) => `${settings.githubRepository}/.github/workflows/${file}@refs/heads/${settings.branch}`);
}

/** The `sub` claims of workflow runs on `branch` of the repository (a job without `environment:`). */
export function branchSubjects(settings: IdentitySettings): string[] {
  return prefixes(settings).map((prefix) => `${prefix}:ref:refs/heads/${settings.branch}`);
}

/**
 * The `sub` claims of a `pull_request` run's jobs (no `environment:`): GitHub sends `<prefix>:pull_request` for them,
 * whatever the pull request's branch (GitHub's OIDC reference, "Filtering for pull_request events").
 */
export function pullRequestSubjects(settings: IdentitySettings): string[] {
  return prefixes(settings).map((prefix) => `${prefix}:pull_request`);
}

/**
 * The `job_workflow_ref` of a `pull_request` run's jobs: the workflow file as it is on the pull request's merge ref,
 * `OWNER/REPO/.github/workflows/FILE@refs/pull/N/merge` (a StringLike pattern: N is the pull request's number). A
 * `pull_request_target` run sends the base branch's ref instead, and matches none of these.
 */
export function pullRequestWorkflowRefs(settings: IdentitySettings, files: readonly string[]): string[] {
  return files.map((file) => `${settings.githubRepository}/.github/workflows/${file}@refs/pull/*/merge`);
}

/** The `sub` claims of jobs that run in the GitHub environment `environment` (a job with `environment:` sends this form). */
export function environmentSubjects(settings: IdentitySettings, environment: string): string[] {
  return prefixes(settings).map((prefix) => `${prefix}:environment:${environment}`);
}

/** The stack's settings plus the usual stack props. */
export interface GithubActionsIdentityStackProps extends StackProps {
  settings: IdentitySettings;
  /** The environments (infra/environments.ts) that get a deploy role each. */
  environments: string[];
}

/** `DeployRole` + `staging` -> `DeployRoleStaging` (the logical id of an environment's role and its output). */
export const environmentId = (prefix: string, environment: string): string => `${prefix}${environment.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase())}`;

/**
 * The AWS identity GitHub Actions needs to ship the service: the GitHub OIDC provider, a publish role (push to one ECR
 * repository, from one branch), a registry role (create and configure that repository) and a deploy role per environment
 * (roll a release out to that environment's ECS service), the last two only from jobs in their GitHub environment, which a
 * repository admin can protect with required reviewers. For the infrastructure: a plan role (pull requests: the CDK
 * lookup role only), a provision role per environment (its GitHub environment: the CDK deploy, file-publishing and
 * lookup roles only) and the CloudFormation execution policy `cdk bootstrap` gives its execution role (./execution-policy.ts).
 * No long-lived keys.
 *
 * The trust root: deployed only by `dagger call aws ... bootstrap` with the caller's own credentials
 * (CliCredentialsStackSynthesizer: no CDK bootstrap role, no execution role), never by CI. The execution policy grants
 * nothing on these roles, so no provision can change who is trusted.
 */
export class GithubActionsIdentityStack extends Stack {
  readonly publishRole: Role;
  readonly registryRole: Role;
  readonly signingProfile: SigningProfile;
  /** One per environment, by environment name. */
  readonly deployRoles: Record<string, Role> = {};
  /** Pull requests' cdk diff: the CDK lookup role only. */
  planRole!: Role;
  /** One per environment, by environment name: the CDK deploy, file-publishing and lookup roles only. */
  readonly provisionRoles: Record<string, Role> = {};
  /** What CloudFormation may do for a service stack (`cdk bootstrap --cloudformation-execution-policies`). */
  executionPolicies!: ManagedPolicy[];
  /** The boundary of every role a service stack creates (`hono-ecr-service-boundary`). */
  permissionsBoundary!: ManagedPolicy;

  constructor(scope: Construct, id: string, props: GithubActionsIdentityStackProps) {
    super(scope, id, { synthesizer: new CliCredentialsStackSynthesizer(), ...props });
    const { settings } = props;

    let provider: IOidcProvider;
    if (settings.existingOidcProviderArn) {
      provider = OidcProviderNative.fromOidcProviderArn(this, "GithubOidcProvider", settings.existingOidcProviderArn);
    } else {
      const created = new OidcProviderNative(this, "GithubOidcProvider", { url: `https://${GITHUB_OIDC_HOST}`, clientIds: [STS_AUDIENCE] });
      // An account holds one provider per issuer, and other stacks or tools may come to rely on it: deleting this stack
      // leaves it in place (import it next time with -c existingOidcProviderArn=...).
      created.applyRemovalPolicy(RemovalPolicy.RETAIN);
      provider = created;
    }

    // Every claim by exact StringEquals (a claim missing from the token fails the match): aud and sub, then claims AWS
    // STS evaluates for GitHub's provider besides them: repository_id (when known) and job_workflow_ref.
    // A pull request's workflow ref carries its number: the plan role matches it with StringLike (refs/pull/*/merge).
    const trusted = (subjects: string[], workflows: readonly string[], pullRequest = false) =>
      new WebIdentityPrincipal(provider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: STS_AUDIENCE,
          [`${GITHUB_OIDC_HOST}:sub`]: subjects,
          ...(settings.githubRepositoryId ? { [`${GITHUB_OIDC_HOST}:repository_id`]: settings.githubRepositoryId } : {}),
          ...(settings.workflowClaims && !pullRequest ? { [`${GITHUB_OIDC_HOST}:job_workflow_ref`]: workflowRefs(settings, workflows) } : {}),
        },
        ...(settings.workflowClaims && pullRequest ? { StringLike: { [`${GITHUB_OIDC_HOST}:job_workflow_ref`]: pullRequestWorkflowRefs(settings, workflows) } } : {}),
      });
    if (!settings.githubRepositoryId) {
      Annotations.of(this).addWarningV2(
        "identity:name-form-sub",
        `the roles trust the name form repo:${settings.githubRepository}:... only: without the repository's ids, a deleted or renamed repository's name can be registered again by anyone and get these roles; ` +
          `pass -c githubOwnerId=... -c githubRepositoryId=... (gh api repos/${settings.githubRepository} --jq '.owner.id, .id')`,
      );
    }
    if (!settings.workflowClaims) {
      Annotations.of(this).addWarningV2("identity:no-workflow-claims", "workflowClaims=false: the roles do not check job_workflow_ref; a job of any workflow file that sends a trusted sub gets them");
    }
    const repositoryArn = this.formatArn({ service: "ecr", resource: "repository", resourceName: settings.ecrRepository });

    this.publishRole = new Role(this, "PublishRole", {
      assumedBy: trusted(branchSubjects(settings), ROLE_WORKFLOWS.publish),
      description: `GitHub Actions (${settings.githubRepository}@${settings.branch}) pushes images to ECR ${settings.ecrRepository}`,
    });
    this.publishRole.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: LOGIN_ACTIONS, resources: ["*"] }));
    acknowledge(this.publishRole, "AwsSolutions-IAM5[Resource::*]", "ecr:GetAuthorizationToken has no resource-level permission (Service Authorization Reference, Amazon ECR): it can only be granted on *");
    this.publishRole.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: PUBLISH_ACTIONS, resources: [repositoryArn] }));

    this.registryRole = new Role(this, "RegistryRole", {
      assumedBy: trusted(environmentSubjects(settings, settings.registryEnvironment), ROLE_WORKFLOWS.registry),
      description: `GitHub Actions (${settings.githubRepository}, environment ${settings.registryEnvironment}) creates and configures ECR ${settings.ecrRepository}`,
    });
    this.registryRole.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: REGISTRY_ACTIONS, resources: [repositoryArn] }));
    this.registryRole.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: REGISTRY_SIGNING_ACTIONS, resources: ["*"] }));
    acknowledge(this.registryRole, "AwsSolutions-IAM5[Resource::*]", "the registry's signing configuration (ecr:GetSigningConfiguration, ecr:PutSigningConfiguration) has no resource-level permission: it can only be granted on *");

    // The AWS Signer profile ECR signs the repository's images with (managed signing: no key material in the pipeline).
    // ECR signs with the pusher's identity, so the publish role may sign payloads with this profile.
    this.signingProfile = new SigningProfile(this, "SigningProfile", { platform: Platform.NOTATION_OCI_SHA384_ECDSA, signatureValidity: Duration.days(365 * 2) });
    this.publishRole.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: SIGN_ON_PUSH_ACTIONS, resources: [this.signingProfile.signingProfileArn] }));
    new CfnOutput(this, "SigningProfileArn", { value: this.signingProfile.signingProfileArn, description: "setup-registry --signing-profile-arn (repository variable SIGNING_PROFILE_ARN)" });

    // The lifecycle policy keeps what at most MAX_ENVIRONMENTS environments run and would roll back to (dagger/src/ecr/lifecycle.ts).
    if (props.environments.length > MAX_ENVIRONMENTS) {
      throw new InputError(`${props.environments.length} environments share ECR repository ${props.settings.ecrRepository}: at most ${MAX_ENVIRONMENTS}, the number whose running and rollback releases the lifecycle policy keeps`);
    }
    for (const environment of props.environments) {
      const id = environmentId("DeployRole", environment);
      const role = new Role(this, id, {
        assumedBy: trusted(environmentSubjects(settings, environment), ROLE_WORKFLOWS.deploy),
        description: `GitHub Actions (${settings.githubRepository}, environment ${environment}) deploys to the ${environment} ECS service`,
      });
      for (const statement of deployStatements(this, environment, settings.ecrRepository)) {
        role.addToPolicy(statement);
        acknowledgeWildcards(
          role,
          statement.resources,
          "each wildcard is the narrowest IAM allows: * only for actions without resource-level permissions (task definitions, Describe of ELBv2), else the environment's own family revisions, cluster tasks and service deployments, whose ids are not known in advance (infra/deploy-permissions.ts)",
        );
      }
      this.deployRoles[environment] = role;
      new CfnOutput(this, `${id}Arn`, { value: role.roleArn, description: `Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment ${environment}` });
    }

    this.addInfrastructureRoles(settings, props.environments, trusted);

    new CfnOutput(this, "PublishRoleArn", { value: this.publishRole.roleArn, description: "Repository variable AWS_PUBLISH_ROLE_ARN" });
    new CfnOutput(this, "RegistryRoleArn", { value: this.registryRole.roleArn, description: "Repository variable AWS_REGISTRY_ROLE_ARN" });
    new CfnOutput(this, "EcrRepositoryName", { value: settings.ecrRepository, description: "Repository variable ECR_REPOSITORY" });
    new CfnOutput(this, "AwsRegion", { value: settings.region, description: "Repository variable AWS_REGION" });
  }

  /**
   * The plan role, one provision role per environment, and the execution policy. A pull request's plan reads only (the
   * lookup role has ReadOnlyAccess, with kms:Decrypt denied, per the bootstrap template); a provision deploys, with
   * CloudFormation acting under the execution policy.
   */
  private addInfrastructureRoles(settings: IdentitySettings, environments: string[], trusted: (subjects: string[], workflows: readonly string[], pullRequest?: boolean) => WebIdentityPrincipal): void {
    this.planRole = new Role(this, "PlanRole", {
      assumedBy: trusted(pullRequestSubjects(settings), ROLE_WORKFLOWS.plan, true),
      description: `GitHub Actions (${settings.githubRepository}, pull requests) reads through the CDK lookup role for cdk diff`,
    });
    this.planRole.addToPolicy(assumeBootstrapRoles(this, settings.cdkQualifier, ASSUMABLE_BOOTSTRAP_ROLES.plan));
    new CfnOutput(this, "PlanRoleArn", { value: this.planRole.roleArn, description: "Repository variable AWS_PLAN_ROLE_ARN" });

    for (const environment of environments) {
      const id = environmentId("ProvisionRole", environment);
      const role = new Role(this, id, {
        assumedBy: trusted(environmentSubjects(settings, environment), ROLE_WORKFLOWS.provision),
        description: `GitHub Actions (${settings.githubRepository}, environment ${environment}) deploys the ${environment} stack through the CDK bootstrap roles`,
      });
      role.addToPolicy(assumeBootstrapRoles(this, settings.cdkQualifier, ASSUMABLE_BOOTSTRAP_ROLES.provision));
      this.provisionRoles[environment] = role;
      new CfnOutput(this, `${id}Arn`, { value: role.roleArn, description: `Variable AWS_PROVISION_ROLE_ARN of the GitHub environment ${environment}` });
    }

    const [resourceStatements, iamStatements] = executionPolicyDocuments(executionPolicyStatements(this, settings.cdkQualifier));
    const documents = [
      { id: "CloudFormationExecutionPolicy", what: "the resources", statements: resourceStatements },
      { id: "CloudFormationExecutionRolesPolicy", what: "IAM: the service roles, only with their boundary", statements: iamStatements },
    ];
    this.executionPolicies = documents.map(({ id, what, statements }) => {
      const policy = new ManagedPolicy(this, id, {
        description: `CloudFormation execution role of cdk bootstrap: what a service stack's deploy may do, ${what} (infra/execution-policy.ts)`,
        statements,
      });
      acknowledgeWildcards(
        policy,
        statements.flatMap((statement) => statement.resources),
        "CloudFormation creates these resources under names it generates: * where the create calls take no resource-level permission, the service stacks' name prefixes for IAM roles and S3 buckets (infra/execution-policy.ts)",
      );
      for (const action of statements.flatMap((statement) => statement.actions).filter((candidate) => candidate.includes("*"))) {
        acknowledge(policy, `AwsSolutions-IAM5[Action::${action}]`, "read-only Describe calls of EC2 and Elastic Load Balancing, which take no resource-level permission and which the VPC, load balancer and ECS service handlers read with");
      }
      return policy;
    });
    new CfnOutput(this, "CloudFormationExecutionPolicyArn", {
      value: Fn.join(",", this.executionPolicies.map((policy) => policy.managedPolicyArn)),
      description: "cdk bootstrap --cloudformation-execution-policies (bootstrap passes it)",
    });
    this.addPermissionsBoundary(settings);
  }

  /**
   * The permissions boundary of every service-stack role (./permissions-boundary.ts), which the execution policy
   * requires on any role it creates or widens; named, so the service stacks refer to it by ARN.
   */
  private addPermissionsBoundary(settings: IdentitySettings): void {
    this.permissionsBoundary = createPermissionsBoundary(this, settings.ecrRepository);
    const resources = boundaryStatements(this, settings.ecrRepository).flatMap((statement) => statement.resources);
    acknowledgeWildcards(this.permissionsBoundary, resources, "a boundary only caps what the service stacks' roles may do: the actions are the few those roles use, on * where the resources are named by CloudFormation (infra/permissions-boundary.ts)");
    new CfnOutput(this, "PermissionsBoundaryArn", { value: this.permissionsBoundary.managedPolicyArn, description: "Permissions boundary of the service stacks' roles (the execution policy requires it)" });
  }
}
