/**
 * Who the credentials are (STS GetCallerIdentity), the CDK bootstrap's lookup role they assume for every read provision
 * makes (STS AssumeRole), and CloudFormation stacks as DescribeStacks shows them. Each call fails with one line
 * (../aws-errors.ts).
 */
import { CloudFormationClient, DescribeStacksCommand, GetTemplateCommand, type Stack } from "@aws-sdk/client-cloudformation";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { AwsError, awsCall, translateAwsError, type CallContext } from "../aws-errors.js";
import { MAX_ATTEMPTS, type AwsCredentials } from "../ecr/registry.js";

/** The qualifier `cdk bootstrap` uses by default (its roles are `cdk-<qualifier>-<kind>-role-<account>-<region>`). */
export const CDK_QUALIFIER = "hnb659fds";
/** `cdk bootstrap`'s rule for a qualifier (aws-cdk 2.1148, lib/api/bootstrap/bootstrap-template.yaml, parameter Qualifier), as infra/config.ts checks it. */
const QUALIFIER_RULE = /^[A-Za-z0-9_-]{1,10}$/;

/**
 * The qualifier the stacks' roles use, from cdk.json's text with infra/config.ts's precedence: context `cdkQualifier`,
 * else CDK's `@aws-cdk/core:bootstrapQualifier`, else hnb659fds. A value against the rule fails naming it.
 */
export function cdkQualifier(cdkJson: string): string {
  const context = ((JSON.parse(cdkJson) as { context?: Record<string, unknown> }).context ?? {});
  const key = context.cdkQualifier !== undefined ? "cdkQualifier" : "@aws-cdk/core:bootstrapQualifier";
  const value = context[key] ?? CDK_QUALIFIER;
  if (typeof value !== "string" || !QUALIFIER_RULE.test(value)) throw new AwsError(`cdk.json context ${key}=${JSON.stringify(value)} is not a cdk bootstrap qualifier: 1 to 10 letters, digits, _ or -, e.g. hnb659fds`);
  return value;
}
/** The CDK toolkit stack `cdk bootstrap` creates. */
export const TOOLKIT_STACK = "CDKToolkit";

/** The account and partition the credentials belong to. */
export interface CallerIdentity {
  account: string;
  partition: string;
  arn: string;
}

/** An STS client for `region`. Honours AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL (the tests' emulator). */
export const createStsClient = (region: string, credentials: AwsCredentials): STSClient => new STSClient({ region, credentials, maxAttempts: MAX_ATTEMPTS });

/** A CloudFormation client for `region`. */
export const createCloudFormationClient = (region: string, credentials: AwsCredentials): CloudFormationClient => new CloudFormationClient({ region, credentials, maxAttempts: MAX_ATTEMPTS });

/** The account of the credentials (GetCallerIdentity needs no permission). */
export async function callerIdentity(sts: STSClient, region: string): Promise<CallerIdentity> {
  const response = await awsCall("sts:GetCallerIdentity", { region }, () => sts.send(new GetCallerIdentityCommand({})));
  if (!response.Account || !response.Arn) throw new AwsError("STS returned no account for the credentials");
  return { account: response.Account, partition: response.Arn.split(":")[1] ?? "aws", arn: response.Arn };
}

/**
 * The ARN of a CDK bootstrap role (aws/aws-cdk-cli, packages/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml:
 * `RoleName: cdk-${Qualifier}-<kind>-role-${AWS::AccountId}-${AWS::Region}`).
 */
export const bootstrapRoleArn = (identity: CallerIdentity, region: string, kind: "lookup" | "deploy" | "file-publishing", qualifier = CDK_QUALIFIER): string =>
  `arn:${identity.partition}:iam::${identity.account}:role/cdk-${qualifier}-${kind}-role-${identity.account}-${region}`;

/**
 * Temporary credentials of the account's CDK lookup role. The bootstrap template gives it the managed policy
 * ReadOnlyAccess (and denies kms:Decrypt) and trusts the account itself (same file, LookupRole): the plan and
 * provision roles may assume it and nothing else, so every read provision makes goes through it.
 */
export async function assumeLookupRole(sts: STSClient, region: string, identity: CallerIdentity, qualifier: string): Promise<AwsCredentials> {
  const roleArn = bootstrapRoleArn(identity, region, "lookup", qualifier);
  const context: CallContext = { region, resource: `role ${roleArn}` };
  let response;
  try {
    response = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "hono-ecr-service-provision", DurationSeconds: 3600 }));
  } catch (error) {
    const translated = translateAwsError(error, "sts:AssumeRole", context);
    throw new AwsError(`${translated.message} (is the account bootstrapped in ${region}? dagger call aws ... bootstrap)`);
  }
  const credentials = response.Credentials;
  if (!credentials?.AccessKeyId || !credentials.SecretAccessKey) throw new AwsError(`STS returned no credentials for ${roleArn}`);
  return { accessKeyId: credentials.AccessKeyId, secretAccessKey: credentials.SecretAccessKey, ...(credentials.SessionToken ? { sessionToken: credentials.SessionToken } : {}) };
}

/** A stack's status, outputs (with their descriptions) and parameters. */
export interface StackDescription {
  name: string;
  status: string;
  outputs: { key: string; value: string; description: string }[];
  parameters: Record<string, string>;
}

/** The stack `name`, or undefined when CloudFormation has none of that name (DescribeStacks: ValidationError "does not exist"). */
export async function describeStack(client: CloudFormationClient, region: string, name: string): Promise<StackDescription | undefined> {
  let stack: Stack | undefined;
  try {
    stack = (await client.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
  } catch (error) {
    const { name: code, message } = error as { name?: string; message?: string };
    if (code === "ValidationError" && /does not exist/.test(message ?? "")) return undefined;
    throw translateAwsError(error, "cloudformation:DescribeStacks", { region, resource: `stack ${name}` });
  }
  if (!stack) return undefined;
  return {
    name,
    status: stack.StackStatus ?? "?",
    outputs: (stack.Outputs ?? []).map((output) => ({ key: output.OutputKey ?? "", value: output.OutputValue ?? "", description: output.Description ?? "" })),
    parameters: Object.fromEntries((stack.Parameters ?? []).map((parameter) => [parameter.ParameterKey ?? "", parameter.ResolvedValue ?? parameter.ParameterValue ?? ""])),
  };
}

/** The template the stack `name` was last deployed with, as cdk deployed it (GetTemplate, stage Original: the JSON text). */
export async function deployedTemplate(client: CloudFormationClient, region: string, name: string): Promise<string> {
  const context = { region, resource: `stack ${name}` };
  const response = await awsCall("cloudformation:GetTemplate", context, () => client.send(new GetTemplateCommand({ StackName: name, TemplateStage: "Original" })));
  if (!response?.TemplateBody) throw new AwsError(`CloudFormation returned no template for stack ${name} in ${region}`);
  return response.TemplateBody;
}

/** The value of output `key`, if the stack has it. */
export const outputValue = (stack: StackDescription | undefined, key: string): string | undefined => stack?.outputs.find((output) => output.key === key)?.value;
