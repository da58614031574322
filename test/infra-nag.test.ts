// cdk-nag 3's AwsSolutions pack on every stack: zero findings left unacknowledged, every acknowledgment with its
// reason in the synthesized template (writeSuppressionsToCloudFormation), and the real gaps it found fixed.
import { cdkApp } from "./helpers/cdk-app.js";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { serviceStackName } from "../dagger/src/deploy/names.js";
import { readIdentitySettings } from "../infra/config.js";
import { ENVIRONMENTS, validateEnvironment } from "../infra/environments.js";
import { GithubActionsIdentityStack } from "../infra/github-actions-identity-stack.js";
import { ServiceStack } from "../infra/service-stack.js";

const CONTEXT: Record<string, string> = { githubRepository: "acme/shop", githubOwnerId: "1111", githubRepositoryId: "2222", region: "eu-west-1", ecrRepository: "shop/web" };

/** The app as infra/app.ts builds it, with the pack writing acknowledgments into the templates. */
function nagged() {
  const app = cdkApp();
  const pack = new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true });
  const identity = new GithubActionsIdentityStack(app, "GithubActionsEcrIdentity", {
    settings: readIdentitySettings((key) => CONTEXT[key]),
    environments: Object.keys(ENVIRONMENTS),
    env: { account: "123456789012", region: "eu-west-1" },
  });
  const services = Object.fromEntries(
    Object.entries(ENVIRONMENTS).map(([name, config]) => {
      const settings = validateEnvironment(name, config, { region: "eu-west-1", ecrRepository: "shop/web" });
      return [name, new ServiceStack(app, serviceStackName(name), { settings, env: { region: settings.region } })];
    }),
  );
  return { app, pack, stacks: [identity, ...Object.values(services)], services };
}

const { app, pack, stacks, services } = nagged();
const report = pack.validateScope(app);
const templates = Object.fromEntries(stacks.map((stack) => [stack.stackName, Template.fromStack(stack)]));
const production = Template.fromStack(services.production!);
const staging = Template.fromStack(services.staging!);

describe("cdk-nag (AwsSolutions) on every stack", () => {
  it("leaves no finding unacknowledged", () => {
    expect(report.violations.map((violation) => `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.constructPath).join(", ")}`)).toEqual([]);
    expect(stacks.map((stack) => stack.stackName)).toEqual(["GithubActionsEcrIdentity", "HonoService-staging", "HonoService-production"]);
  });

  it("writes each acknowledgment with its reason into the template's metadata, where a reviewer sees it", () => {
    const acknowledged = Object.values(templates).flatMap((template) =>
      Object.values(template.toJSON().Resources as Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }>).flatMap(
        (resource) => resource.Metadata?.cdk_nag?.rules_to_suppress ?? [],
      ),
    );
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const rule of acknowledged) expect(rule.reason.length, rule.id).toBeGreaterThan(40);
    // (CDK's own CloudFormation-Validate acknowledgments land there too.)
    expect(new Set(acknowledged.map((rule) => rule.id.replace(/\[.*$/, "")).filter((id) => id.startsWith("AwsSolutions-")))).toEqual(new Set(["AwsSolutions-IAM5", "AwsSolutions-EC23", "AwsSolutions-ELB2", "AwsSolutions-ECS2", "AwsSolutions-VPC7", "AwsSolutions-S1"]));
    // Staging turns flow logs and access logs off (acknowledged, with why); production has both, so no such acknowledgment.
    expect(JSON.stringify(staging.toJSON())).toContain("AwsSolutions-VPC7");
    expect(JSON.stringify(production.toJSON())).not.toContain("AwsSolutions-VPC7");
    expect(JSON.stringify(production.toJSON())).not.toContain("AwsSolutions-ELB2");
  });

  it("fixes the real gaps: SNS over TLS only, flow logs in production, its ALB protected, no auto-assigned public IPs", () => {
    for (const template of [staging, production]) {
      template.hasResourceProperties("AWS::SNS::TopicPolicy", {
        PolicyDocument: { Statement: [{ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }] },
      });
      for (const subnet of Object.values(template.findResources("AWS::EC2::Subnet"))) expect((subnet as { Properties: { MapPublicIpOnLaunch?: boolean } }).Properties.MapPublicIpOnLaunch).toBe(false);
    }
    production.hasResourceProperties("AWS::EC2::FlowLog", { ResourceType: "VPC", TrafficType: "ALL", LogDestinationType: "cloud-watch-logs" });
    production.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    staging.resourceCountIs("AWS::EC2::FlowLog", 0);
    const attributes = (template: Template) =>
      (Object.values(template.findResources("AWS::ElasticLoadBalancingV2::LoadBalancer"))[0] as { Properties: { LoadBalancerAttributes: { Key: string; Value: string }[] } }).Properties.LoadBalancerAttributes;
    expect(attributes(production)).toContainEqual({ Key: "deletion_protection.enabled", Value: "true" });
    expect(attributes(staging)).not.toContainEqual({ Key: "deletion_protection.enabled", Value: "true" });
  });
});
