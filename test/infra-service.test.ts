// The runtime stack (infra/service-stack.ts) per environment, synthesized offline and checked with aws-cdk-lib/assertions;
// the environment config's validation; the route list the log metrics use against the app's routes.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- synthesized templates are untyped JSON: the assertions are their types */
import { cdkApp } from "./helpers/cdk-app.js";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { clusterName, CONTAINER_NAME, ECS_SERVICE_NAME, executionRoleName, serviceStackName, taskFamily, taskRoleName } from "../dagger/src/deploy/names.js";
import { InputError } from "../dagger/src/ecr/validate.js";
import { HEALTHCHECK_COMMAND, RUNTIME_USER } from "../dagger/src/versions.js";
import { ENVIRONMENTS, longestVpcPrefix, validateEnvironment, type EnvironmentConfig } from "../infra/environments.js";
import { alarmMetricCount } from "../infra/cost.js";
import { METERED_ROUTES } from "../infra/service-monitoring.js";
import { ServiceStack, TRAFFIC_SHIFT_READ_ACTIONS } from "../infra/service-stack.js";
import { createTestService } from "./helpers/service.js";

const DEFAULTS = { region: "eu-west-1", ecrRepository: "shop/web" };
const CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9";

function synth(name: string, config: EnvironmentConfig = ENVIRONMENTS[name]!): Template {
  const app = cdkApp();
  const settings = validateEnvironment(name, config, DEFAULTS);
  return Template.fromStack(new ServiceStack(app, serviceStackName(name), { settings, env: { region: settings.region } }));
}
const templates = { staging: synth("staging"), production: synth("production") };
const environments = Object.keys(ENVIRONMENTS) as (keyof typeof templates)[];
const only = <T>(found: Record<string, T>): T => {
  const values = Object.values(found);
  expect(values).toHaveLength(1);
  return values[0]!;
};
type Resource = { Properties: Record<string, any>; DependsOn?: string[] };
const propertiesOf = (template: Template, type: string): Record<string, any> => (only(template.findResources(type)) as Resource).Properties;

describe("environments as config", () => {
  it("has staging and production, each valid", () => {
    expect(environments).toEqual(["staging", "production"]);
    for (const name of environments) expect(() => validateEnvironment(name, ENVIRONMENTS[name]!, DEFAULTS)).not.toThrow();
  });

  const staging = ENVIRONMENTS.staging!;
  it.each<[string, Partial<EnvironmentConfig>, string]>([
    ["Fargate size", { cpu: 300 }, "environments.staging.cpu=300 is invalid: expected one of Fargate's CPU sizes: 256, 512, 1024, 2048, 4096, 8192, 16384"],
    ["Fargate pair", { cpu: 256, memoryMiB: 4096 }, "environments.staging.memoryMiB=4096 is invalid: expected a memory size Fargate allows with cpu 256: 512 to 2048 in steps of 512"],
    ["Fargate pair", { cpu: 1024, memoryMiB: 1024 }, "environments.staging.memoryMiB=1024 is invalid: expected a memory size Fargate allows with cpu 1024: 2048 to 8192 in steps of 1024"],
    ["architecture", { architecture: "ARM" as never }, 'environments.staging.architecture="ARM" is invalid: expected ARM64 or X86_64'],
    ["task counts", { minTasks: 3, maxTasks: 2 }, "environments.staging.maxTasks=2 is invalid: expected an integer from 3 to 1000"],
    ["AZs", { network: { maxAzs: 4, natGateways: 0, cidr: "10.0.0.0/16" } }, "environments.staging.network.maxAzs=4 is invalid: expected an integer from 2 to 3"],
    ["NATs", { network: { maxAzs: 2, natGateways: 3, cidr: "10.0.0.0/16" } }, "environments.staging.network.natGateways=3 is invalid: expected an integer from 0 to 2"],
    ["CIDR", { network: { maxAzs: 2, natGateways: 0, cidr: "10.0.0.0/8" } }, 'environments.staging.network.cidr="10.0.0.0/8" is invalid: expected an IPv4 network from /16 to /20 with its host bits zero'],
    // Accepted by the former rule (/16 to /24), then failed inside CDK: "1 of /22 exceeds remaining space of 10.0.0.0/21".
    ["CIDR too small for the subnets", { network: { maxAzs: 3, natGateways: 0, cidr: "10.0.0.0/21" } }, 'environments.staging.network.cidr="10.0.0.0/21" is invalid: expected an IPv4 network from /16 to /20 with its host bits zero, e.g. 10.0.0.0/16 (each of the 3 AZs gets a /24 public and a /22 task subnet)'],
    // CDK would silently move it to 10.0.16.0/20.
    ["CIDR with host bits set", { network: { maxAzs: 2, natGateways: 0, cidr: "10.0.8.0/20" } }, 'environments.staging.network.cidr="10.0.8.0/20" is invalid: expected an IPv4 network from /16 to /20 with its host bits zero'],
    [
      "imported VPC subnets",
      { network: { existingVpcId: "vpc-0123456789abcdef0", availabilityZones: ["eu-west-1a", "eu-west-1b"], publicSubnetIds: ["subnet-0123456789abcdef0"], privateSubnetIds: [] } },
      'environments.staging.network.publicSubnetIds=["subnet-0123456789abcdef0"] is invalid: expected one subnet per availability zone (2)',
    ],
    [
      "imported VPC zones",
      { network: { existingVpcId: "vpc-0123456789abcdef0", availabilityZones: ["us-east-1a", "us-east-1b"], publicSubnetIds: [], privateSubnetIds: [] } },
      'environments.staging.network.availabilityZones[0]="us-east-1a" is invalid: expected a zone of the environment\'s region eu-west-1',
    ],
    ["strategy", { deployment: { strategy: "RED_BLACK" as never } }, 'environments.staging.deployment.strategy="RED_BLACK" is invalid: expected ROLLING, BLUE_GREEN, CANARY, LINEAR'],
    ["bake time with ROLLING", { deployment: { strategy: "ROLLING", bakeTimeMinutes: 5 } }, "environments.staging.deployment.bakeTimeMinutes=5 is invalid: expected nothing with strategy ROLLING"],
    ["canary step", { scaleOnRequestsPerTarget: undefined, deployment: { strategy: "CANARY", stepPercent: 2 } }, "environments.staging.deployment.stepPercent=2 is invalid: expected a percentage from 3 to 100 in steps of 0.1"],
    [
      "request scaling with blue/green",
      { deployment: { strategy: "BLUE_GREEN", bakeTimeMinutes: 5 } },
      "environments.staging.scaleOnRequestsPerTarget=6000 is invalid: expected nothing with strategy BLUE_GREEN: it moves the service between two target groups",
    ],
    ["certificate ARN", { certificateArn: "arn:aws:acm:eu-west-1:123:certificate/x" }, "environments.staging.certificateArn=\"arn:aws:acm:eu-west-1:123:certificate/x\" is invalid: expected an ACM certificate ARN"],
    ["certificate region", { certificateArn: CERTIFICATE.replace("eu-west-1", "us-east-1") }, "is invalid: expected a certificate in the environment's region eu-west-1 (an ALB cannot use one from us-east-1)"],
    ["domain", { domainName: "Api.Example.com" }, 'environments.staging.domainName="Api.Example.com" is invalid: expected a lower-case DNS name'],
    ["log retention", { logRetentionDays: 10 }, "environments.staging.logRetentionDays=10 is invalid: expected one of CloudWatch's retention periods: 1, 3, 5, 7, 14, 30"],
    ["e-mail", { alarmEmail: "ops" }, 'environments.staging.alarmEmail="ops" is invalid: expected an e-mail address'],
    ["5xx threshold", { alarms: { ...staging.alarms, http5xxPercent: 0 } }, "environments.staging.alarms.http5xxPercent=0 is invalid: expected a percentage above 0, at most 100"],
    ["PORT is the stack's", { serviceEnvironment: { PORT: "3000" } }, 'environments.staging.serviceEnvironment.PORT="3000" is invalid: expected unset: the stack sets it'],
    ["unknown variable", { serviceEnvironment: { LOGLEVEL: "debug" } }, 'environments.staging.serviceEnvironment.LOGLEVEL="debug" is invalid: expected one of the service\'s variables: LOG_LEVEL, BODY_LIMIT_BYTES'],
    ["the service's own rule", { serviceEnvironment: { LOG_LEVEL: "loud" } }, 'environments.staging.serviceEnvironment: LOG_LEVEL="loud" is invalid: expected one of fatal, error, warn, info, debug, trace, silent'],
    ["keep-alive under the ALB's", { serviceEnvironment: { KEEP_ALIVE_TIMEOUT_MS: "30000" } }, 'environments.staging.serviceEnvironment.KEEP_ALIVE_TIMEOUT_MS="30000" is invalid: expected above 60000'],
    ["grace beyond stopTimeout", { serviceEnvironment: { SHUTDOWN_GRACE_MS: "118000" } }, 'environments.staging.serviceEnvironment.SHUTDOWN_GRACE_MS="118000" is invalid: expected at most 115000'],
    ["account", { account: "12345" }, 'environments.staging.account="12345" is invalid: expected a 12-digit AWS account id'],
  ])("refuses a bad %s with one line naming the value and the rule", (_, change, message) => {
    const config = { ...staging, ...change };
    expect(() => validateEnvironment("staging", config, DEFAULTS)).toThrow(InputError);
    expect(() => validateEnvironment("staging", config, DEFAULTS)).toThrow(message);
  });

  it("accepts exactly the VPC ranges CDK lays out as given: the longest prefix synthesizes with that very range", () => {
    for (const maxAzs of [2, 3]) {
      expect(longestVpcPrefix(maxAzs)).toBe(20);
      const vpc = (cidr: string) => propertiesOf(synth("staging", { ...ENVIRONMENTS.staging!, network: { maxAzs, natGateways: 0, cidr } }), "AWS::EC2::VPC").CidrBlock as string;
      expect(vpc("10.0.16.0/20")).toBe("10.0.16.0/20");
      expect(vpc("172.16.0.0/16")).toBe("172.16.0.0/16");
      // One bit less than the rule allows fails inside CDK, which is why the rule stops at /20.
      const app = cdkApp();
      const settings = { ...validateEnvironment("staging", ENVIRONMENTS.staging!, DEFAULTS), network: { maxAzs, natGateways: 0, cidr: "10.0.0.0/21" } };
      expect(() => new ServiceStack(app, "TooSmall", { settings, env: { region: "eu-west-1" } })).toThrow("exceeds remaining space of 10.0.0.0/21");
    }
  });

  it("refuses an environment name that cannot be part of AWS names, and a missing region", () => {
    expect(() => validateEnvironment("Prod_1", ENVIRONMENTS.staging!, DEFAULTS)).toThrow('environment name "Prod_1" is invalid');
    expect(() => validateEnvironment("staging", ENVIRONMENTS.staging!, { ecrRepository: "x" })).toThrow("environments.staging.region is not set");
  });

  it("derives stopTimeout and the deregistration delay from the service's shutdown grace", () => {
    const settings = validateEnvironment("staging", { ...ENVIRONMENTS.staging!, serviceEnvironment: { SHUTDOWN_GRACE_MS: "40500" } }, DEFAULTS);
    expect(settings.stopTimeoutSeconds).toBe(46);
    expect(settings.deregistrationDelaySeconds).toBe(46);
  });
});

describe.each(environments)("service stack: %s", (name) => {
  const template = templates[name];
  const config = ENVIRONMENTS[name]!;
  const network = config.network as { maxAzs: number; natGateways: number; cidr: string };

  it("builds a VPC over the configured AZs: public subnets for the ALB, private ones for tasks, endpoints instead of NAT", () => {
    template.hasResourceProperties("AWS::EC2::VPC", { CidrBlock: network.cidr });
    const subnets = Object.values(template.findResources("AWS::EC2::Subnet")) as Resource[];
    expect(subnets).toHaveLength(2 * network.maxAzs);
    // Public subnets (a route to the internet gateway) for the ALB, which gets its addresses from ELB: none auto-assigns a public IP.
    expect(subnets.filter((subnet) => subnet.Properties.MapPublicIpOnLaunch === true)).toHaveLength(0);
    expect(Object.keys(template.findResources("AWS::EC2::Route", { Properties: { GatewayId: Match.anyValue() } }))).toHaveLength(network.maxAzs);
    const zones = subnets.map((subnet) => JSON.stringify(subnet.Properties.AvailabilityZone));
    expect(new Set(zones).size).toBe(network.maxAzs);
    expect(zones.every((zone) => zone.includes("Fn::GetAZs"))).toBe(true);
    template.resourceCountIs("AWS::EC2::NatGateway", network.natGateways);
    const endpoints = Object.values(template.findResources("AWS::EC2::VPCEndpoint")) as Resource[];
    const services = endpoints.map((endpoint) => JSON.stringify(endpoint.Properties.ServiceName));
    for (const service of [".ecr.api", ".ecr.dkr", ".logs", ".s3"]) expect(services.some((text) => text.includes(service))).toBe(true);
    expect(endpoints.filter((endpoint) => endpoint.Properties.VpcEndpointType === "Interface").every((endpoint) => endpoint.Properties.PrivateDnsEnabled === true)).toBe(true);
  });

  it("lets the internet reach only the ALB, and the tasks only from the ALB on 8080", () => {
    const albGroup = (Object.entries(template.findResources("AWS::EC2::SecurityGroup")) as [string, Resource][]).find(([id]) => id.startsWith("LoadBalancerSecurityGroup"))!;
    const ports = config.certificateArn ? [80, 443] : [80];
    expect(albGroup[1].Properties.SecurityGroupIngress.map((rule: { CidrIp: string; FromPort: number }) => [rule.CidrIp, rule.FromPort])).toEqual(ports.map((port) => ["0.0.0.0/0", port]));
    const ingress = Object.values(template.findResources("AWS::EC2::SecurityGroupIngress")) as Resource[];
    expect(ingress.map((rule) => rule.Properties)).toEqual([
      expect.objectContaining({ FromPort: 8080, ToPort: 8080, IpProtocol: "tcp", SourceSecurityGroupId: { "Fn::GetAtt": [albGroup[0], "GroupId"] } }),
    ]);
    template.hasResourceProperties("AWS::ECS::Service", { NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: "DISABLED" }) } });
  });

  it("puts an ALB in front: 60 s idle timeout, invalid headers dropped, HTTP only without a certificate (said in the outputs)", () => {
    const attributes = propertiesOf(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").LoadBalancerAttributes as { Key: string; Value: string }[];
    expect(attributes).toEqual(expect.arrayContaining([
      { Key: "idle_timeout.timeout_seconds", Value: "60" },
      { Key: "routing.http.drop_invalid_header_fields.enabled", Value: "true" },
    ]));
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", { Scheme: "internet-facing" });
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", { Port: 80, Protocol: "HTTP" });
    template.hasOutput("Warning", { Value: Match.stringLikeRegexp("^HTTP ONLY") });
  });

  it("checks /readyz on port 8080 fast, and drains a little longer than the service's shutdown grace", () => {
    const groups = Object.values(template.findResources("AWS::ElasticLoadBalancingV2::TargetGroup")) as Resource[];
    expect(groups).toHaveLength(config.deployment.strategy === "ROLLING" ? 1 : 2);
    for (const group of groups) {
      expect(group.Properties).toMatchObject({
        Port: 8080,
        Protocol: "HTTP",
        TargetType: "ip",
        HealthCheckPath: "/readyz",
        HealthCheckIntervalSeconds: 10,
        HealthCheckTimeoutSeconds: 5,
        HealthyThresholdCount: 2,
        Matcher: { HttpCode: "200" },
        TargetGroupAttributes: expect.arrayContaining([{ Key: "deregistration_delay.timeout_seconds", Value: "30" }]),
      });
    }
  });

  it("runs the image by digest from the repository, as the image's user, read-only, with a node health check and non-blocking logs", () => {
    const definition = propertiesOf(template, "AWS::ECS::TaskDefinition");
    expect(definition).toMatchObject({
      Family: taskFamily(name),
      Cpu: String(config.cpu),
      Memory: String(config.memoryMiB),
      RequiresCompatibilities: ["FARGATE"],
      NetworkMode: "awsvpc",
      RuntimePlatform: { CpuArchitecture: "ARM64", OperatingSystemFamily: "LINUX" },
    });
    const [container] = definition.ContainerDefinitions;
    expect(container).toMatchObject({
      Name: CONTAINER_NAME,
      User: RUNTIME_USER,
      ReadonlyRootFilesystem: true,
      StopTimeout: 30,
      PortMappings: [{ ContainerPort: 8080, Protocol: "tcp" }],
      HealthCheck: { Command: ["CMD", ...HEALTHCHECK_COMMAND], Interval: 10, Timeout: 5, Retries: 3, StartPeriod: 10 },
      LogConfiguration: { LogDriver: "awslogs", Options: expect.objectContaining({ mode: "non-blocking", "max-buffer-size": "26214400b" }) },
    });
    expect(container.Image).toEqual({
      "Fn::Join": ["", [{ Ref: "AWS::AccountId" }, ".dkr.ecr.eu-west-1.", { Ref: "AWS::URLSuffix" }, "/shop/web@", { Ref: "ImageDigest" }]],
    });
    expect(template.toJSON().Parameters.ImageDigest).toMatchObject({ Type: "String", AllowedPattern: "^sha256:[a-f0-9]{64}$" });
    const environment = Object.fromEntries(container.Environment.map((variable: { Name: string; Value: string }) => [variable.Name, variable.Value]));
    expect(environment).toEqual({ ...config.serviceEnvironment, PORT: "8080", HOST: "0.0.0.0" });
    template.hasResourceProperties("AWS::Logs::LogGroup", { LogGroupName: `/ecs/${clusterName(name)}/${ECS_SERVICE_NAME}`, RetentionInDays: config.logRetentionDays });
  });

  it("runs a Fargate service with the circuit breaker, deployment alarms and the configured strategy", () => {
    const service = propertiesOf(template, "AWS::ECS::Service");
    expect(service).toMatchObject({
      ServiceName: ECS_SERVICE_NAME,
      LaunchType: "FARGATE",
      PlatformVersion: "1.4.0",
      AvailabilityZoneRebalancing: "ENABLED",
      DesiredCount: config.minTasks,
      DeploymentController: { Type: "ECS" },
      DeploymentConfiguration: {
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        Alarms: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        Strategy: config.deployment.strategy,
      },
    });
    expect(service.DeploymentConfiguration.BakeTimeInMinutes).toBe(config.deployment.bakeTimeMinutes);
    expect(service.Subnets ?? service.NetworkConfiguration.AwsvpcConfiguration.Subnets).toHaveLength(network.maxAzs);
    // The deployment alarms are the traffic alarms: 5xx rates, p99 latency, and unhealthy targets of each target group.
    const alarmIds = service.DeploymentConfiguration.Alarms.AlarmNames.map((ref: { Ref: string }) => ref.Ref);
    expect(alarmIds.map((id: string) => id.replace(/[0-9A-F]{8}$/, ""))).toEqual([
      "MonitoringLoadBalancer5xxRate",
      "MonitoringTarget5xxRate",
      "MonitoringLatencyP99",
      "MonitoringUnhealthyTargets",
      ...(config.deployment.strategy === "ROLLING" ? [] : ["MonitoringUnhealthyTargetsAlternate"]),
    ]);
    template.hasResourceProperties("AWS::ECS::Cluster", { ClusterName: clusterName(name), ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }] });
  });

  it("scales on CPU, and on requests per target only with a rolling strategy", () => {
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: config.minTasks, MaxCapacity: config.maxTasks });
    const policies = Object.values(template.findResources("AWS::ApplicationAutoScaling::ScalingPolicy")) as Resource[];
    const metrics = policies.map((policy) => policy.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType);
    expect(metrics).toEqual(config.scaleOnRequestsPerTarget ? ["ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"] : ["ECSServiceAverageCPUUtilization"]);
    expect(policies[0]!.Properties.TargetTrackingScalingPolicyConfiguration.TargetValue).toBe(config.scaleOnCpuPercent);
  });

  it("alarms on ALB and target 5xx rates, p99 latency, unhealthy targets, missing tasks, CPU and memory, to an SNS topic", () => {
    const alarms = Object.entries(template.findResources("AWS::CloudWatch::Alarm")) as [string, Resource][];
    const names = alarms.map(([id]) => id.replace(/^Monitoring/, "").replace(/[0-9A-F]{8}$/, "")).sort();
    expect(names).toEqual(
      ["CpuHigh", "LatencyP99", "LoadBalancer5xxRate", "Target5xxRate", "MemoryHigh", "TasksBelowDesired", "UnhealthyTargets", ...(config.deployment.strategy === "ROLLING" ? [] : ["UnhealthyTargetsAlternate"])].sort(),
    );
    const [topicId] = Object.keys(template.findResources("AWS::SNS::Topic"));
    for (const [, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
    const threshold = (prefix: string) => alarms.find(([id]) => id.startsWith(`Monitoring${prefix}`))![1].Properties.Threshold;
    expect(threshold("LoadBalancer5xxRate")).toBe(config.alarms.http5xxPercent);
    expect(threshold("Target5xxRate")).toBe(config.alarms.http5xxPercent);
    expect(threshold("LatencyP99")).toBe(config.alarms.p99LatencyMs / 1000);
    expect(threshold("CpuHigh")).toBe(config.alarms.cpuPercent);
    expect(threshold("MemoryHigh")).toBe(config.alarms.memoryPercent);
    template.resourceCountIs("AWS::SNS::Subscription", config.alarmEmail ? 1 : 0);
  });

  it("has the alarm metrics the cost table counts", () => {
    // A metric alarm evaluates one metric; a metric-math alarm each metric in its expression.
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")) as Resource[];
    const metrics = alarms.reduce((sum, alarm) => sum + (alarm.Properties.MetricName ? 1 : (alarm.Properties.Metrics as { MetricStat?: unknown }[]).filter((metric) => metric.MetricStat).length), 0);
    expect(metrics).toBe(alarmMetricCount(validateEnvironment(name, config, DEFAULTS)));
  });

  it("turns the access log into request, 5xx and latency metrics by route, for the known routes only", () => {
    const filters = Object.values(template.findResources("AWS::Logs::MetricFilter")) as Resource[];
    expect(filters.map((filter) => filter.Properties.MetricTransformations[0].MetricName)).toEqual(["Requests", "ServerErrors", "LatencyMs"]);
    for (const filter of filters) {
      expect(filter.Properties.FilterPattern).toContain('$.msg = "request"');
      expect(filter.Properties.FilterPattern).toContain('($.method = "POST" && $.path = "/api/greeting")');
      expect(filter.Properties.MetricTransformations[0]).toMatchObject({ MetricNamespace: `hono-ecr-service/${name}`, Dimensions: [{ Key: "Method", Value: "$.method" }, { Key: "Path", Value: "$.path" }] });
    }
    expect(filters[1]!.Properties.FilterPattern).toContain("$.status >= 500");
    expect(filters[2]!.Properties.MetricTransformations[0]).toMatchObject({ MetricValue: "$.durationMs", Unit: "Milliseconds" });
  });

  it("has a dashboard of requests, errors, latency percentiles, healthy hosts, CPU/memory and deployments", () => {
    const body = JSON.stringify(propertiesOf(template, "AWS::CloudWatch::Dashboard").DashboardBody);
    for (const title of ["Requests (ALB)", "5xx %", "Target response time", "Healthy targets", "CPU and memory %", "Tasks", "Deployments", "p99 latency by route"]) {
      expect(body).toContain(title);
    }
    for (const statistic of ["p50", "p90", "p99"]) expect(body).toContain(`"stat\\":\\"${statistic}\\"`);
  });

  it("outputs what the pipeline's deploy and a person need", () => {
    expect(Object.keys(template.findOutputs("*")).sort()).toEqual(
      ["AlarmTopicArn", "ClusterName", "ContainerName", "DashboardUrl", "DeploymentStrategy", "EcrRepositoryName", "ExecutionRoleArn", "LoadBalancerDnsName", "LogGroupName", "ServiceName", "ServiceUrl", "TargetGroupArns", "TaskRoleArn", "Warning"].sort(),
    );
  });

  it("grants least privilege: no wildcard action, '*' only where AWS has no resource-level permission", () => {
    const allowedOnAnyResource = new Set(["ecr:GetAuthorizationToken", ...TRAFFIC_SHIFT_READ_ACTIONS]);
    const inline = (Object.values(template.findResources("AWS::IAM::Role")) as Resource[]).flatMap((role) => (role.Properties.Policies ?? []) as { PolicyDocument: unknown }[]);
    const statements = [...Object.values(template.findResources("AWS::IAM::Policy")), ...Object.values(template.findResources("AWS::S3::BucketPolicy")), ...inline.map((policy) => ({ Properties: policy }))].flatMap(
      (policy) => (policy as Resource).Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Effect: string }[],
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements.filter((statement) => statement.Effect === "Allow")) {
      const actions = ([] as string[]).concat(statement.Action);
      for (const action of actions) expect(action, JSON.stringify(statement)).not.toMatch(/\*/);
      if (statement.Resource === "*") expect(actions.every((action) => allowedOnAnyResource.has(action)), JSON.stringify(statement)).toBe(true);
    }
    // No role gets a managed policy (they are written for every resource of a kind): not even the Lambda of CDK's
    // default-security-group custom resource, whose AWSLambdaBasicExecutionRole is deleted (infra/default-security-group.ts).
    for (const [id, role] of Object.entries(template.findResources("AWS::IAM::Role")) as [string, Resource][]) expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
    // The roles have the names the deploy role may pass (and nothing else may be passed).
    const roleNames = (Object.values(template.findResources("AWS::IAM::Role")) as Resource[]).map((role) => role.Properties.RoleName as string | undefined);
    expect(roleNames).toEqual(expect.arrayContaining([taskRoleName(name), executionRoleName(name)]));
    // The task role has nothing until the service needs something.
    const taskRoleId = propertiesOf(template, "AWS::ECS::TaskDefinition").TaskRoleArn["Fn::GetAtt"][0];
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy")) as Resource[]) expect(policy.Properties.Roles).not.toContainEqual({ Ref: taskRoleId });
  });
});

describe("staging and production differ only where the config says", () => {
  it("production is blue/green over 3 AZs with access logs; staging is rolling over 2 without", () => {
    expect(Object.keys(templates.production.findResources("AWS::ElasticLoadBalancingV2::TargetGroup"))).toHaveLength(2);
    const rule = propertiesOf(templates.production, "AWS::ElasticLoadBalancingV2::ListenerRule");
    // The weights are parameters, 100/0 when created; provision passes the live rule's (test/infra-provision.test.ts).
    expect(rule.Actions[0].ForwardConfig.TargetGroups.map((group: { Weight: unknown }) => group.Weight)).toEqual([{ Ref: "TargetGroupWeight" }, { Ref: "AlternateTargetGroupWeight" }]);
    const parameters = templates.production.toJSON().Parameters as Record<string, { Type: string; Default: number; MinValue: number; MaxValue: number }>;
    expect([parameters.TargetGroupWeight, parameters.AlternateTargetGroupWeight]).toMatchObject([
      { Type: "Number", Default: 100, MinValue: 0, MaxValue: 999 },
      { Type: "Number", Default: 0, MinValue: 0, MaxValue: 999 },
    ]);
    expect(Object.keys(templates.staging.toJSON().Parameters as object)).not.toContain("TargetGroupWeight");
    expect(propertiesOf(templates.production, "AWS::ECS::Service").LoadBalancers[0].AdvancedConfiguration).toMatchObject({ ProductionListenerRule: { Ref: expect.stringMatching(/^ProductionRule/) } });
    templates.production.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 30, Status: "Enabled" }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    templates.staging.resourceCountIs("AWS::S3::Bucket", 0);
    expect(propertiesOf(templates.staging, "AWS::ElasticLoadBalancingV2::ListenerRule").Actions[0]).toMatchObject({ Type: "forward", TargetGroupArn: { Ref: expect.stringMatching(/^TargetGroup/) } });
  });

  it("production's traffic-shift role is complete before the service exists: its statements inline, the service refers to it", () => {
    const template = templates.production;
    const roleArn = propertiesOf(template, "AWS::ECS::Service").LoadBalancers[0].AdvancedConfiguration.RoleArn;
    const [roleId] = roleArn["Fn::GetAtt"] as [string, string];
    expect(roleId).toMatch(/^TrafficShiftRole/);
    expect(roleArn).toEqual({ "Fn::GetAtt": [roleId, "Arn"] });
    // The service refers to the role: CloudFormation creates the role first, and the role carries every statement itself.
    const role = template.findResources("AWS::IAM::Role")[roleId] as Resource;
    const statements = (role.Properties.Policies as { PolicyDocument: { Statement: { Action: string | string[] }[] } }[]).flatMap((policy) => policy.PolicyDocument.Statement);
    expect(statements.flatMap((statement) => ([] as string[]).concat(statement.Action))).toEqual(
      expect.arrayContaining([...TRAFFIC_SHIFT_READ_ACTIONS, "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule"]),
    );
    // No separate AWS::IAM::Policy for it, which CloudFormation would create in parallel with the service.
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy")) as Resource[]) expect(policy.Properties.Roles).not.toContainEqual({ Ref: roleId });
  });

  it("an environment with staging's config under another name synthesizes staging's template, names aside", () => {
    // Hashes CDK derives from the stack's name (in logical ids of security group rules, the task family, scaling policy
    // names) differ by construction.
    const normalized = (json: string) => json.replace(/[0-9A-F]{8,}/g, "");
    const renamed = JSON.stringify(synth("qa", ENVIRONMENTS.staging).toJSON()).replaceAll("qa", "staging");
    expect(JSON.parse(normalized(renamed))).toEqual(JSON.parse(normalized(JSON.stringify(templates.staging.toJSON()))));
  });

  it("each config value reaches the template: changing one changes only what it drives", () => {
    const changed = synth("staging", { ...ENVIRONMENTS.staging!, cpu: 1024, memoryMiB: 3072 }).toJSON();
    const base = templates.staging.toJSON();
    const differing = Object.keys(base.Resources).filter((id) => JSON.stringify(base.Resources[id]) !== JSON.stringify(changed.Resources[id]));
    expect(differing.map((id) => id.replace(/[0-9A-F]{8}$/, ""))).toEqual(["TaskDefinition"]);
  });
});

describe("HTTPS and the alternatives in config", () => {
  it("serves HTTPS with the certificate and redirects HTTP to it; no warning output", () => {
    const template = synth("staging", { ...ENVIRONMENTS.staging!, certificateArn: CERTIFICATE, domainName: "api.example.com", alarmEmail: "ops@example.com" });
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 443,
      Protocol: "HTTPS",
      Certificates: [{ CertificateArn: CERTIFICATE }],
      SslPolicy: Match.stringLikeRegexp("^ELBSecurityPolicy-TLS13"),
    });
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 80,
      DefaultActions: [{ Type: "redirect", RedirectConfig: { Protocol: "HTTPS", Port: "443", StatusCode: "HTTP_301" } }],
    });
    expect(template.findOutputs("Warning")).toEqual({});
    template.hasOutput("ServiceUrl", { Value: "https://api.example.com" });
    template.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "ops@example.com" });
  });

  it("imports an existing VPC by id with its subnets, creating none and no endpoints", () => {
    const template = synth("staging", {
      ...ENVIRONMENTS.staging!,
      network: {
        existingVpcId: "vpc-0123456789abcdef0",
        availabilityZones: ["eu-west-1a", "eu-west-1b"],
        publicSubnetIds: ["subnet-0000000000000000a", "subnet-0000000000000000b"],
        privateSubnetIds: ["subnet-0000000000000000c", "subnet-0000000000000000d"],
      },
    });
    for (const type of ["AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::VPCEndpoint", "AWS::EC2::NatGateway"]) template.resourceCountIs(type, 0);
    template.hasResourceProperties("AWS::ECS::Service", { NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ Subnets: ["subnet-0000000000000000c", "subnet-0000000000000000d"] }) } });
  });

  it("adds NAT gateways when asked, and tasks then run in subnets with egress", () => {
    const template = synth("staging", { ...ENVIRONMENTS.staging!, network: { maxAzs: 2, natGateways: 1, cidr: "10.10.0.0/16" } });
    template.resourceCountIs("AWS::EC2::NatGateway", 1);
    template.resourceCountIs("AWS::EC2::Route", 4); // 2 public routes to the internet gateway, 2 private ones to the NAT
  });

  it("runs X86_64 and canary deployments when configured", () => {
    const template = synth("staging", { ...ENVIRONMENTS.staging!, architecture: "X86_64", scaleOnRequestsPerTarget: undefined, deployment: { strategy: "CANARY", bakeTimeMinutes: 5, stepPercent: 10, stepBakeTimeMinutes: 3 } });
    template.hasResourceProperties("AWS::ECS::TaskDefinition", { RuntimePlatform: { CpuArchitecture: "X86_64" } });
    template.hasResourceProperties("AWS::ECS::Service", {
      DeploymentConfiguration: Match.objectLike({ Strategy: "CANARY", BakeTimeInMinutes: 5, CanaryConfiguration: { CanaryPercent: 10, CanaryBakeTimeInMinutes: 3 } }),
    });
  });
});

describe("metered routes", () => {
  it("are the app's routes except the health checks (which the access log leaves out)", () => {
    const { app } = createTestService();
    const routes = new Set(app.routes.filter((route) => route.method !== "ALL").map((route) => `${route.method} ${route.path}`));
    expect([...routes].filter((route) => !/ \/(healthz|readyz)$/.test(route))).toEqual(METERED_ROUTES.map((route) => `${route.method} ${route.path}`));
  });
});
