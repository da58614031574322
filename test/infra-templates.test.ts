// Every stack of the CDK app through the real tools: `cdk synth` (the CLI, offline, with the README's context), cfn-lint
// on each template, and create-stack of each runtime stack in moto's CloudFormation, then what moto created, read back
// through the AWS APIs.
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { AuthorizeSecurityGroupIngressCommand, CreateVpcCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcEndpointsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from "@aws-sdk/client-ecs";
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterName, CONTAINER_NAME, ECS_SERVICE_NAME, serviceStackName } from "../dagger/src/deploy/names.js";
import { cdkApp } from "./helpers/cdk-app.js";
import { Template } from "aws-cdk-lib/assertions";
import { RESTRICT_DEFAULT_SG_LOGS } from "../infra/default-security-group.js";
import { ENVIRONMENTS, validateEnvironment, type EnvironmentConfig } from "../infra/environments.js";
import { ServiceStack } from "../infra/service-stack.js";
import { motoUnavailableReason, startMoto, type Moto } from "./helpers/moto.js";
import { createStackInMoto, motoClientConfig, motoCloudFormationTypes, MOTO_REGION, templateForMoto, type MotoStack } from "./helpers/moto-cloudformation.js";
import { MOTO_ACCOUNT, runCustomResourceHandler } from "./helpers/moto-custom-resources.js";
import { ROOT } from "./helpers/process.js";

const run = promisify(execFile);
const cdk = path.join(ROOT, "node_modules/.bin/cdk");
const cdkEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: "1" };
/** The context the README's synth command passes. */
const CONTEXT = { githubRepository: "acme/shop", githubOwnerId: "1111", githubRepositoryId: "2222", region: MOTO_REGION };
const contextArgs = Object.entries(CONTEXT).flatMap(([key, value]) => ["-c", `${key}=${value}`]);
const DIGEST = `sha256:${"ab".repeat(32)}`;

let out: string;
const templateOf = (stack: string) => JSON.parse(readFileSync(path.join(out, `${stack}.template.json`), "utf8")) as { Resources: Record<string, { Type: string }> };

beforeAll(async () => {
  out = mkdtempSync(path.join(tmpdir(), "cdk-out-"));
  await run(cdk, ["synth", "-q", "-o", out, ...contextArgs], { cwd: ROOT, env: cdkEnv, timeout: 120_000 });
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("cdk synth (the real CLI, offline)", () => {
  it("synthesizes the identity stack and one service stack per environment", () => {
    const templates = readdirSync(out).filter((file) => file.endsWith(".template.json")).sort();
    expect(templates).toEqual(["GithubActionsEcrIdentity", ...Object.keys(ENVIRONMENTS).map(serviceStackName)].sort().map((stack) => `${stack}.template.json`));
    // The OIDC provider, a role with its policy for publish, registry set-up, pull requests' plans and each environment's
    // deploys and provisions, the two execution policies and the service roles' permissions boundary, the signing profile.
    const roles = 3 + 2 * Object.keys(ENVIRONMENTS).length;
    expect(Object.values(templateOf("GithubActionsEcrIdentity").Resources).map((resource) => resource.Type).sort()).toEqual([
      "AWS::CDK::Metadata",
      "AWS::IAM::ManagedPolicy",
      "AWS::IAM::ManagedPolicy",
      "AWS::IAM::ManagedPolicy",
      "AWS::IAM::OIDCProvider",
      ...Array<string>(roles).fill("AWS::IAM::Policy"),
      ...Array<string>(roles).fill("AWS::IAM::Role"),
      "AWS::Signer::SigningProfile",
    ]);
  });

  it("synthesizes only the service stacks without GitHub context: provisioning needs none, the identity stack is bootstrap's", async () => {
    const scratch = mkdtempSync(path.join(tmpdir(), "cdk-out-"));
    try {
      await run(cdk, ["synth", "-q", "-o", scratch, "-c", "region=eu-west-1"], { cwd: ROOT, env: cdkEnv, timeout: 120_000 });
      expect(readdirSync(scratch).filter((file) => file.endsWith(".template.json")).sort()).toEqual(Object.keys(ENVIRONMENTS).map(serviceStackName).sort().map((stack) => `${stack}.template.json`));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);

  it("stops with the context error when a GitHub value is bad", async () => {
    const scratch = mkdtempSync(path.join(tmpdir(), "cdk-out-"));
    try {
      const error = (await run(cdk, ["synth", "-q", "-o", scratch, "-c", "region=eu-west-1", "-c", "githubRepository=acme"], { cwd: ROOT, env: cdkEnv, timeout: 120_000 }).catch((e: unknown) => e)) as {
        code: number;
        stderr: string;
      };
      expect(error.code).not.toBe(0);
      expect(error.stderr).toContain('context githubRepository="acme" is invalid: expected OWNER/REPO');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("cfn-lint (CloudFormation's resource schemas)", () => {
  it("finds nothing in any template: no error, no warning, no exception", () => {
    const templates = readdirSync(out).filter((file) => file.endsWith(".template.json")).map((file) => path.join(out, file));
    const lint = spawnSync("cfn-lint", ["--format", "json", ...templates], { encoding: "utf8" });
    if (lint.error) throw new Error(`cfn-lint could not run (it is installed in the machine's Python): ${lint.error.message}`);
    expect(JSON.parse(lint.stdout || "[]")).toEqual([]);
    expect(lint.status).toBe(0);
  }, 120_000);

  it("finds nothing in the config's other shapes either: HTTPS with e-mail alarms, an imported VPC, NAT, canary on X86_64", () => {
    const staging = ENVIRONMENTS.staging!;
    const variants: Record<string, EnvironmentConfig> = {
      https: { ...staging, certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9", domainName: "api.example.com", alarmEmail: "ops@example.com", accessLogRetentionDays: 7 },
      imported: {
        ...staging,
        network: { existingVpcId: "vpc-0123456789abcdef0", availabilityZones: ["eu-west-1a", "eu-west-1b"], publicSubnetIds: ["subnet-0000000000000000a", "subnet-0000000000000000b"], privateSubnetIds: ["subnet-0000000000000000c", "subnet-0000000000000000d"] },
      },
      nat: { ...staging, network: { maxAzs: 2, natGateways: 1, cidr: "10.30.0.0/16" } },
      canary: { ...staging, architecture: "X86_64", scaleOnRequestsPerTarget: undefined, deployment: { strategy: "CANARY", bakeTimeMinutes: 5, stepPercent: 10, stepBakeTimeMinutes: 3 } },
    };
    const files = Object.entries(variants).map(([name, config]) => {
      const settings = validateEnvironment("staging", config, { region: MOTO_REGION, ecrRepository: "hono-ecr-service" });
      const stack = new ServiceStack(cdkApp(), `Variant-${name}`, { settings, env: { region: MOTO_REGION } });
      const file = path.join(out, `variant-${name}.json`);
      writeFileSync(file, JSON.stringify(Template.fromStack(stack).toJSON()));
      return file;
    });
    try {
      const lint = spawnSync("cfn-lint", ["--format", "json", ...files], { encoding: "utf8" });
      expect(JSON.parse(lint.stdout || "[]")).toEqual([]);
    } finally {
      for (const file of files) rmSync(file, { force: true });
    }
    // Four synths and cfn-lint over them: seconds alone, a minute on a loaded 2-core machine.
  }, 120_000);

  it("would find a bad Fargate size (the linter is really checking)", () => {
    const template = templateOf(serviceStackName("staging")) as unknown as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const definition = Object.values(template.Resources).find((resource) => resource.Type === "AWS::ECS::TaskDefinition")!;
    definition.Properties.Memory = "4096"; // not allowed with 256 CPU units
    const file = path.join(out, "bad.json");
    try {
      writeFileSync(file, JSON.stringify(template));
      const lint = spawnSync("cfn-lint", ["--format", "json", file], { encoding: "utf8" });
      expect((JSON.parse(lint.stdout) as { Rule: { Id: string } }[]).map((finding) => finding.Rule.Id)).toContain("E3047");
    } finally {
      rmSync(file, { force: true });
    }
  });
});

const motoMissing = motoUnavailableReason();

describe.skipIf(motoMissing)("the runtime stacks, created by moto's CloudFormation", () => {
  let moto: Moto;
  const created: Record<string, MotoStack & { skipped: ReturnType<typeof templateForMoto>["skipped"] }> = {};

  beforeAll(async () => {
    moto = await startMoto();
    const supported = motoCloudFormationTypes();
    for (const name of Object.keys(ENVIRONMENTS)) {
      const { template, skipped } = templateForMoto(templateOf(serviceStackName(name)), supported);
      created[name] = { ...(await createStackInMoto(moto.url, serviceStackName(name), template, { ImageDigest: DIGEST })), skipped };
    }
  }, 120_000);
  afterAll(() => moto?.stop());

  it("skips only what moto 5.2.1 has no CloudFormation model or attribute for, and says which", () => {
    const types = (name: string) => Object.keys(created[name]!.skipped.resources).sort();
    const common = [
      "AWS::ApplicationAutoScaling::ScalableTarget",
      "AWS::ApplicationAutoScaling::ScalingPolicy",
      "AWS::CDK::Metadata",
      "AWS::CloudWatch::Alarm",
      "AWS::EC2::SecurityGroupEgress",
      "AWS::Logs::MetricFilter",
      "AWS::SNS::TopicPolicy",
    ];
    expect(types("staging")).toEqual(common);
    expect(types("production")).toEqual([...common, "AWS::S3::BucketPolicy"].sort());
    expect(created.production!.skipped.attributes).toEqual(["AWS::ElasticLoadBalancingV2::LoadBalancer.LoadBalancerFullName", "AWS::ElasticLoadBalancingV2::TargetGroup.TargetGroupFullName"]);
  });

  it.each(Object.keys(ENVIRONMENTS))("creates %s completely", (name) => {
    expect(created[name]!.status).toBe("CREATE_COMPLETE");
    expect(created[name]!.outputs).toMatchObject({ ClusterName: clusterName(name), ServiceName: ECS_SERVICE_NAME, ContainerName: CONTAINER_NAME, DeploymentStrategy: ENVIRONMENTS[name]!.deployment.strategy });
    expect(created[name]!.outputs.ServiceUrl).toMatch(/^http:\/\/.+\.elb\.amazonaws\.com$/);
  });

  it.each(Object.keys(ENVIRONMENTS))("%s: the ECS cluster, service and task definition are there as configured", async (name) => {
    const config = ENVIRONMENTS[name]!;
    const ecs = new ECSClient(motoClientConfig(moto.url));
    // moto's CloudFormation model drops ClusterSettings (Container Insights): test/infra-service.test.ts checks the template.
    const [cluster] = (await ecs.send(new DescribeClustersCommand({ clusters: [clusterName(name)] }))).clusters ?? [];
    expect(cluster?.status).toBe("ACTIVE");
    const [service] = (await ecs.send(new DescribeServicesCommand({ cluster: clusterName(name), services: [ECS_SERVICE_NAME] }))).services ?? [];
    // moto's CloudFormation model of a service keeps its name, cluster, desired count, task definition and controller;
    // it drops the launch type, load balancers, network and deployment configuration (test/infra-service.test.ts
    // checks those in the template).
    expect(service).toMatchObject({ serviceName: ECS_SERVICE_NAME, desiredCount: config.minTasks, deploymentController: { type: "ECS" } });
    expect(service?.deployments).toMatchObject([{ status: "PRIMARY", taskDefinition: service!.taskDefinition }]);
    const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service!.taskDefinition! }));
    // moto's model of a task definition keeps memory and the containers; it drops cpu, the runtime platform, the network
    // mode, the Fargate compatibility and the roles (checked in the template by test/infra-service.test.ts).
    expect(taskDefinition).toMatchObject({ memory: String(config.memoryMiB), status: "ACTIVE", revision: 1 });
    const [container] = taskDefinition!.containerDefinitions!;
    expect(container).toMatchObject({ name: CONTAINER_NAME, readonlyRootFilesystem: true, user: "1000:1000", stopTimeout: 30 });
    expect(container!.image).toBe(`123456789012.dkr.ecr.${MOTO_REGION}.amazonaws.com/hono-ecr-service@${DIGEST}`);
    expect(container!.healthCheck?.command?.slice(0, 2)).toEqual(["CMD", "node"]);
    expect(container!.logConfiguration).toMatchObject({ logDriver: "awslogs", options: { mode: "non-blocking", "awslogs-group": `/ecs/${clusterName(name)}/${ECS_SERVICE_NAME}` } });
  });

  it.each(Object.keys(ENVIRONMENTS))("%s: the load balancer, listener rule and target groups are there as configured", async (name) => {
    const config = ENVIRONMENTS[name]!;
    const elb = new ElasticLoadBalancingV2Client(motoClientConfig(moto.url));
    const ids = created[name]!.physicalIds;
    const loadBalancerArn = ids[Object.keys(ids).find((id) => id.startsWith("LoadBalancer") && ids[id]!.includes(":loadbalancer/app/"))!]!;
    // moto's CloudFormation model drops LoadBalancerAttributes (idle timeout, dropped invalid headers, access logs):
    // test/infra-service.test.ts checks them in the template.
    const [loadBalancer] = (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [loadBalancerArn] }))).LoadBalancers ?? [];
    expect(loadBalancer).toMatchObject({ Scheme: "internet-facing", Type: "application" });
    expect(loadBalancer?.AvailabilityZones).toHaveLength((config.network as { maxAzs: number }).maxAzs);
    const [listener] = (await elb.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }))).Listeners ?? [];
    expect(listener).toMatchObject({ Port: 80, Protocol: "HTTP" });
    const rules = (await elb.send(new DescribeRulesCommand({ ListenerArn: listener!.ListenerArn! }))).Rules ?? [];
    const production = rules.find((rule) => rule.Priority === "10")!;
    const groups = (await elb.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: loadBalancerArn }))).TargetGroups ?? [];
    expect(groups).toHaveLength(config.deployment.strategy === "ROLLING" ? 1 : 2);
    for (const group of groups) expect(group).toMatchObject({ Port: 8080, Protocol: "HTTP", TargetType: "ip", HealthCheckPath: "/readyz", HealthCheckIntervalSeconds: 10, HealthyThresholdCount: 2 });
    const forwarded = production.Actions![0]!.ForwardConfig?.TargetGroups?.map((group) => group.Weight) ?? [production.Actions![0]!.TargetGroupArn ? 100 : undefined];
    expect(forwarded).toEqual(config.deployment.strategy === "ROLLING" ? [expect.anything()] : [100, 0]);
  });

  it.each(Object.keys(ENVIRONMENTS))("%s: the VPC's default security group is closed, by CDK's own handler run against moto", async (name) => {
    const ec2 = new EC2Client(motoClientConfig(moto.url));
    const defaultGroup = async (vpcId: string) =>
      (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }, { Name: "group-name", Values: ["default"] }] }))).SecurityGroups![0]!;
    const ids = created[name]!.physicalIds;
    const group = await defaultGroup(ids[Object.keys(ids).find((id) => /^Vpc[0-9A-F]{8}$/.test(id))!]!);
    // Its egress rule (moto's only one, see below) revoked: the stack's custom resource ran before CREATE_COMPLETE.
    expect({ ingress: group.IpPermissions, egress: group.IpPermissionsEgress }).toEqual({ ingress: [], egress: [] });
    expect(Object.keys(ids).filter((id) => id.startsWith("VpcRestrictDefaultSecurityGroupCustomResource"))).toHaveLength(1);
  });

  it("CDK's handler closes a default security group as AWS creates it, and opens it again on delete", async () => {
    const ec2 = new EC2Client(motoClientConfig(moto.url));
    const { Vpc: vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.99.0.0/16" }));
    const [group] = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: "vpc-id", Values: [vpc!.VpcId!] }, { Name: "group-name", Values: ["default"] }] }))).SecurityGroups!;
    const rules = async () => {
      const [now] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [group!.GroupId!] }))).SecurityGroups!;
      return {
        ingress: now!.IpPermissions!.map((permission) => [permission.IpProtocol, permission.UserIdGroupPairs?.map((pair) => pair.GroupId)]),
        egress: now!.IpPermissionsEgress!.map((permission) => [permission.IpProtocol, permission.IpRanges?.map((range) => range.CidrIp)]),
      };
    };
    // AWS gives a new VPC's default group two rules: all traffic from itself, all traffic out. moto 5.2.1 adds only the
    // egress one (moto/ec2/models/security_groups.py), so the ingress rule is added here as AWS has it.
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: group!.GroupId!, IpPermissions: [{ IpProtocol: "-1", UserIdGroupPairs: [{ GroupId: group!.GroupId!, UserId: MOTO_ACCOUNT }] }] }));
    const open = { ingress: [["-1", [group!.GroupId]]], egress: [["-1", ["0.0.0.0/0"]]] };
    expect(await rules()).toEqual(open);
    const event = (RequestType: "Create" | "Delete") => ({
      RequestType,
      ResourceType: "Custom::VpcRestrictDefaultSG",
      LogicalResourceId: "VpcRestrictDefaultSecurityGroupCustomResource",
      RequestId: `request-${RequestType}`,
      StackId: "stack",
      ResourceProperties: { DefaultSecurityGroupId: group!.GroupId!, Account: MOTO_ACCOUNT },
    });
    await runCustomResourceHandler(moto.url, MOTO_REGION, event("Create"));
    expect(await rules()).toEqual({ ingress: [], egress: [] });
    await runCustomResourceHandler(moto.url, MOTO_REGION, event("Delete"));
    expect(await rules()).toEqual(open);
  });

  it.each(Object.keys(ENVIRONMENTS))("%s: the network spans the configured AZs, with the endpoints, and the logs keep their retention", async (name) => {
    const config = ENVIRONMENTS[name]!;
    const network = config.network as { maxAzs: number };
    const ec2 = new EC2Client(motoClientConfig(moto.url));
    const vpcId = created[name]!.physicalIds[Object.keys(created[name]!.physicalIds).find((id) => /^Vpc[0-9A-F]{8}$/.test(id))!]!;
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] }))).Subnets ?? [];
    expect(subnets).toHaveLength(2 * network.maxAzs);
    expect(new Set(subnets.map((subnet) => subnet.AvailabilityZone)).size).toBe(network.maxAzs);
    const endpoints = (await ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] }))).VpcEndpoints ?? [];
    expect(endpoints.map((endpoint) => endpoint.ServiceName).sort()).toEqual(["ecr.api", "ecr.dkr", "logs", "s3"].map((service) => `com.amazonaws.${MOTO_REGION}.${service}`).sort());
    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] }))).SecurityGroups ?? [];
    const taskGroup = groups.find((group) => group.GroupName?.includes("ServiceSecurityGroup") || group.Description?.endsWith("/Service/SecurityGroup"))!;
    expect(taskGroup.IpPermissions?.map((permission) => [permission.FromPort, permission.UserIdGroupPairs?.length])).toEqual([[8080, 1]]);
    const logs = new CloudWatchLogsClient(motoClientConfig(moto.url));
    const [group] = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: `/ecs/${clusterName(name)}/` }))).logGroups ?? [];
    expect(group?.retentionInDays).toBe(config.logRetentionDays);
    // The default-security-group handler's own log group (infra/default-security-group.ts), kept as long.
    const handlerLogs = created[name]!.physicalIds[Object.keys(created[name]!.physicalIds).find((id) => id.startsWith(RESTRICT_DEFAULT_SG_LOGS))!]!;
    const [handlerGroup] = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: handlerLogs }))).logGroups ?? [];
    expect(handlerGroup?.retentionInDays).toBe(config.logRetentionDays);
  });
});
