import { CfnOutput, CfnParameter, Duration, Fn, Size, Stack, type CfnResource, type StackProps } from "aws-cdk-lib";
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Port,
  SubnetType,
  Vpc,
  type IVpc,
  type SubnetSelection,
} from "aws-cdk-lib/aws-ec2";
import { Repository } from "aws-cdk-lib/aws-ecr";
import {
  AlternateTarget,
  AvailabilityZoneRebalancing,
  AwsLogDriverMode,
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  DeploymentControllerType,
  DeploymentStrategy,
  FargatePlatformVersion,
  FargateService,
  FargateTaskDefinition,
  ListenerRuleConfiguration,
  LogDrivers,
  OperatingSystemFamily,
  Protocol as EcsProtocol,
} from "aws-cdk-lib/aws-ecs";
import {
  type ApplicationListener,
  ApplicationListenerRule,
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ApplicationTargetGroup,
  ListenerAction,
  ListenerCertificate,
  ListenerCondition,
  Protocol,
  SslPolicy,
  TargetType,
} from "aws-cdk-lib/aws-elasticloadbalancingv2";
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { clusterName, CONTAINER_NAME, ECS_SERVICE_NAME, executionRoleName, taskFamily, taskRoleName } from "../dagger/src/deploy/names.js";
import { HEALTHCHECK_COMMAND, RUNTIME_USER, SERVICE_PORT } from "../dagger/src/versions.js";
import { ALB_IDLE_TIMEOUT_SECONDS, SUBNET_MASKS, type EnvironmentSettings } from "./environments.js";
import { acknowledge } from "./nag.js";
import { confineProviderLogs, dropRedundantProviderDependency } from "./default-security-group.js";
import { applyPermissionsBoundary } from "./permissions-boundary.js";
import { ServiceMonitoring } from "./service-monitoring.js";

/** The stack's settings plus the usual stack props. */
export interface ServiceStackProps extends StackProps {
  settings: EnvironmentSettings;
}

/** Target group health check: short, so a rollout sees new tasks healthy in about 20 s (2 × 10 s). */
export const TARGET_HEALTH_CHECK = { path: "/readyz", intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 3 };
/** Buffer of the non-blocking awslogs driver: log lines beyond it are dropped rather than stalling requests. */
export const LOG_BUFFER_MIB = 25;
/** ELBv2 reads ECS needs to shift traffic; they have no resource-level permissions, so they are the only actions on "*". */
export const TRAFFIC_SHIFT_READ_ACTIONS = [
  "elasticloadbalancing:DescribeListeners",
  "elasticloadbalancing:DescribeRules",
  "elasticloadbalancing:DescribeTargetGroups",
  "elasticloadbalancing:DescribeTargetHealth",
];
/** The highest weight an ALB forward action gives a target group (ELBv2 API reference, TargetGroupTuple.Weight: 0 to 999). */
export const MAX_RULE_WEIGHT = 999;
/** A digest as the stack's ImageDigest parameter takes it. */
export const IMAGE_DIGEST_PATTERN = "^sha256:[a-f0-9]{64}$";

/**
 * One environment of the service: VPC (or an imported one), ALB, ECS cluster and Fargate service pulling the image by
 * digest from the ECR repository, scaling, deployment safety (circuit breaker, deployment alarms, the strategy from
 * config) and monitoring. Environment-agnostic in its AZs (Fn::GetAZs), so it synthesizes without an AWS account.
 */
export class ServiceStack extends Stack {
  readonly service: FargateService;
  readonly loadBalancer: ApplicationLoadBalancer;
  readonly targetGroups: ApplicationTargetGroup[];
  private readonly azCount: number;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    // Every role of the stack (the custom resource's included) within the service roles' boundary: the execution
    // policy lets CloudFormation create or widen a role only with it (infra/permissions-boundary.ts).
    applyPermissionsBoundary(this);
    const { settings } = props;
    this.azCount = "existingVpcId" in settings.network ? settings.network.availabilityZones.length : settings.network.maxAzs;

    const imageDigest = new CfnParameter(this, "ImageDigest", {
      type: "String",
      allowedPattern: IMAGE_DIGEST_PATTERN,
      constraintDescription: "the image's digest, sha256: and 64 hex digits (what `dagger call publish` prints)",
      description: `Digest of the image in ECR ${settings.ecrRepository} to run (the pipeline's deploy moves it on after the first deploy)`,
    });

    const { vpc, taskSubnets } = this.network(settings);

    // Load balancer: public, HTTPS when a certificate is configured (HTTP redirects to it), HTTP only otherwise.
    this.loadBalancer = new ApplicationLoadBalancer(this, "LoadBalancer", {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      idleTimeout: Duration.seconds(ALB_IDLE_TIMEOUT_SECONDS),
      dropInvalidHeaderFields: true,
      // Production's cannot be deleted by a stack update or by hand until the setting is turned off first.
      deletionProtection: settings.loadBalancerDeletionProtection === true,
    });
    acknowledge(this.loadBalancer, "AwsSolutions-EC23", "the internet-facing ALB's security group admits the internet on its listener ports only (80, and 443 with a certificate): that is what it is for");
    if (settings.accessLogRetentionDays === undefined) {
      acknowledge(this.loadBalancer, "AwsSolutions-ELB2", "ALB access logs are configurable (accessLogRetentionDays) and off in this environment to save their S3 cost; production keeps them");
    }
    if (settings.accessLogRetentionDays !== undefined) {
      const accessLogs = new Bucket(this, "AccessLogs", {
        encryption: BucketEncryption.S3_MANAGED,
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        lifecycleRules: [{ expiration: Duration.days(settings.accessLogRetentionDays) }],
      });
      acknowledge(accessLogs, "AwsSolutions-S1", "this bucket holds the ALB's access logs itself; logging access to it would need yet another bucket, for logs nobody reads");
      this.loadBalancer.logAccessLogs(accessLogs, "alb");
    }
    const https = settings.certificateArn !== undefined;
    const listener: ApplicationListener = https
      ? this.loadBalancer.addListener("Https", {
          port: 443,
          protocol: ApplicationProtocol.HTTPS,
          certificates: [ListenerCertificate.fromArn(settings.certificateArn!)],
          sslPolicy: SslPolicy.RECOMMENDED_TLS,
          defaultAction: noRoute(),
        })
      : this.loadBalancer.addListener("Http", { port: 80, protocol: ApplicationProtocol.HTTP, defaultAction: noRoute() });
    if (https) {
      this.loadBalancer.addListener("HttpRedirect", {
        port: 80,
        protocol: ApplicationProtocol.HTTP,
        defaultAction: ListenerAction.redirect({ protocol: "HTTPS", port: "443", permanent: true }),
      });
    }

    // Target groups: one for a rolling strategy, two (blue and green) for the others.
    const twoTargetGroups = settings.deployment.strategy !== "ROLLING";
    const targetGroup = (name: string) =>
      new ApplicationTargetGroup(this, name, {
        vpc,
        port: SERVICE_PORT,
        protocol: ApplicationProtocol.HTTP,
        targetType: TargetType.IP,
        deregistrationDelay: Duration.seconds(settings.deregistrationDelaySeconds),
        healthCheck: {
          path: TARGET_HEALTH_CHECK.path,
          protocol: Protocol.HTTP,
          interval: Duration.seconds(TARGET_HEALTH_CHECK.intervalSeconds),
          timeout: Duration.seconds(TARGET_HEALTH_CHECK.timeoutSeconds),
          healthyThresholdCount: TARGET_HEALTH_CHECK.healthyThreshold,
          unhealthyThresholdCount: TARGET_HEALTH_CHECK.unhealthyThreshold,
          healthyHttpCodes: "200",
        },
      });
    const blue = targetGroup("TargetGroup");
    this.targetGroups = twoTargetGroups ? [blue, targetGroup("AlternateTargetGroup")] : [blue];
    // Traffic goes through a listener rule, not the default action. With two target groups the rule forwards to both:
    // ECS's blue/green, canary and linear strategies shift traffic by changing the weights. A CloudFormation update of
    // the rule (or a replaced rule, e.g. moved to the HTTPS listener when a certificate is added) writes the template's
    // weights back (aws/aws-cdk#36649), so they are parameters: 100/0 on creation, and `provision` passes the weights
    // the live rule has, so an update keeps traffic where ECS left it (dagger/src/infra/provision.ts).
    const weight = (id: string, initial: number, group: string) =>
      new CfnParameter(this, id, {
        type: "Number",
        default: initial,
        minValue: 0,
        maxValue: MAX_RULE_WEIGHT,
        description: `Weight of the ${group} target group in the production listener rule (provision passes the live rule's; ECS changes it at each deployment)`,
      }).valueAsNumber;
    const productionRule = new ApplicationListenerRule(this, "ProductionRule", {
      listener,
      priority: 10,
      conditions: [ListenerCondition.pathPatterns(["/*"])],
      action: twoTargetGroups
        ? ListenerAction.weightedForward([
            { targetGroup: blue, weight: weight("TargetGroupWeight", 100, "blue (TargetGroup)") },
            { targetGroup: this.targetGroups[1]!, weight: weight("AlternateTargetGroupWeight", 0, "green (AlternateTargetGroup)") },
          ])
        : ListenerAction.forward([blue]),
    });

    const cluster = new Cluster(this, "Cluster", { vpc, clusterName: clusterName(settings.name), containerInsightsV2: ContainerInsights.ENABLED });

    const logGroup = new LogGroup(this, "ServiceLogs", {
      logGroupName: `/ecs/${clusterName(settings.name)}/${ECS_SERVICE_NAME}`,
      retention: settings.logRetentionDays as RetentionDays,
    });
    const ecsTasks = new ServicePrincipal("ecs-tasks.amazonaws.com");
    const taskDefinition = new FargateTaskDefinition(this, "TaskDefinition", {
      family: taskFamily(settings.name),
      // Named, so that each environment's deploy role may pass exactly these two roles (infra/deploy-permissions.ts).
      taskRole: new Role(this, "TaskRole", { roleName: taskRoleName(settings.name), assumedBy: ecsTasks, description: `${settings.name}: the service's own AWS permissions (none yet)` }),
      executionRole: new Role(this, "ExecutionRole", { roleName: executionRoleName(settings.name), assumedBy: ecsTasks, description: `${settings.name}: ECS pulls the image and writes the logs` }),
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryMiB,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.of(settings.architecture), operatingSystemFamily: OperatingSystemFamily.LINUX },
    });
    const repository = Repository.fromRepositoryName(this, "Repository", settings.ecrRepository);
    repository.grantPull(taskDefinition.obtainExecutionRole());
    acknowledge(taskDefinition.obtainExecutionRole(), "AwsSolutions-IAM5[Resource::*]", "ecr:GetAuthorizationToken (the image pull's login) has no resource-level permission: it can only be granted on *; the pull itself is on this repository only");
    const environment: Record<string, string> = { ...settings.serviceEnvironment, PORT: String(SERVICE_PORT), HOST: "0.0.0.0" };
    acknowledge(taskDefinition, "AwsSolutions-ECS2", "the container's environment holds the service's plain settings (PORT, HOST, LOG_LEVEL, ...), no secret: the service reads no credentials");
    taskDefinition.addContainer(CONTAINER_NAME, {
      image: ContainerImage.fromRegistry(`${repository.repositoryUri}@${imageDigest.valueAsString}`),
      essential: true,
      user: RUNTIME_USER,
      readonlyRootFilesystem: true,
      stopTimeout: Duration.seconds(settings.stopTimeoutSeconds),
      portMappings: [{ containerPort: SERVICE_PORT, protocol: EcsProtocol.TCP }],
      environment,
      healthCheck: {
        command: ["CMD", ...HEALTHCHECK_COMMAND],
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(10),
      },
      logging: LogDrivers.awsLogs({ logGroup, streamPrefix: ECS_SERVICE_NAME, mode: AwsLogDriverMode.NON_BLOCKING, maxBufferSize: Size.mebibytes(LOG_BUFFER_MIB) }),
    });

    const monitoring = new ServiceMonitoring(this, "Monitoring", { settings, loadBalancer: this.loadBalancer, targetGroups: this.targetGroups, logGroup });

    const strategy = settings.deployment.strategy;
    this.service = new FargateService(this, "Service", {
      cluster,
      serviceName: ECS_SERVICE_NAME,
      taskDefinition,
      platformVersion: FargatePlatformVersion.VERSION1_4,
      desiredCount: settings.minTasks,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      vpcSubnets: taskSubnets,
      assignPublicIp: false,
      // Spread over the AZs, and back again after a zone's trouble.
      availabilityZoneRebalancing: AvailabilityZoneRebalancing.ENABLED,
      healthCheckGracePeriod: Duration.seconds(30),
      circuitBreaker: { enable: true, rollback: true },
      // Explicit, as before the recommended flag @aws-cdk/aws-ecs:disableExplicitDeploymentControllerForCircuitBreaker
      // (which would drop it): ECS-native blue/green needs the ECS controller, and the template a running stack was
      // created with stays as it was (CloudFormation documents DeploymentController as "Update requires: Replacement").
      deploymentController: { type: DeploymentControllerType.ECS },
      deploymentAlarms: { alarmNames: monitoring.deploymentAlarms.map((alarm) => alarm.alarmName) },
      deploymentStrategy: DeploymentStrategy[strategy],
      ...(strategy !== "ROLLING" ? { bakeTime: Duration.minutes(settings.deployment.bakeTimeMinutes ?? 0) } : {}),
      ...(strategy === "CANARY" || strategy === "LINEAR"
        ? {
            [strategy === "CANARY" ? "canaryConfiguration" : "linearConfiguration"]: {
              stepPercent: settings.deployment.stepPercent ?? 10,
              stepBakeTime: Duration.minutes(settings.deployment.stepBakeTimeMinutes ?? 6),
            },
          }
        : {}),
    });
    const target = this.service.loadBalancerTarget({
      containerName: CONTAINER_NAME,
      containerPort: SERVICE_PORT,
      ...(twoTargetGroups
        ? {
            alternateTarget: new AlternateTarget("AlternateTarget", {
              alternateTargetGroup: this.targetGroups[1]!,
              productionListener: ListenerRuleConfiguration.applicationListenerRule(productionRule),
              role: this.trafficShiftRole(listener, productionRule),
            }),
          }
        : {}),
    });
    target.attachToApplicationTargetGroup(blue);
    if (twoTargetGroups) {
      // The service refers to the rule (AdvancedConfiguration), so CDK's DependsOn on it is redundant (cfn-lint W3005): keep
      // only the one on the task role.
      const cfnService = this.service.node.defaultChild as CfnResource;
      cfnService.addOverride("DependsOn", [this.getLogicalId(taskDefinition.taskRole.node.defaultChild as CfnResource)]);
    }
    this.service.connections.allowFrom(this.loadBalancer, Port.tcp(SERVICE_PORT), "from the load balancer only");

    const scaling = this.service.autoScaleTaskCount({ minCapacity: settings.minTasks, maxCapacity: settings.maxTasks });
    scaling.scaleOnCpuUtilization("Cpu", { targetUtilizationPercent: settings.scaleOnCpuPercent });
    if (settings.scaleOnRequestsPerTarget !== undefined) {
      scaling.scaleOnRequestCount("Requests", { requestsPerTarget: settings.scaleOnRequestsPerTarget, targetGroup: blue });
    }
    monitoring.addServiceWidgets(this.service, cluster);

    const host = settings.domainName ?? this.loadBalancer.loadBalancerDnsName;
    new CfnOutput(this, "ServiceUrl", { value: `${https ? "https" : "http"}://${host}`, description: "Where the service answers" });
    if (!https) {
      new CfnOutput(this, "Warning", {
        value: "HTTP ONLY: no certificateArn is configured for this environment, traffic to the load balancer is not encrypted",
        description: "Set certificateArn in infra/environments.ts to serve HTTPS",
      });
    }
    new CfnOutput(this, "LoadBalancerDnsName", { value: this.loadBalancer.loadBalancerDnsName, description: "Point the domain's CNAME (or alias) here" });
    new CfnOutput(this, "ClusterName", { value: cluster.clusterName });
    new CfnOutput(this, "ServiceName", { value: this.service.serviceName });
    new CfnOutput(this, "ContainerName", { value: CONTAINER_NAME, description: "The container whose image deploy replaces" });
    new CfnOutput(this, "TargetGroupArns", { value: Fn.join(",", this.targetGroups.map((group) => group.targetGroupArn)), description: "Where deploy checks the new tasks' health" });
    new CfnOutput(this, "TaskRoleArn", { value: taskDefinition.taskRole.roleArn, description: "The deploy role may pass it to ECS" });
    new CfnOutput(this, "ExecutionRoleArn", { value: taskDefinition.obtainExecutionRole().roleArn, description: "The deploy role may pass it to ECS" });
    new CfnOutput(this, "LogGroupName", { value: logGroup.logGroupName });
    new CfnOutput(this, "DashboardUrl", { value: monitoring.dashboardUrl });
    new CfnOutput(this, "AlarmTopicArn", { value: monitoring.alarmTopic.topicArn });
    new CfnOutput(this, "DeploymentStrategy", { value: strategy });
    new CfnOutput(this, "EcrRepositoryName", { value: settings.ecrRepository, description: "The ECR repository the tasks pull from (provision's first image comes from it)" });
  }

  /** AZs picked at deploy time (Fn::GetAZs) as many as the environment asks for, instead of CDK's two for an env-agnostic stack. */
  override get availabilityZones(): string[] {
    return Array.from({ length: this.azCount }, (_, i) => Fn.select(i, Fn.getAzs()));
  }

  /**
   * The role ECS assumes to shift traffic between the two target groups: the actions of the AWS managed policy
   * AmazonECSInfrastructureRolePolicyForLoadBalancers (ALB part), on this environment's listener, rule and target groups
   * only instead of every load balancer in the account. The Describe actions have no resource-level permissions.
   * The statements are inline in the role (its `Policies`), not a separate AWS::IAM::Policy: the service refers to the
   * role's ARN, so CloudFormation creates the role, statements included, before the service; a separate policy would be
   * created in parallel with the service, which ECS may then try to use before it can shift any traffic.
   */
  private trafficShiftRole(listener: ApplicationListener, rule: ApplicationListenerRule): Role {
    const statements = [
      new PolicyStatement({ actions: TRAFFIC_SHIFT_READ_ACTIONS, resources: ["*"] }),
      new PolicyStatement({ actions: ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"], resources: this.targetGroups.map((group) => group.targetGroupArn) }),
      new PolicyStatement({ actions: ["elasticloadbalancing:ModifyListener"], resources: [listener.listenerArn] }),
      new PolicyStatement({ actions: ["elasticloadbalancing:ModifyRule"], resources: [rule.listenerRuleArn] }),
    ];
    const role = new Role(this, "TrafficShiftRole", {
      assumedBy: new ServicePrincipal("ecs.amazonaws.com"),
      description: "ECS shifts traffic between the blue and green target groups of this environment",
      inlinePolicies: { TrafficShift: new PolicyDocument({ statements }) },
    });
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]", "the ELBv2 Describe actions ECS reads while shifting traffic have no resource-level permissions; every write is on this environment's listener, rule and target groups");
    return role;
  }

  /** The environment's VPC and the subnets its tasks run in. */
  private network(settings: EnvironmentSettings): { vpc: IVpc; taskSubnets: SubnetSelection } {
    const network = settings.network;
    if ("existingVpcId" in network) {
      const vpc = Vpc.fromVpcAttributes(this, "Vpc", {
        vpcId: network.existingVpcId,
        availabilityZones: network.availabilityZones,
        publicSubnetIds: network.publicSubnetIds,
        privateSubnetIds: network.privateSubnetIds,
      });
      return { vpc, taskSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS } };
    }
    const taskSubnetType = network.natGateways > 0 ? SubnetType.PRIVATE_WITH_EGRESS : SubnetType.PRIVATE_ISOLATED;
    const vpc = new Vpc(this, "Vpc", {
      ipAddresses: IpAddresses.cidr(network.cidr),
      maxAzs: network.maxAzs,
      natGateways: network.natGateways,
      subnetConfiguration: [
        // The ALB gets its addresses from ELB, not from the subnet: nothing in these subnets needs an auto-assigned public IP.
        { name: "public", subnetType: SubnetType.PUBLIC, cidrMask: SUBNET_MASKS.public, mapPublicIpOnLaunch: false },
        { name: "tasks", subnetType: taskSubnetType, cidrMask: SUBNET_MASKS.tasks },
      ],
      // The default security group closed (its rules revoked by CDK's custom resource): infra/default-security-group.ts.
      restrictDefaultSecurityGroup: true,
    });
    dropRedundantProviderDependency(this);
    confineProviderLogs(this, settings.logRetentionDays);
    const taskSubnets = { subnetType: taskSubnetType };
    if (settings.flowLogRetentionDays !== undefined) {
      // VPC flow logs (all traffic) to CloudWatch Logs, kept as configured (cost: see the README's cost table).
      const flowLogs = new LogGroup(this, "FlowLogs", { retention: settings.flowLogRetentionDays as RetentionDays });
      vpc.addFlowLog("FlowLog", { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.ALL });
    } else {
      acknowledge(vpc, "AwsSolutions-VPC7", "VPC flow logs are configurable (flowLogRetentionDays) and off in this environment to save their CloudWatch Logs cost; production keeps them");
    }
    // Tasks pull images and ship logs without leaving AWS's network: S3 (image layers) through a free gateway endpoint,
    // ECR and CloudWatch Logs through interface endpoints in the task subnets.
    vpc.addGatewayEndpoint("S3", { service: GatewayVpcEndpointAwsService.S3, subnets: [taskSubnets] });
    for (const [id, service] of [
      ["EcrApi", InterfaceVpcEndpointAwsService.ECR],
      ["EcrDocker", InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ["Logs", InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
    ] as const) {
      const endpoint = vpc.addInterfaceEndpoint(id, { service, subnets: taskSubnets, privateDnsEnabled: true });
      acknowledge(endpoint, "AwsSolutions-EC23", "an interface endpoint's security group admits HTTPS from the VPC's own range only (CDK's default for endpoints); cdk-nag cannot read the range");
    }
    return { vpc, taskSubnets };
  }
}

/** The listener's answer to a request no rule takes (none, as long as the production rule matches every path). */
function noRoute(): ListenerAction {
  return ListenerAction.fixedResponse(503, { contentType: "application/json", messageBody: JSON.stringify({ error: { code: "no_route", message: "no target for this request" } }) });
}
