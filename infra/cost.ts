/**
 * What one environment costs per month at its configured size, from the list prices of its region (the region the
 * stacks are synthesized for). The README's cost table is rendered from this (a test keeps them equal), so changing an
 * environment's size or region changes the table.
 */
import { InputError } from "../dagger/src/ecr/validate.js";
import type { EnvironmentSettings } from "./environments.js";
import { LOG_METRIC_FILTERS, METERED_ROUTES } from "./service-monitoring.js";

/** USD list prices of one region, on-demand. */
export interface RegionPrices {
  /** The region's name on AWS's pricing pages. */
  location: string;
  /** Fargate, Linux, per vCPU-hour and per GB-hour. */
  fargate: { ARM64: { vcpuHour: number; gbHour: number }; X86_64: { vcpuHour: number; gbHour: number } };
  albHour: number;
  lcuHour: number;
  /** Interface VPC endpoint, per endpoint per AZ-hour (data processed is extra: $0.01/GB in both regions). */
  interfaceEndpointAzHour: number;
  /** NAT gateway per hour (data processed is extra, at the same figure per GB). */
  natGatewayHour: number;
  /** CloudWatch Logs, standard class: ingestion per GB, storage per GB-month. */
  logsIngestedGb: number;
  logsStoredGbMonth: number;
  /** Per metric an alarm evaluates (a metric-math alarm pays for each metric in it). */
  alarmMetricMonth: number;
  customMetricMonth: number;
  dashboardMonth: number;
  /** S3 Standard, first 50 TB. */
  s3GbMonth: number;
  /** Public IPv4 address, per address-hour (since 2024-02-01): an internet-facing ALB holds one per AZ. */
  publicIpv4Hour: number;
  /** VPC flow logs to CloudWatch Logs: vended-logs ingestion per GB (first tier, "Vended Logs"). */
  vendedLogsIngestedGb: number;
}

/**
 * Where the prices come from: the services' pricing pages (aws.amazon.com/fargate/pricing,
 * /elasticloadbalancing/pricing, /privatelink/pricing, /vpc/pricing (NAT gateway, public IPv4), /cloudwatch/pricing,
 * /s3/pricing), whose figures are AWS's Price List offer files
 * (pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<service>/current/<region>/index.json). They could not be read live
 * here (no network to AWS): each figure below says how it was checked, as of 2026-12-01.
 */
export const PRICE_SOURCE = "AWS list prices, on-demand, per region, from the services' pricing pages (AWS Price List) as of December 2026";

/** USD list prices by region. Another region: add it from the same pages (renderCostTable refuses one it lacks). */
export const PRICES: Record<string, RegionPrices> = {
  // us-east-1: the table's figures since the cost table was written (the pricing pages show us-east-1 by default).
  "us-east-1": {
    location: "US East (N. Virginia)",
    fargate: { ARM64: { vcpuHour: 0.03238, gbHour: 0.00356 }, X86_64: { vcpuHour: 0.04048, gbHour: 0.004445 } },
    albHour: 0.0225,
    lcuHour: 0.008,
    interfaceEndpointAzHour: 0.01,
    natGatewayHour: 0.045,
    logsIngestedGb: 0.5,
    logsStoredGbMonth: 0.03,
    alarmMetricMonth: 0.1,
    customMetricMonth: 0.3,
    dashboardMonth: 3,
    s3GbMonth: 0.023,
    publicIpv4Hour: 0.005,
    vendedLogsIngestedGb: 0.5,
  },
  // eu-west-1, each figure with how it was checked without a live page:
  "eu-west-1": {
    location: "Europe (Ireland)",
    // Fargate: as us-east-1 for Linux on both architectures (EU-Fargate-vCPU-Hours:perCPU $0.04048, EU-Fargate-GB-Hours
    // $0.004445, ARM $0.03238 / $0.00356: a public audit of a cost adapter against the Price List API; a July 2026
    // Cost Explorer export shows $6.01 for 148 vCPU-hours, the x86 rate).
    fargate: { ARM64: { vcpuHour: 0.03238, gbHour: 0.00356 }, X86_64: { vcpuHour: 0.04048, gbHour: 0.004445 } },
    // EU-LoadBalancerUsage: $15.00 for 595 h in that Cost Explorer export ($0.0252/h); LCU as us-east-1.
    albHour: 0.0252,
    lcuHour: 0.008,
    // EU-VpcEndpoint-Hours $0.011: public cost tables only, not checked against an AWS page or bill.
    interfaceEndpointAzHour: 0.011,
    // EU-NatGateway-Hours $0.048/Hrs (and -Bytes $0.048/GB): an excerpt of the AmazonEC2 offer file for eu-west-1,
    // retrieved 2026-10-02, kept in a public repository as a test fixture.
    natGatewayHour: 0.048,
    // EU-DataProcessing-Bytes $0.57/GB: not verified here (the CloudWatch pricing page, Europe (Ireland), as
    // remembered); storage $0.03/GB-month as in public cost tables.
    logsIngestedGb: 0.57,
    logsStoredGbMonth: 0.03,
    // Alarms, custom metrics and dashboards list the same in both regions (not verified here).
    alarmMetricMonth: 0.1,
    customMetricMonth: 0.3,
    dashboardMonth: 3,
    // EU-TimedStorage-ByteHrs "$0.023 per GB - first 50 TB / month of storage used" on an AWS bill (Ireland).
    s3GbMonth: 0.023,
    // EU-PublicIPv4:InUseAddress: $8.91 for 1,783 address-hours in the Cost Explorer export ($0.005).
    publicIpv4Hour: 0.005,
    // Vended logs' first tier at the region's ingestion price: not verified here.
    vendedLogsIngestedGb: 0.57,
  },
};

/** The list prices of `region`, or a clear error naming the regions priced. */
export function pricesFor(region: string): RegionPrices {
  const prices = Object.hasOwn(PRICES, region) ? PRICES[region] : undefined;
  if (!prices) {
    throw new InputError(
      `no list prices for region ${JSON.stringify(region)} in infra/cost.ts: the cost table prices ${Object.keys(PRICES).join(", ")}; add the region's prices from the pricing pages named there`,
    );
  }
  return prices;
}

/** Hours in the average month. */
export const HOURS_PER_MONTH = 730;

/** What the estimate assumes about traffic, per environment (no traffic is free of ALB hours and endpoint hours). */
export const ASSUMPTIONS = { lcus: 1, logGbPerMonthPerTask: 1, accessLogGbPerMonth: 2, flowLogGbPerMonth: 1 };

/** The interface endpoints the stack creates in a new VPC (ECR api, ECR dkr, Logs). */
const INTERFACE_ENDPOINTS = 3;
/**
 * Metrics the alarms evaluate: ALB 5xx (2), target 5xx (2), p99 (1), CPU (1), memory (1), tasks below desired (2),
 * unhealthy targets (1 per target group). test/infra-service.test.ts counts them in each synthesized template.
 */
export function alarmMetricCount(settings: EnvironmentSettings): number {
  return 9 + (settings.deployment.strategy === "ROLLING" ? 1 : 2);
}
/** Metrics the log metric filters produce: one per metric name and metered route. */
const LOG_METRICS = LOG_METRIC_FILTERS.length * METERED_ROUTES.length;

export interface CostLine {
  item: string;
  detail: string;
  usd: number;
}

/** The monthly cost lines of one environment at its minimum size (minTasks), and their total. */
export function monthlyCost(settings: EnvironmentSettings): { lines: CostLine[]; total: number } {
  const hours = HOURS_PER_MONTH;
  const vcpu = settings.cpu / 1024;
  const gb = settings.memoryMiB / 1024;
  const prices = pricesFor(settings.region);
  const price = prices.fargate[settings.architecture];
  const newVpc = !("existingVpcId" in settings.network);
  const azs = "existingVpcId" in settings.network ? settings.network.availabilityZones.length : settings.network.maxAzs;
  const nat = "existingVpcId" in settings.network ? 0 : settings.network.natGateways;
  const lines: CostLine[] = [
    {
      item: `Fargate ${settings.architecture}`,
      detail: `${settings.minTasks} × (${vcpu} vCPU × $${price.vcpuHour} + ${gb} GB × $${price.gbHour}) × ${hours} h`,
      usd: settings.minTasks * (vcpu * price.vcpuHour + gb * price.gbHour) * hours,
    },
    { item: "ALB", detail: `$${prices.albHour}/h + ${ASSUMPTIONS.lcus} LCU × $${prices.lcuHour}/h`, usd: (prices.albHour + ASSUMPTIONS.lcus * prices.lcuHour) * hours },
    newVpc
      ? { item: "VPC endpoints", detail: `${INTERFACE_ENDPOINTS} interface × ${azs} AZs × $${prices.interfaceEndpointAzHour}/h (S3 gateway: free)`, usd: INTERFACE_ENDPOINTS * azs * prices.interfaceEndpointAzHour * hours }
      : { item: "VPC endpoints", detail: "the imported VPC's (not counted)", usd: 0 },
    { item: "NAT gateways", detail: `${nat} × $${prices.natGatewayHour}/h`, usd: nat * prices.natGatewayHour * hours },
    // Each NAT gateway has an Elastic IP (AWS::EC2::EIP), billed as a public IPv4 address like the ALB's.
    {
      item: "Public IPv4",
      detail: `the ALB's ${azs} addresses (one per AZ)${nat > 0 ? ` + ${nat} NAT gateway address${nat === 1 ? "" : "es"}` : ""} × $${prices.publicIpv4Hour}/h`,
      usd: (azs + nat) * prices.publicIpv4Hour * hours,
    },
    {
      item: "CloudWatch Logs",
      detail: `${settings.minTasks * ASSUMPTIONS.logGbPerMonthPerTask} GB ingested × $${prices.logsIngestedGb}, kept ${settings.logRetentionDays} days × $${prices.logsStoredGbMonth}/GB-month`,
      usd: settings.minTasks * ASSUMPTIONS.logGbPerMonthPerTask * (prices.logsIngestedGb + prices.logsStoredGbMonth * (settings.logRetentionDays / 30)),
    },
    {
      item: "Alarms, log metrics, dashboard",
      detail: `${alarmMetricCount(settings)} alarm metrics × $${prices.alarmMetricMonth}, ${LOG_METRICS} metrics × $${prices.customMetricMonth}, 1 dashboard × $${prices.dashboardMonth}`,
      usd: alarmMetricCount(settings) * prices.alarmMetricMonth + LOG_METRICS * prices.customMetricMonth + prices.dashboardMonth,
    },
  ];
  if (settings.flowLogRetentionDays !== undefined) {
    const gb = ASSUMPTIONS.flowLogGbPerMonth;
    lines.push({
      item: "VPC flow logs",
      detail: `${gb} GB ingested × $${prices.vendedLogsIngestedGb}, kept ${settings.flowLogRetentionDays} days × $${prices.logsStoredGbMonth}/GB-month`,
      usd: gb * (prices.vendedLogsIngestedGb + prices.logsStoredGbMonth * (settings.flowLogRetentionDays / 30)),
    });
  }
  if (settings.accessLogRetentionDays !== undefined) {
    const storedGb = ASSUMPTIONS.accessLogGbPerMonth * (settings.accessLogRetentionDays / 30);
    lines.push({ item: "ALB access logs (S3)", detail: `${storedGb} GB kept × $${prices.s3GbMonth}`, usd: storedGb * prices.s3GbMonth });
  }
  return { lines, total: lines.reduce((sum, line) => sum + line.usd, 0) };
}

/**
 * The README's cost table: one row per cost line, one column per environment, at the list prices of each environment's
 * region (the region the stacks are synthesized for), named in the header. A region infra/cost.ts has no prices for
 * is refused with the regions it has.
 */
export function renderCostTable(environments: EnvironmentSettings[]): string {
  const costs = environments.map((settings) => monthlyCost(settings));
  const regions = [...new Set(environments.map((settings) => settings.region))];
  const oneRegion = regions.length === 1 ? regions[0]! : undefined;
  const header = oneRegion ? `per month, ${oneRegion} (${pricesFor(oneRegion).location})` : "per month";
  const columns = environments.map((settings) => (oneRegion ? settings.name : `${settings.name} (${settings.region})`));
  const items = [...new Set(costs.flatMap((cost) => cost.lines.map((line) => line.item)))];
  const usd = (value: number) => `$${value.toFixed(2)}`;
  const rows = items.map((item) => {
    const cells = costs.map((cost) => {
      const line = cost.lines.find((candidate) => candidate.item === item);
      return line ? `${usd(line.usd)} (${line.detail})` : "—";
    });
    return `| ${item} | ${cells.join(" | ")} |`;
  });
  return [
    `| ${header} | ${columns.join(" | ")} |`,
    `|---|${environments.map(() => "---").join("|")}|`,
    ...rows,
    `| **total** | ${costs.map((cost) => `**${usd(cost.total)}**`).join(" | ")} |`,
  ].join("\n");
}
