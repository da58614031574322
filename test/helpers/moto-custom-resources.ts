/**
 * Lambda-backed custom resources in moto's CloudFormation, completed the way AWS would, without Docker.
 *
 * How moto 5.2.1 behaves (getmoto/moto 5.2.1, moto/cloudformation/custom_model.py, parsing.py, responses.py;
 * moto/awslambda/models.py): a `Custom::*` resource gets a CustomModel that looks up the Lambda its ServiceToken names
 * and starts `fn.invoke(event)` in a thread; moto runs a Lambda only in a Docker container, so here the invoke fails in
 * that thread (moto's Docker-free Lambda, `lambda.use_docker: false` in moto/awslambda_simple, runs no code either), and
 * the stack stays CREATE_IN_PROGRESS until a response arrives at
 * `/cloudformation_<region>/cfnresponse` (`Status: SUCCESS` marks the resource created, then the stack completes; any
 * other status is ignored). The Lambda itself is created from its S3 code, which must exist (moto checks the bucket and
 * the key, as AWS does: `cdk deploy` publishes the asset to the bootstrap bucket first).
 *
 * So the tests publish a stand-in for each Lambda's code asset, and play Lambda for the custom resource types listed
 * here: they run CDK's own handler (the very file CDK bundles as the asset's index.js) in a Node process against moto's
 * APIs, with the event CloudFormation would send, and PUT its response to moto's cfnresponse URL, as CDK's
 * `__entrypoint__` does with the ResponseURL. A custom resource type not listed here is skipped like any other type
 * moto cannot create (test/helpers/moto-cloudformation.ts).
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { DescribeSecurityGroupsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { FAKE_CREDENTIALS } from "./moto.js";
import { ROOT } from "./process.js";

const run = promisify(execFile);

/** The account moto's CloudFormation deploys into (moto's default account). */
export const MOTO_ACCOUNT = "123456789012";

/** Custom resource types the tests complete, with the handler file CDK bundles as their Lambda's code. */
export const MOTO_CUSTOM_RESOURCE_HANDLERS: Record<string, string> = {
  // aws-cdk-lib 2.276.0: the Vpc's restrictDefaultSecurityGroup (infra/default-security-group.ts).
  "Custom::VpcRestrictDefaultSG": path.join(ROOT, "node_modules/aws-cdk-lib/custom-resource-handlers/dist/aws-ec2/restrict-default-security-group-handler/index.js"),
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Resource {
  Type: string;
  Properties?: Json;
}

/** A signature-shaped Authorization header: moto's server routes a request to a service by its credential scope. */
function scopeFor(service: string, region: string): string {
  return `AWS4-HMAC-SHA256 Credential=${FAKE_CREDENTIALS.accessKeyId}/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

async function put(url: string, body: string, service: string, region: string): Promise<void> {
  const response = await fetch(url, { method: "PUT", body, headers: { Authorization: scopeFor(service, region) } });
  if (!response.ok) throw new Error(`PUT ${url} answered ${response.status}: ${await response.text()}`);
}

/**
 * Puts a stand-in object where each Lambda function of `resources` takes its code from (the CDK bootstrap bucket), as
 * `cdk deploy` publishes the real asset first. moto stores the code and never runs it.
 */
export async function publishLambdaCode(url: string, region: string, resources: Record<string, Resource>): Promise<void> {
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== "AWS::Lambda::Function") continue;
    const code = (resource.Properties as { Code?: { S3Bucket?: Json; S3Key?: Json } } | undefined)?.Code;
    if (!code?.S3Bucket) continue;
    const sub = (code.S3Bucket as { "Fn::Sub"?: string })["Fn::Sub"];
    const bucket = (typeof code.S3Bucket === "string" ? code.S3Bucket : sub)?.replaceAll("${AWS::AccountId}", MOTO_ACCOUNT).replaceAll("${AWS::Region}", region);
    if (!bucket || bucket.includes("${") || typeof code.S3Key !== "string") throw new Error(`${id}: cannot tell which S3 object its code is in: ${JSON.stringify(code)}`);
    await put(`${url}/${bucket}`, `<CreateBucketConfiguration><LocationConstraint>${region}</LocationConstraint></CreateBucketConfiguration>`, "s3", region).catch((error: Error) => {
      if (!error.message.includes("BucketAlreadyOwnedByYou")) throw error;
    });
    await put(`${url}/${bucket}/${code.S3Key}`, `stand-in for the CDK asset ${code.S3Key} (moto runs no Lambda without Docker)`, "s3", region);
  }
}

/** `value` with the references CDK's custom resources use resolved against what moto created. */
async function resolve(value: Json, physicalIds: Record<string, string>, ec2: EC2Client): Promise<Json> {
  if (Array.isArray(value)) return Promise.all(value.map((inner) => resolve(inner, physicalIds, ec2)));
  if (value === null || typeof value !== "object") return value;
  if (value.Ref === "AWS::AccountId") return MOTO_ACCOUNT;
  if (typeof value.Ref === "string" && physicalIds[value.Ref]) return physicalIds[value.Ref]!;
  const getAtt = value["Fn::GetAtt"];
  if (Array.isArray(getAtt) && getAtt[1] === "DefaultSecurityGroup" && physicalIds[getAtt[0] as string]) {
    const vpcId = physicalIds[getAtt[0] as string]!;
    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }, { Name: "group-name", Values: ["default"] }] }))).SecurityGroups ?? [];
    if (groups.length !== 1) throw new Error(`VPC ${vpcId} has ${groups.length} default security groups in moto`);
    return groups[0]!.GroupId!;
  }
  if (Object.keys(value).some((key) => key === "Ref" || key.startsWith("Fn::"))) throw new Error(`cannot resolve ${JSON.stringify(value)} for a custom resource here`);
  return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([key, inner]) => [key, await resolve(inner, physicalIds, ec2)] as const)));
}

/** A CloudFormation custom resource request, as the Lambda receives it (ResponseURL aside). */
export interface CustomResourceEvent {
  RequestType: "Create" | "Update" | "Delete";
  ResourceType: string;
  LogicalResourceId: string;
  RequestId: string;
  StackId: string;
  ResourceProperties: Json;
  [key: string]: Json | undefined;
}

/**
 * Runs CDK's handler for `event.ResourceType` in a Node process with the event, its AWS SDK pointed at moto (the handler
 * builds its client from the environment, as in Lambda), and resolves with what it returned.
 */
export async function runCustomResourceHandler(url: string, region: string, event: CustomResourceEvent): Promise<{ PhysicalResourceId?: string; Data?: Record<string, Json> }> {
  const handler = MOTO_CUSTOM_RESOURCE_HANDLERS[event.ResourceType];
  if (!handler) throw new Error(`no handler for ${event.ResourceType} here: known are ${Object.keys(MOTO_CUSTOM_RESOURCE_HANDLERS).join(", ")}`);
  const env = { ...process.env, AWS_ENDPOINT_URL: url, AWS_REGION: region, AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey };
  const script = "require(process.argv[1]).handler(JSON.parse(process.argv[2])).then((result) => process.stdout.write(JSON.stringify(result ?? {})))";
  const { stdout } = await run(process.execPath, ["-e", script, handler, JSON.stringify(event)], { env, timeout: 60_000 }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`${event.ResourceType} ${event.LogicalResourceId}: CDK's handler failed against moto: ${error.stderr || error.message}`);
  });
  return JSON.parse(stdout || "{}") as { PhysicalResourceId?: string; Data?: Record<string, Json> };
}

/** Where moto takes custom resource responses (moto/cloudformation/urls.py). */
export function cfnResponseUrl(url: string, region: string, stackId: string): string {
  return `${url}/cloudformation_${region}/cfnresponse?stack=${encodeURIComponent(stackId)}`;
}

/**
 * Plays Lambda for each custom resource of `resources` whose type has a handler: runs the handler with the Create
 * event (properties resolved against `physicalIds`) against moto, and sends its response. Returns the logical ids done.
 * A handler that fails throws here with its error (moto ignores a FAILED response: the stack would just hang).
 */
export async function completeCustomResources(
  url: string,
  region: string,
  stackId: string,
  resources: Record<string, Resource>,
  physicalIds: Record<string, string>,
): Promise<string[]> {
  const ec2 = new EC2Client({ endpoint: url, region, credentials: FAKE_CREDENTIALS });
  const done: string[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (!(resource.Type in MOTO_CUSTOM_RESOURCE_HANDLERS)) continue;
    // The ServiceToken (the Lambda's ARN) is what CloudFormation invokes; the handler reads only the other properties.
    const properties = Object.fromEntries(Object.entries((resource.Properties ?? {}) as Record<string, Json>).filter(([key]) => key !== "ServiceToken"));
    const event: CustomResourceEvent = {
      RequestType: "Create",
      StackId: stackId,
      RequestId: `moto-stand-in-${logicalId}`,
      LogicalResourceId: logicalId,
      ResourceType: resource.Type,
      ResourceProperties: await resolve(properties, physicalIds, ec2),
    };
    const result = await runCustomResourceHandler(url, region, event);
    // As CDK's __entrypoint__.js answers: the handler's PhysicalResourceId, else the request's id; a PUT to ResponseURL.
    const response = { Status: "SUCCESS", StackId: stackId, RequestId: event.RequestId, LogicalResourceId: logicalId, PhysicalResourceId: result.PhysicalResourceId ?? event.RequestId, Data: result.Data ?? {} };
    await put(cfnResponseUrl(url, region, stackId), JSON.stringify(response), "cloudformation", region);
    done.push(logicalId);
  }
  return done;
}
