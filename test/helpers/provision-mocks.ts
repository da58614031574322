/**
 * provision and bootstrap against the fake engine: mocked STS and CloudFormation (aws-sdk-client-mock, the module's
 * own client classes) beside ./ecs-mocks.ts's ECS/ELBv2/ECR, and a resolver that answers the cdk commands the
 * functions run (their output, the synthesized template) and records their arguments.
 */
import { DescribeStacksCommand, GetTemplateCommand, type Stack } from "@aws-sdk/client-cloudformation";
import { cloudformation } from "./ecs-mocks.js";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import type { Answer, Step } from "./fake-engine.js";
import { stepsNamed } from "./plan.js";

export const sts = mockClient(STSClient);
export { cloudformation } from "./ecs-mocks.js";

export const ACCOUNT = "123456789012";
export const LOOKUP_ROLE = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-lookup-role-${ACCOUNT}-eu-west-1`;
/** The lookup role's temporary credentials, as STS hands them out. */
export const LOOKUP = { accessKeyId: "ASIALOOKUPROLEKEY000", secretAccessKey: "lookup-role-secret-key", sessionToken: "lookup-role-session" };

/** The caller is a user of the account; AssumeRole answers the lookup role's credentials. */
export function stsAnswers(): void {
  sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/admin`, UserId: "AIDA" });
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: LOOKUP.accessKeyId, SecretAccessKey: LOOKUP.secretAccessKey, SessionToken: LOOKUP.sessionToken, Expiration: new Date(Date.now() + 3_600_000) },
  });
}

/**
 * DescribeStacks answers `stacks` by name, in turn for a name given several (the last repeating; `undefined`: not there
 * at that call); any other name does not exist (CloudFormation's ValidationError).
 */
export function stacks(answers: Record<string, (Partial<Stack> | undefined)[]>): void {
  const calls: Record<string, number> = {};
  cloudformation.on(DescribeStacksCommand).callsFake((input: { StackName: string }) => {
    const list = answers[input.StackName] ?? [undefined];
    const answer = list[Math.min((calls[input.StackName] = (calls[input.StackName] ?? -1) + 1), list.length - 1)];
    if (!answer) throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), { name: "ValidationError" });
    return { Stacks: [{ StackName: input.StackName, CreationTime: new Date(0), StackStatus: "UPDATE_COMPLETE", ...answer } as Stack] };
  });
}

/** Outputs and parameters as DescribeStacks lists them. */
export const outputs = (values: Record<string, [string, string?]>) => Object.entries(values).map(([OutputKey, [OutputValue, Description]]) => ({ OutputKey, OutputValue, ...(Description ? { Description } : {}) }));
export const parameters = (values: Record<string, string>) => Object.entries(values).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue }));

/** GetTemplate answers `templates` by stack name (the template the stack was last deployed with). */
export function deployedTemplates(templates: Record<string, string>): void {
  cloudformation.on(GetTemplateCommand).callsFake((input: { StackName: string }) => ({ TemplateBody: templates[input.StackName] }));
}

/** What the service stack's resources are made of, as far as the tests change them. */
export interface ResourceKnobs {
  cpu?: string;
  alarmThreshold?: number;
  taskRolePolicy?: string;
}

/**
 * A service-stack template as far as provision reads it: its parameters, its repository output, and a task definition
 * (image from ImageDigest, role by GetAtt), a service using it, a listener rule with the weights, an alarm beside.
 */
export const template = (parameterNames: string[], repository = "hono-ecr-service", knobs: ResourceKnobs = {}): string =>
  JSON.stringify({
    Parameters: Object.fromEntries([...parameterNames, "BootstrapVersion"].map((name) => [name, { Type: "String" }])),
    Outputs: { EcrRepositoryName: { Value: repository } },
    Resources: {
      TaskRole: { Type: "AWS::IAM::Role", Properties: { Policies: [{ PolicyName: knobs.taskRolePolicy ?? "read" }] } },
      TaskDef: {
        Type: "AWS::ECS::TaskDefinition",
        Properties: { Cpu: knobs.cpu ?? "256", TaskRoleArn: { "Fn::GetAtt": ["TaskRole", "Arn"] }, ContainerDefinitions: [{ Image: { "Fn::Sub": `\${AWS::AccountId}.dkr.ecr.\${AWS::Region}.amazonaws.com/${repository}@\${ImageDigest}` } }] },
      },
      Service: { Type: "AWS::ECS::Service", Properties: { TaskDefinition: { Ref: "TaskDef" } } },
      ...(parameterNames.includes("TargetGroupWeight")
        ? { Rule: { Type: "AWS::ElasticLoadBalancingV2::ListenerRule", Properties: { Weights: [{ Ref: "TargetGroupWeight" }, { Ref: "AlternateTargetGroupWeight" }] } } }
        : {}),
      Alarm: { Type: "AWS::CloudWatch::Alarm", Properties: { Threshold: knobs.alarmThreshold ?? 1 } },
    },
  });

/** The cdk commands a function ran (the args of each `npx --no-install cdk ...` exec, without the npx prefix), in order. */
export const cdkCommands = (chains: Step[][]): string[][] => {
  const seen = new Set<string>();
  const commands: string[][] = [];
  for (const chain of chains) {
    for (const step of stepsNamed(chain, "withExec")) {
      const args = step.args.args as string[];
      if (args[2] !== "cdk" || seen.has(JSON.stringify(args))) continue;
      seen.add(JSON.stringify(args));
      commands.push(args.slice(3));
    }
  }
  return commands;
};

/**
 * Answers the cdk commands: `stdout` of an exec whose cdk subcommand (and, for deploy, stack) matches a key of
 * `outputs` (`deploy`, `deploy GithubActionsEcrIdentity`, `diff`, `bootstrap`), and `contents` of a template file or of
 * the source's cdk.json (`cdkJson`, by default one without context).
 */
export function cdkResolver(answers: { templates?: Record<string, string>; outputs?: Record<string, string>; cdkJson?: string } = {}): (chain: Step[]) => Answer | undefined {
  return (chain) => {
    const leaf = chain.at(-1)!;
    const exec = stepsNamed(chain, "withExec").at(-1)?.args.args as string[] | undefined;
    if (leaf.field === "contents" && chain.at(-2)?.field === "file") {
      const path = String(chain.at(-2)!.args.path);
      if (path === "cdk.json") return { value: answers.cdkJson ?? JSON.stringify({ app: "npx tsx infra/app.ts", context: {} }) };
      const found = Object.entries(answers.templates ?? {}).find(([stack]) => path === `infra/cdk.out/${stack}.template.json`);
      return found ? { value: found[1] } : undefined;
    }
    if (leaf.field === "stdout" && exec?.[2] === "cdk") {
      const [command, stack] = exec.slice(3);
      return { value: answers.outputs?.[`${command} ${stack}`] ?? answers.outputs?.[command!] ?? "" };
    }
    return undefined;
  };
}
