/**
 * Where the service runs: one entry per environment, in one typed place. Adding an environment is adding an entry to
 * ENVIRONMENTS; `validateEnvironment` checks every value before anything is synthesized and stops the synth with one
 * line naming the value and the rule.
 */
import { ENVIRONMENT_NAME_PATTERN } from "../dagger/src/deploy/names.js";
import { InputError, validateRegion } from "../dagger/src/ecr/validate.js";
import { ConfigError, loadConfig, SETTINGS, type Config } from "../src/config.js";

/** How ECS replaces tasks on a deploy. ECS native strategies: no CodeDeploy. */
export type DeploymentStrategyName = "ROLLING" | "BLUE_GREEN" | "CANARY" | "LINEAR";

/** The VPC the environment creates, or an existing one it imports (by id, with its subnets: no lookup at synth). */
export type NetworkConfig =
  | {
      /** Availability zones to spread over (2 or 3). */
      maxAzs: number;
      /** NAT gateways for task egress beyond the VPC endpoints (0: none; tasks reach only ECR, S3 and Logs). */
      natGateways: number;
      /** The VPC's IPv4 range. */
      cidr: string;
    }
  | {
      existingVpcId: string;
      availabilityZones: string[];
      /** Subnets for the load balancer, one per zone. */
      publicSubnetIds: string[];
      /** Subnets for the tasks, one per zone; their egress (endpoints or NAT) is the VPC owner's business. */
      privateSubnetIds: string[];
    };

/** One environment's settings. */
export interface EnvironmentConfig {
  /** AWS account the stack may be deployed to (`cdk deploy` refuses another); omitted: the CLI's account. */
  account?: string;
  /** AWS region; omitted: context `region`, then the CLI's region. */
  region?: string;
  network: NetworkConfig;
  /** Fargate task size: CPU units and memory in MiB, one of Fargate's allowed pairs. */
  cpu: number;
  memoryMiB: number;
  /** Graviton (ARM64, ~20% cheaper per vCPU-hour) or X86_64. */
  architecture: "ARM64" | "X86_64";
  /** Running tasks: at least `minTasks`, scaled up to `maxTasks`. */
  minTasks: number;
  maxTasks: number;
  /** Target tracking: average CPU percent. */
  scaleOnCpuPercent: number;
  /**
   * Target tracking: ALB requests per target per minute. Only with ROLLING: the other strategies swap the service between
   * two target groups, and a per-target-group metric would go silent after every other deploy.
   */
  scaleOnRequestsPerTarget?: number;
  deployment: {
    strategy: DeploymentStrategyName;
    /** Minutes the new revision serves before the old one is dropped (BLUE_GREEN, CANARY, LINEAR). */
    bakeTimeMinutes?: number;
    /** CANARY: percent of traffic first; LINEAR: percent per step. */
    stepPercent?: number;
    /** CANARY/LINEAR: minutes between steps. */
    stepBakeTimeMinutes?: number;
  };
  /** HTTPS: an ACM certificate in the stack's region; without it the ALB serves HTTP only (the outputs say so). */
  certificateArn?: string;
  /** The name users reach the service by (a CNAME to the ALB's DNS name, managed outside this stack). */
  domainName?: string;
  /** CloudWatch Logs retention of the service's logs, in days (one of the values CloudWatch accepts). */
  logRetentionDays: number;
  /** ALB access logs to S3, kept this many days; omitted: no access logs. */
  accessLogRetentionDays?: number;
  /** VPC flow logs (all traffic) to CloudWatch Logs, kept this many days (a CloudWatch retention period); omitted: none. New VPCs only. */
  flowLogRetentionDays?: number;
  /** The ALB cannot be deleted (by a stack update or by hand) until this is turned off. */
  loadBalancerDeletionProtection?: boolean;
  /** Alarm notifications by e-mail (SNS subscription; the address must confirm it). */
  alarmEmail?: string;
  alarms: {
    /** Percent of ALB requests answered 5xx over 5 minutes, by the ALB itself and by the targets (one alarm each). */
    http5xxPercent: number;
    /** p99 target response time in milliseconds. */
    p99LatencyMs: number;
    /** Average CPU and memory percent of the service. */
    cpuPercent: number;
    memoryPercent: number;
  };
  /** The service's own variables (see the README's configuration table), checked by the service's own parser. */
  serviceEnvironment: Record<string, string>;
}

/** The environments, in promotion order. */
export const ENVIRONMENTS: Record<string, EnvironmentConfig> = {
  staging: {
    network: { maxAzs: 2, natGateways: 0, cidr: "10.10.0.0/16" },
    cpu: 256,
    memoryMiB: 512,
    architecture: "ARM64",
    minTasks: 1,
    maxTasks: 2,
    scaleOnCpuPercent: 60,
    scaleOnRequestsPerTarget: 6000,
    deployment: { strategy: "ROLLING" },
    logRetentionDays: 14,
    alarms: { http5xxPercent: 5, p99LatencyMs: 1000, cpuPercent: 85, memoryPercent: 85 },
    serviceEnvironment: { LOG_LEVEL: "debug" },
  },
  production: {
    network: { maxAzs: 3, natGateways: 0, cidr: "10.20.0.0/16" },
    cpu: 512,
    memoryMiB: 1024,
    architecture: "ARM64",
    minTasks: 3,
    maxTasks: 12,
    scaleOnCpuPercent: 50,
    deployment: { strategy: "BLUE_GREEN", bakeTimeMinutes: 10 },
    logRetentionDays: 90,
    accessLogRetentionDays: 30,
    flowLogRetentionDays: 30,
    loadBalancerDeletionProtection: true,
    alarms: { http5xxPercent: 1, p99LatencyMs: 500, cpuPercent: 80, memoryPercent: 80 },
    serviceEnvironment: { LOG_LEVEL: "info" },
  },
};

/** An environment's settings after validation, with what is derived from them. */
export interface EnvironmentSettings extends EnvironmentConfig {
  name: string;
  region: string;
  /** The ECR repository the image comes from (same account and region). */
  ecrRepository: string;
  /** The service's parsed configuration (defaults filled in). */
  service: Config;
  /** Seconds ECS waits after SIGTERM before SIGKILL: the service's grace plus a margin. */
  stopTimeoutSeconds: number;
  /** Seconds the ALB drains a deregistering task: a little above the service's grace. */
  deregistrationDelaySeconds: number;
}

/** Fargate's CPU units and the memory sizes (MiB) each allows (Linux, platform 1.4.0). */
export const FARGATE_SIZES: Record<number, number[]> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

/** The retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Seconds added to the service's shutdown grace for ECS's stopTimeout and the ALB's deregistration delay. */
export const SHUTDOWN_MARGIN_SECONDS = 5;
/** The ALB's idle timeout; the service's keep-alive must outlast it, or the ALB reuses connections the service closed (502s). */
export const ALB_IDLE_TIMEOUT_SECONDS = 60;
/** Fargate's largest stopTimeout. */
const MAX_STOP_TIMEOUT_SECONDS = 120;

const ACCOUNT = /^\d{12}$/;
const CERTIFICATE_ARN = /^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const AVAILABILITY_ZONE = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;
/** The prefix lengths of the subnets the stack gives each AZ of a new VPC: the ALB's public one and the tasks' one. */
export const SUBNET_MASKS = { public: 24, tasks: 22 } as const;

/**
 * The longest VPC prefix that holds `azs` AZs' subnets as CDK lays them out (aws-cdk-lib aws-ec2 NetworkBuilder: every
 * public /24 first, then each /22 at the next address aligned to its size): /20 for 2 or 3 AZs.
 */
export function longestVpcPrefix(azs: number): number {
  const size = (mask: number) => 2 ** (32 - mask);
  let next = 0;
  for (const mask of [...Array<number>(azs).fill(SUBNET_MASKS.public), ...Array<number>(azs).fill(SUBNET_MASKS.tasks)]) next = Math.ceil(next / size(mask)) * size(mask) + size(mask);
  return 32 - Math.ceil(Math.log2(next));
}

/** Variables the stack sets itself: the port the target group and health checks use, and the interface to bind. */
const STACK_OWNED_VARIABLES = ["PORT", "HOST"];

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let value = from; value <= to; value += step) values.push(value);
  return values;
}

/**
 * Checks one environment's settings and derives the rest. `defaults` are the app-wide context values (region,
 * repository). Throws an InputError naming `environments.NAME.key`, the value and the rule.
 */
export function validateEnvironment(name: string, config: EnvironmentConfig, defaults: { region?: string; ecrRepository: string }): EnvironmentSettings {
  const fail = (key: string, value: unknown, rule: string): never => {
    throw new InputError(`environments.${name}.${key}=${JSON.stringify(value)} is invalid: expected ${rule}`);
  };
  const integer = (key: string, value: number, min: number, max: number): number =>
    Number.isInteger(value) && value >= min && value <= max ? value : fail(key, value, `an integer from ${min} to ${max}`);
  const matches = (key: string, value: string, pattern: RegExp, rule: string): string => (pattern.test(value) ? value : fail(key, value, rule));

  if (!ENVIRONMENT_NAME_PATTERN.test(name)) throw new InputError(`environment name ${JSON.stringify(name)} is invalid: expected lower-case letters, digits and '-', starting with a letter, at most 20 characters`);
  if (config.account !== undefined) matches("account", config.account, ACCOUNT, "a 12-digit AWS account id");
  const regionValue = config.region ?? defaults.region;
  if (regionValue === undefined) throw new InputError(`environments.${name}.region is not set: set it in infra/environments.ts, pass -c region=..., or configure a default region for the AWS CLI`);
  let region: string;
  try {
    region = validateRegion(regionValue);
  } catch {
    return fail("region", regionValue, "an AWS region such as eu-west-1");
  }

  const network = config.network;
  if ("existingVpcId" in network) {
    matches("network.existingVpcId", network.existingVpcId, VPC_ID, "a VPC id such as vpc-0123456789abcdef0");
    const zones = network.availabilityZones;
    if (zones.length < 2 || zones.length > 3 || new Set(zones).size !== zones.length) fail("network.availabilityZones", zones, "2 or 3 distinct availability zones");
    zones.forEach((zone, i) => matches(`network.availabilityZones[${i}]`, zone, AVAILABILITY_ZONE, `an availability zone of ${region}, e.g. ${region}a`));
    zones.forEach((zone, i) => zone.startsWith(region) || fail(`network.availabilityZones[${i}]`, zone, `a zone of the environment's region ${region}`));
    for (const key of ["publicSubnetIds", "privateSubnetIds"] as const) {
      if (network[key].length !== zones.length) fail(`network.${key}`, network[key], `one subnet per availability zone (${zones.length})`);
      network[key].forEach((id, i) => matches(`network.${key}[${i}]`, id, SUBNET_ID, "a subnet id such as subnet-0123456789abcdef0"));
    }
  } else {
    integer("network.maxAzs", network.maxAzs, 2, 3);
    integer("network.natGateways", network.natGateways, 0, network.maxAzs);
    // What CDK accepts and lays out as given: a VPC of /16 (AWS's largest) to the longest prefix that holds the subnets,
    // with its host bits zero: CDK's CidrBlock rounds an unaligned address up to the next network (10.0.8.0/20 becomes
    // 10.0.16.0/20; aws-cdk-lib aws-ec2 network-util), and fails later inside CDK when the subnets do not fit.
    const longest = longestVpcPrefix(network.maxAzs);
    const cidr = CIDR.exec(network.cidr);
    const octets = cidr ? cidr.slice(1, 5).map(Number) : [];
    const prefix = Number(cidr?.[5]);
    const address = octets.reduce((sum, octet) => sum * 256 + octet, 0);
    const rule = `an IPv4 network from /16 to /${longest} with its host bits zero, e.g. 10.0.0.0/16 (each of the ${network.maxAzs} AZs gets a /${SUBNET_MASKS.public} public and a /${SUBNET_MASKS.tasks} task subnet)`;
    if (!cidr || octets.some((octet) => octet > 255) || prefix < 16 || prefix > longest || address % 2 ** (32 - prefix) !== 0) fail("network.cidr", network.cidr, rule);
  }

  const memories = FARGATE_SIZES[config.cpu];
  if (!memories) fail("cpu", config.cpu, `one of Fargate's CPU sizes: ${Object.keys(FARGATE_SIZES).join(", ")}`);
  if (!memories!.includes(config.memoryMiB)) {
    fail("memoryMiB", config.memoryMiB, `a memory size Fargate allows with cpu ${config.cpu}: ${memories![0]} to ${memories!.at(-1)} in steps of ${memories![1]! - memories![0]!}`);
  }
  if (config.architecture !== "ARM64" && config.architecture !== "X86_64") fail("architecture", config.architecture, "ARM64 or X86_64");
  integer("minTasks", config.minTasks, 1, 1000);
  integer("maxTasks", config.maxTasks, config.minTasks, 1000);
  integer("scaleOnCpuPercent", config.scaleOnCpuPercent, 10, 95);

  const { deployment } = config;
  const strategies: DeploymentStrategyName[] = ["ROLLING", "BLUE_GREEN", "CANARY", "LINEAR"];
  if (!strategies.includes(deployment.strategy)) fail("deployment.strategy", deployment.strategy, strategies.join(", "));
  if (deployment.strategy === "ROLLING") {
    for (const key of ["bakeTimeMinutes", "stepPercent", "stepBakeTimeMinutes"] as const) {
      if (deployment[key] !== undefined) fail(`deployment.${key}`, deployment[key], "nothing with strategy ROLLING (it has no bake time or steps)");
    }
  } else {
    integer("deployment.bakeTimeMinutes", deployment.bakeTimeMinutes ?? 0, 0, 1440);
    if (deployment.strategy === "BLUE_GREEN") {
      if (deployment.stepPercent !== undefined || deployment.stepBakeTimeMinutes !== undefined) fail("deployment.stepPercent", deployment.stepPercent ?? deployment.stepBakeTimeMinutes, "nothing with strategy BLUE_GREEN (it shifts all traffic at once)");
    } else {
      const percent = deployment.stepPercent ?? 10;
      if (!(percent >= 3 && percent <= 100 && Math.abs(percent * 10 - Math.round(percent * 10)) < 1e-9)) fail("deployment.stepPercent", percent, "a percentage from 3 to 100 in steps of 0.1");
      integer("deployment.stepBakeTimeMinutes", deployment.stepBakeTimeMinutes ?? 6, 0, 1440);
    }
  }
  if (config.scaleOnRequestsPerTarget !== undefined) {
    if (deployment.strategy !== "ROLLING") {
      fail("scaleOnRequestsPerTarget", config.scaleOnRequestsPerTarget, `nothing with strategy ${deployment.strategy}: it moves the service between two target groups, so requests per target of either one stops describing the service (scale on CPU)`);
    }
    integer("scaleOnRequestsPerTarget", config.scaleOnRequestsPerTarget, 1, 1_000_000);
  }

  if (config.certificateArn !== undefined) {
    matches("certificateArn", config.certificateArn, CERTIFICATE_ARN, "an ACM certificate ARN, arn:aws:acm:REGION:ACCOUNT:certificate/UUID");
    const certificateRegion = config.certificateArn.split(":")[3];
    if (certificateRegion !== region) fail("certificateArn", config.certificateArn, `a certificate in the environment's region ${region} (an ALB cannot use one from ${certificateRegion})`);
  }
  if (config.domainName !== undefined) matches("domainName", config.domainName, DOMAIN, "a lower-case DNS name such as api.example.com");
  if (!LOG_RETENTION_DAYS.includes(config.logRetentionDays)) fail("logRetentionDays", config.logRetentionDays, `one of CloudWatch's retention periods: ${LOG_RETENTION_DAYS.join(", ")}`);
  if (config.accessLogRetentionDays !== undefined) integer("accessLogRetentionDays", config.accessLogRetentionDays, 1, 3650);
  if (config.flowLogRetentionDays !== undefined) {
    if ("existingVpcId" in network) fail("flowLogRetentionDays", config.flowLogRetentionDays, "nothing with an imported VPC (its flow logs are its owner's)");
    if (!LOG_RETENTION_DAYS.includes(config.flowLogRetentionDays)) fail("flowLogRetentionDays", config.flowLogRetentionDays, `one of CloudWatch's retention periods: ${LOG_RETENTION_DAYS.join(", ")}`);
  }
  if (config.alarmEmail !== undefined) matches("alarmEmail", config.alarmEmail, EMAIL, "an e-mail address");
  const { alarms } = config;
  if (!(alarms.http5xxPercent > 0 && alarms.http5xxPercent <= 100)) fail("alarms.http5xxPercent", alarms.http5xxPercent, "a percentage above 0, at most 100");
  integer("alarms.p99LatencyMs", alarms.p99LatencyMs, 1, 60_000);
  integer("alarms.cpuPercent", alarms.cpuPercent, 1, 100);
  integer("alarms.memoryPercent", alarms.memoryPercent, 1, 100);

  for (const variable of STACK_OWNED_VARIABLES) {
    if (variable in config.serviceEnvironment) fail(`serviceEnvironment.${variable}`, config.serviceEnvironment[variable], "unset: the stack sets it (the target group and health checks use port 8080)");
  }
  const known = SETTINGS.map((setting) => setting.env as string);
  for (const variable of Object.keys(config.serviceEnvironment)) {
    if (!known.includes(variable)) fail(`serviceEnvironment.${variable}`, config.serviceEnvironment[variable], `one of the service's variables: ${known.filter((v) => !STACK_OWNED_VARIABLES.includes(v)).join(", ")}`);
  }
  let service: Config;
  try {
    service = loadConfig(config.serviceEnvironment);
  } catch (error) {
    if (error instanceof ConfigError) throw new InputError(`environments.${name}.serviceEnvironment: ${error.message}`);
    throw error;
  }
  if (service.keepAliveTimeoutMs <= ALB_IDLE_TIMEOUT_SECONDS * 1000) {
    fail("serviceEnvironment.KEEP_ALIVE_TIMEOUT_MS", config.serviceEnvironment.KEEP_ALIVE_TIMEOUT_MS, `above ${ALB_IDLE_TIMEOUT_SECONDS * 1000}: the ALB's idle timeout is ${ALB_IDLE_TIMEOUT_SECONDS} s and the service must keep connections open longer`);
  }
  const graceSeconds = Math.ceil(service.shutdownGraceMs / 1000);
  const stopTimeoutSeconds = graceSeconds + SHUTDOWN_MARGIN_SECONDS;
  if (stopTimeoutSeconds > MAX_STOP_TIMEOUT_SECONDS) {
    fail("serviceEnvironment.SHUTDOWN_GRACE_MS", config.serviceEnvironment.SHUTDOWN_GRACE_MS, `at most ${(MAX_STOP_TIMEOUT_SECONDS - SHUTDOWN_MARGIN_SECONDS) * 1000}: ECS's stopTimeout (grace + ${SHUTDOWN_MARGIN_SECONDS} s) is at most ${MAX_STOP_TIMEOUT_SECONDS} s on Fargate`);
  }

  return { ...config, name, region, ecrRepository: defaults.ecrRepository, service, stopTimeoutSeconds, deregistrationDelaySeconds: graceSeconds + SHUTDOWN_MARGIN_SECONDS };
}

/** The README's table of the environments' settings, one column per environment. */
export function renderEnvironmentTable(environments: EnvironmentSettings[]): string {
  const rows: [string, (settings: EnvironmentSettings) => string][] = [
    [
      "network",
      ({ network }) =>
        "existingVpcId" in network
          ? `imported VPC \`${network.existingVpcId}\`, ${network.availabilityZones.length} AZs`
          : `new VPC \`${network.cidr}\`, ${network.maxAzs} AZs, ${network.natGateways} NAT gateways (endpoints for ECR, S3, Logs)`,
    ],
    ["task size", (s) => `${s.cpu} CPU units / ${s.memoryMiB} MiB, ${s.architecture}`],
    ["tasks", (s) => `${s.minTasks} to ${s.maxTasks}: target ${s.scaleOnCpuPercent}% CPU${s.scaleOnRequestsPerTarget ? `, ${s.scaleOnRequestsPerTarget} requests per target per minute` : ""}`],
    [
      "deployments",
      ({ deployment: d }) =>
        `${d.strategy}${d.bakeTimeMinutes !== undefined ? `, bake ${d.bakeTimeMinutes} min` : ""}${d.stepPercent !== undefined ? `, steps of ${d.stepPercent}%` : ""}; circuit breaker and deployment alarms roll back`,
    ],
    ["HTTPS", (s) => (s.certificateArn ? `certificate \`${s.certificateArn}\`${s.domainName ? ` for ${s.domainName}` : ""}` : "HTTP only (no `certificateArn`)")],
    ["service logs kept", (s) => `${s.logRetentionDays} days`],
    ["ALB access logs", (s) => (s.accessLogRetentionDays !== undefined ? `S3, kept ${s.accessLogRetentionDays} days` : "off")],
    ["VPC flow logs", (s) => (s.flowLogRetentionDays !== undefined ? `CloudWatch Logs, kept ${s.flowLogRetentionDays} days` : "off")],
    ["ALB deletion protection", (s) => (s.loadBalancerDeletionProtection ? "on" : "off")],
    ["alarms", ({ alarms: a }) => `5xx > ${a.http5xxPercent}%, p99 > ${a.p99LatencyMs} ms, CPU > ${a.cpuPercent}%, memory > ${a.memoryPercent}%`],
    ["alarm e-mail", (s) => s.alarmEmail ?? "none (subscribe to the SNS topic)"],
    ["service variables", (s) => Object.entries(s.serviceEnvironment).map(([name, value]) => `\`${name}=${value}\``).join(", ") || "defaults"],
    ["stopTimeout / deregistration delay", (s) => `${s.stopTimeoutSeconds} s / ${s.deregistrationDelaySeconds} s`],
  ];
  return [
    `| setting | ${environments.map((settings) => settings.name).join(" | ")} |`,
    `|---|${environments.map(() => "---").join("|")}|`,
    ...rows.map(([label, render]) => `| ${label} | ${environments.map(render).join(" | ")} |`),
  ].join("\n");
}
