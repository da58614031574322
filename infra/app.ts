/**
 * CDK app: `npx cdk deploy -c githubRepository=OWNER/REPO -c githubOwnerId=N -c githubRepositoryId=N [-c region=...]`.
 * Context keys and their defaults: infra/config.ts; README, "One-time AWS setup".
 */
import { App } from "aws-cdk-lib";
import { readIdentitySettings } from "./config.js";
import { GithubActionsIdentityStack } from "./github-actions-identity-stack.js";

const app = new App();
const settings = readIdentitySettings((key) => app.node.tryGetContext(key), process.env.CDK_DEFAULT_REGION);
new GithubActionsIdentityStack(app, "GithubActionsEcrIdentity", {
  settings,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: settings.region },
  description: `GitHub Actions OIDC roles for ${settings.githubRepository} to publish to ECR ${settings.ecrRepository}`,
});
