// No stack update strands traffic (aws/aws-cdk#36649): the production rule's weights are stack parameters, and what
// provision passes for them is what the live rule has. Shown on the case that replaces the rule: a certificate added to
// a running blue/green environment (the rule moves to the new HTTPS listener), in the templates, and in moto's
// CloudFormation for the parameters reaching the rule.
import { spawnSync } from "node:child_process";
import { DescribeListenersCommand, DescribeRulesCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { cdkApp } from "./helpers/cdk-app.js";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusReport } from "../dagger/src/deploy/status.js";
import { liveWeights, stackParameters, templateFacts, WEIGHT_PARAMETERS, type LiveState } from "../dagger/src/infra/provision.js";
import { ENVIRONMENTS, validateEnvironment, type EnvironmentConfig } from "../infra/environments.js";
import { ServiceStack } from "../infra/service-stack.js";
import { motoUnavailableReason, startMoto, type Moto } from "./helpers/moto.js";
import { createStackInMoto, motoClientConfig, motoCloudFormationTypes, MOTO_REGION, templateForMoto } from "./helpers/moto-cloudformation.js";

type Json = Record<string, unknown>;
interface CfnTemplate {
  Parameters: Record<string, { Default?: unknown }>;
  Resources: Record<string, { Type: string; Properties: Json }>;
}
const CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9";
const DIGEST = `sha256:${"cd".repeat(32)}`;
const production = ENVIRONMENTS.production!;
const synth = (config: EnvironmentConfig): CfnTemplate => {
  const settings = validateEnvironment("production", config, { region: MOTO_REGION, ecrRepository: "hono-ecr-service" });
  return Template.fromStack(new ServiceStack(cdkApp(), "HonoService-production", { settings, env: { region: MOTO_REGION } })).toJSON() as CfnTemplate;
};
const ruleOf = (template: CfnTemplate): [string, Json] => Object.entries(template.Resources).find(([, resource]) => resource.Type === "AWS::ElasticLoadBalancingV2::ListenerRule")!;
const listenerOf = (template: CfnTemplate, ref: unknown) => template.Resources[(ref as { Ref: string }).Ref]!.Properties;
/** The rule's forward weights with the stack's parameters resolved: the given values, else the template's defaults. */
function resolvedWeights(template: CfnTemplate, given: Record<string, string>): number[] {
  const [, rule] = ruleOf(template);
  const groups = ((rule.Properties as Json).Actions as { ForwardConfig: { TargetGroups: { Weight: { Ref: string } }[] } }[])[0]!.ForwardConfig.TargetGroups;
  return groups.map(({ Weight }) => Number(given[Weight.Ref] ?? template.Parameters[Weight.Ref]!.Default));
}

const BLUE = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/Honoblue/1111111111111111";
const GREEN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/Honogreen/2222222222222222";
/** Production after a blue/green deployment: ECS moved all traffic to green, where the tasks run; blue is empty. */
const LIVE: LiveState = {
  stack: { name: "HonoService-production", status: "UPDATE_COMPLETE", parameters: { ImageDigest: DIGEST, TargetGroupWeight: "100", AlternateTargetGroupWeight: "0" }, outputs: [{ key: "TargetGroupArns", value: `${BLUE},${GREEN}`, description: "" }] },
  status: { digest: DIGEST, traffic: [{ targetGroupArn: BLUE, weight: 0, healthy: 0 }, { targetGroupArn: GREEN, weight: 100, healthy: 3 }] } as StatusReport,
  inProgress: [],
};

describe("adding a certificate to a running blue/green environment", () => {
  const before = synth(production);
  const after = synth({ ...production, certificateArn: CERTIFICATE, domainName: "api.example.com" });

  it("replaces the production rule: it moves to the new HTTPS listener, and ListenerArn is create-only in CloudFormation's schema", () => {
    const [id, rule] = ruleOf(before);
    const [idAfter, ruleAfter] = ruleOf(after);
    expect(idAfter).toBe(id);
    expect(listenerOf(before, (rule.Properties as Json).ListenerArn)).toMatchObject({ Port: 80, Protocol: "HTTP" });
    expect(listenerOf(after, (ruleAfter.Properties as Json).ListenerArn)).toMatchObject({ Port: 443, Protocol: "HTTPS" });
    // The resource schema cfn-lint ships (the registry's schema for the type): a new ListenerArn means a new rule,
    // created with the template's weights; a weight written as a literal would be 100/0 again.
    const probe = spawnSync("python3", ["-c", 'from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER as m; print(m.get_resource_schema("eu-west-1", "AWS::ElasticLoadBalancingV2::ListenerRule").schema["createOnlyProperties"])'], { encoding: "utf8" });
    expect(probe.stdout).toContain("/properties/ListenerArn");
    for (const template of [before, after]) {
      const groups = (((ruleOf(template)[1].Properties as Json).Actions as Json[])[0]!.ForwardConfig as { TargetGroups: { Weight: unknown }[] }).TargetGroups;
      expect(groups.map((group) => group.Weight)).toEqual(WEIGHT_PARAMETERS.map((name) => ({ Ref: name })));
      expect(WEIGHT_PARAMETERS.map((name) => template.Parameters[name]!.Default)).toEqual([100, 0]);
    }
  });

  it("the new rule gets the live weights provision passes: traffic stays on green; without them it would go to the empty blue group", () => {
    const parameters = stackParameters(templateFacts(JSON.stringify(after)), DIGEST, liveWeights(LIVE));
    expect(parameters).toEqual({ ImageDigest: DIGEST, TargetGroupWeight: "0", AlternateTargetGroupWeight: "100" });
    expect(resolvedWeights(after, parameters)).toEqual([0, 100]);
    // What a plain `cdk deploy --parameters ImageDigest=...` gives the new rule: the values the stack last had, the
    // template's 100/0 (cdk passes UsePreviousValue for a parameter not given: aws/aws-cdk-cli
    // packages/@aws-cdk/toolkit-lib/lib/api/deployments/cfn-api.ts, ParameterValues): all traffic to blue, no target.
    expect(resolvedWeights(after, { ImageDigest: DIGEST, ...LIVE.stack!.parameters })).toEqual([100, 0]);
  });

  it("a rolling environment's template declares no weights: provision passes only the digest", () => {
    const staging = synth({ ...ENVIRONMENTS.staging!, certificateArn: CERTIFICATE, domainName: "api.example.com" });
    expect(stackParameters(templateFacts(JSON.stringify(staging)), DIGEST, { TargetGroupWeight: "0", AlternateTargetGroupWeight: "100" })).toEqual({ ImageDigest: DIGEST });
  });
});

const motoMissing = motoUnavailableReason();

describe.skipIf(motoMissing)("the weights parameters in moto's CloudFormation", () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterAll(() => moto?.stop());

  it("reach the production rule: created with green's 100, the rule forwards 0/100", async () => {
    const { template } = templateForMoto(synth(production) as never, motoCloudFormationTypes());
    const stack = await createStackInMoto(moto.url, "HonoService-production", template, stackParameters(templateFacts(JSON.stringify(template)), DIGEST, liveWeights(LIVE)));
    expect(stack.status).toBe("CREATE_COMPLETE");
    const elb = new ElasticLoadBalancingV2Client(motoClientConfig(moto.url));
    const loadBalancerArn = Object.values(stack.physicalIds).find((id) => id.includes(":loadbalancer/app/"))!;
    const [listener] = (await elb.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }))).Listeners ?? [];
    const rule = ((await elb.send(new DescribeRulesCommand({ ListenerArn: listener!.ListenerArn! }))).Rules ?? []).find((candidate) => candidate.Priority === "10")!;
    expect(rule.Actions![0]!.ForwardConfig!.TargetGroups!.map((group) => group.Weight)).toEqual([0, 100]);
  }, 120_000);
});
