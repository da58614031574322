/**
 * CDK app. Stacks:
 * - GithubActionsEcrIdentity, only with -c githubRepository=OWNER/REPO: `dagger call aws ... bootstrap` deploys it, or
 *   `npx cdk deploy GithubActionsEcrIdentity -c githubRepository=OWNER/REPO -c githubOwnerId=N -c githubRepositoryId=N`
 *   (the ids make the roles trust only the immutable sub form; without them, the name form and a synth warning);
 * - HonoService-<environment>, one per entry of infra/environments.ts, with no GitHub context:
 *   `dagger call aws ... provision --environment=staging` (the running digest and traffic weights passed on).
 * Context keys and their defaults: infra/config.ts; README, "One-time AWS setup" and "Where it runs".
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { serviceStackName } from "../dagger/src/deploy/names.js";
import { readIdentitySettings, readServiceSettings } from "./config.js";
import { ENVIRONMENTS, validateEnvironment } from "./environments.js";
import { GithubActionsIdentityStack } from "./github-actions-identity-stack.js";
import { ServiceStack } from "./service-stack.js";

const app = new App();
// cdk-nag's AwsSolutions pack on every stack: synth fails on a finding nobody acknowledged (each acknowledgment is in
// code with its reason, infra/nag.ts, and written into the template's metadata as cdk_nag.rules_to_suppress).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
const context = (key: string): unknown => app.node.tryGetContext(key);
// The identity stack (the trust root) only with -c githubRepository=...: `bootstrap` deploys it, CI never does (the
// pipeline cannot widen its own permissions), and provisioning a service stack needs no GitHub context.
const identity = context("githubRepository") === undefined ? undefined : readIdentitySettings(context, process.env.CDK_DEFAULT_REGION);
if (identity) {
  new GithubActionsIdentityStack(app, "GithubActionsEcrIdentity", {
    settings: identity,
    environments: Object.keys(ENVIRONMENTS),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: identity.region },
    description: `GitHub Actions OIDC roles for ${identity.githubRepository} to publish to ECR ${identity.ecrRepository}`,
  });
}
const settings = identity ?? readServiceSettings(context, process.env.CDK_DEFAULT_REGION);
for (const [name, config] of Object.entries(ENVIRONMENTS)) {
  const environment = validateEnvironment(name, config, { region: settings.region, ecrRepository: settings.ecrRepository });
  new ServiceStack(app, serviceStackName(name), {
    settings: environment,
    env: { region: environment.region, ...(environment.account ? { account: environment.account } : {}) },
    description: `${name}: the service on ECS Fargate behind an ALB (${environment.deployment.strategy} deployments)`,
  });
}
