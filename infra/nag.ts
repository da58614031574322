/**
 * cdk-nag 3 (AwsSolutions pack) acknowledgments, each with its reason: the stacks call these where the finding arises,
 * through CDK's own Validations.of(scope).acknowledge (cdk-nag 3 dropped NagSuppressions; see its README, "Acknowledging
 * a Rule"). With writeSuppressionsToCloudFormation each acknowledgment is also written into the resource's template
 * metadata (`cdk_nag.rules_to_suppress`), so a reviewer reading a template sees every exception and why.
 */
import { Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/** Acknowledges one cdk-nag finding id on `scope` (and what it contains), with the reason. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** A resolved CloudFormation value as cdk-nag writes it into a finding id: `{Ref: X}` as `<X>`, joins flattened. */
function flatten(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const object = value as Record<string, unknown>;
    if ("Ref" in object) return `<${String(object.Ref)}>`;
    if ("Fn::Join" in object) {
      const [separator, parts] = object["Fn::Join"] as [string, unknown[]];
      return parts.map(flatten).join(separator);
    }
    if ("Fn::GetAtt" in object) return `<${(object["Fn::GetAtt"] as string[]).join(".")}>`;
  }
  return JSON.stringify(value);
}

/** The IAM5 finding id of a wildcard resource, e.g. `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:...:task/c/*]`. */
export function wildcardResourceId(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resource))}]`;
}

/** Acknowledges every wildcard resource of `statements` on `scope`, with the reason. */
export function acknowledgeWildcards(scope: IConstruct, resources: string[], reason: string): void {
  for (const resource of resources) {
    const id = resource === "*" ? "AwsSolutions-IAM5[Resource::*]" : wildcardResourceId(scope, resource);
    if (id.includes("*")) acknowledge(scope, id, reason);
  }
}
