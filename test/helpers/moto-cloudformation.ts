/**
 * Deploys synthesized CDK templates into moto's CloudFormation (moto server, started by ./moto.ts).
 *
 * moto has CloudFormation models for most of what the stacks create, not all. What it cannot create is taken out of the
 * template before create-stack, named, and returned, so a test asserts exactly what was skipped:
 * - resource types moto has no CloudFormation model for (read from moto itself, so an upgrade that adds one shows up),
 *   and custom resource types the tests cannot complete (those they can: ./moto-custom-resources.ts);
 * - `Fn::GetAtt` attributes moto does not implement (a placeholder string takes their place);
 * - references to the resources taken out (a placeholder string too).
 */
import { spawnSync } from "node:child_process";
import { CloudFormationClient, CreateStackCommand, DescribeStackResourcesCommand, DescribeStacksCommand, type Output } from "@aws-sdk/client-cloudformation";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { FAKE_CREDENTIALS } from "./moto.js";
import { completeCustomResources, MOTO_CUSTOM_RESOURCE_HANDLERS, publishLambdaCode } from "./moto-custom-resources.js";

/** The region the tests deploy into (moto knows its availability zones). */
export const MOTO_REGION = "eu-west-1";

/** Client options for any AWS SDK client pointed at moto. */
export function motoClientConfig(url: string) {
  return { endpoint: url, region: MOTO_REGION, credentials: FAKE_CREDENTIALS };
}

/** `Fn::GetAtt` attributes moto 5.2.1 does not implement for these types (it fails or crashes on them). */
export const MOTO_UNIMPLEMENTED_ATTRIBUTES: Record<string, string[]> = {
  "AWS::ElasticLoadBalancingV2::LoadBalancer": ["LoadBalancerFullName"],
  "AWS::ElasticLoadBalancingV2::TargetGroup": ["TargetGroupFullName", "LoadBalancerArns"],
};

/** The CloudFormation resource types moto can create, from its own model classes. */
export function motoCloudFormationTypes(): Set<string> {
  const probe = spawnSync(
    "python3",
    [
      "-c",
      [
        "import json, moto.cloudformation.parsing",
        "from moto.core.common_models import CloudFormationModel",
        "def walk(c):",
        "    for s in c.__subclasses__():",
        "        yield s",
        "        yield from walk(s)",
        "types = set()",
        "for c in walk(CloudFormationModel):",
        "    try: types.add(c.cloudformation_type())",
        "    except Exception: pass",
        "print(json.dumps(sorted(types)))",
      ].join("\n"),
    ],
    { encoding: "utf8" },
  );
  if (probe.status !== 0) throw new Error(`could not list moto's CloudFormation types: ${probe.stderr}`);
  return new Set(JSON.parse(probe.stdout) as string[]);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Template {
  Resources: Record<string, { Type: string; Properties?: Json; DependsOn?: string | string[] }>;
  Outputs?: Record<string, { Value: Json }>;
  [key: string]: unknown;
}

/** What was taken out of a template for moto. */
export interface MotoSkips {
  /** Logical ids by resource type. */
  resources: Record<string, string[]>;
  /** `Type.Attribute` of each unimplemented attribute referenced. */
  attributes: string[];
}

/** A copy of `template` that moto can create, and what was taken out. */
export function templateForMoto(template: Template, supported: Set<string>): { template: Template; skipped: MotoSkips } {
  const copy = structuredClone(template);
  const skipped: MotoSkips = { resources: {}, attributes: [] };
  const removed = new Set<string>();
  for (const [id, resource] of Object.entries(copy.Resources)) {
    if (supported.has(resource.Type) || resource.Type in MOTO_CUSTOM_RESOURCE_HANDLERS) continue;
    (skipped.resources[resource.Type] ??= []).push(id);
    removed.add(id);
    delete copy.Resources[id];
  }
  const attributes = new Set<string>();
  const rewrite = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== "object") return value;
    if (typeof value.Ref === "string" && removed.has(value.Ref)) return `moto-skipped:${value.Ref}`;
    const getAtt = value["Fn::GetAtt"];
    if (Array.isArray(getAtt)) {
      const [id, attribute] = getAtt as [string, string];
      if (removed.has(id)) return `moto-skipped:${id}.${attribute}`;
      const type = copy.Resources[id]?.Type;
      if (type && MOTO_UNIMPLEMENTED_ATTRIBUTES[type]?.includes(attribute)) {
        attributes.add(`${type}.${attribute}`);
        return `moto-unimplemented:${id}.${attribute}`;
      }
    }
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, rewrite(inner)]));
  };
  for (const resource of Object.values(copy.Resources)) {
    if (resource.Properties !== undefined) resource.Properties = rewrite(resource.Properties);
    if (resource.DependsOn !== undefined) {
      const dependsOn = ([] as string[]).concat(resource.DependsOn).filter((id) => !removed.has(id));
      if (dependsOn.length > 0) resource.DependsOn = dependsOn;
      else delete resource.DependsOn;
    }
  }
  for (const output of Object.values(copy.Outputs ?? {})) output.Value = rewrite(output.Value);
  skipped.attributes = [...attributes].sort();
  return { template: copy, skipped };
}

/** What moto created for a stack. */
export interface MotoStack {
  status: string;
  outputs: Record<string, string>;
  /** Physical ids by logical id. */
  physicalIds: Record<string, string>;
}

/**
 * Creates `stackName` from `template` in moto and waits for it to finish. The CDK bootstrap version parameter the
 * template checks is put into SSM first (moto answers HTTP 500 without it), and the Lambda code assets into the
 * bootstrap bucket; the custom resources are completed by CDK's own handlers (./moto-custom-resources.ts).
 */
export async function createStackInMoto(url: string, stackName: string, template: Template, parameters: Record<string, string>): Promise<MotoStack> {
  const config = motoClientConfig(url);
  await new SSMClient(config).send(new PutParameterCommand({ Name: "/cdk-bootstrap/hnb659fds/version", Value: "30", Type: "String", Overwrite: true }));
  await publishLambdaCode(url, MOTO_REGION, template.Resources);
  const cloudformation = new CloudFormationClient(config);
  const { StackId: stackId } = await cloudformation.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: JSON.stringify(template),
      Parameters: Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
      Capabilities: ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    }),
  );
  const deadline = Date.now() + 60_000;
  let customResourcesDone = false;
  for (;;) {
    const [stack] = (await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks ?? [];
    const status = stack?.StackStatus ?? "MISSING";
    if (status === "CREATE_IN_PROGRESS" && !customResourcesDone) {
      // moto has created every resource by now and waits for the custom resources' responses.
      const resources = (await cloudformation.send(new DescribeStackResourcesCommand({ StackName: stackName }))).StackResources ?? [];
      const physicalIds = Object.fromEntries(resources.map((resource) => [resource.LogicalResourceId!, resource.PhysicalResourceId!]));
      await completeCustomResources(url, MOTO_REGION, stackId!, template.Resources, physicalIds);
      customResourcesDone = true;
      continue;
    }
    if (!status.endsWith("_IN_PROGRESS") || Date.now() > deadline) {
      const resources = (await cloudformation.send(new DescribeStackResourcesCommand({ StackName: stackName }))).StackResources ?? [];
      return {
        status: status === "CREATE_COMPLETE" ? status : `${status}: ${stack?.StackStatusReason ?? ""}`,
        outputs: Object.fromEntries((stack?.Outputs ?? []).map((output: Output) => [output.OutputKey!, output.OutputValue!])),
        physicalIds: Object.fromEntries(resources.map((resource) => [resource.LogicalResourceId!, resource.PhysicalResourceId!])),
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
