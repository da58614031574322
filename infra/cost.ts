/**
 * What one environment costs per month at its configured size, from list prices. The README's cost table is rendered
 * from this (a test keeps them equal), so changing an environment's size changes the table.
 */
import type { EnvironmentSettings } from "./environments.js";
import { LOG_METRIC_FILTERS, METERED_ROUTES } from "./service-monitoring.js";

/** Where the prices below come from. */
export const PRICE_SOURCE = "AWS list prices for us-east-1 (N. Virginia), on-demand, as published on the services' pricing pages in 2026";

/** USD list prices (us-east-1). */
export const PRICES = {
  /** Fargate, Linux, per vCPU-hour and per GB-hour. */
  fargate: { ARM64: { vcpuHour: 0.03238, gbHour: 0.00356 }, X86_64: { vcpuHour: 0.04048, gbHour: 0.004445 } },
  albHour: 0.0225,
  lcuHour: 0.008,
  /** Interface VPC endpoint, per endpoint per AZ-hour (data processed is extra: $0.01/GB). */
  interfaceEndpointAzHour: 0.01,
  /** NAT gateway per hour (data processed is extra: $0.045/GB). */
  natGatewayHour: 0.045,
  logsIngestedGb: 0.5,
  logsStoredGbMonth: 0.03,
  /** Per metric an alarm evaluates (a metric-math alarm pays for each metric in it). */
  alarmMetricMonth: 0.1,
  customMetricMonth: 0.3,
  dashboardMonth: 3,
  s3GbMonth: 0.023,
  /** Public IPv4 address, per address-hour (since 2024-02-01; Amazon VPC pricing page): an internet-facing ALB holds one per AZ. */
  publicIpv4Hour: 0.005,
  /** VPC flow logs to CloudWatch Logs: vended-logs ingestion per GB (first tier; Amazon CloudWatch pricing page, "Vended Logs"). */
  vendedLogsIngestedGb: 0.5,
};

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
  const price = PRICES.fargate[settings.architecture];
  const newVpc = !("existingVpcId" in settings.network);
  const azs = "existingVpcId" in settings.network ? settings.network.availabilityZones.length : settings.network.maxAzs;
  const nat = "existingVpcId" in settings.network ? 0 : settings.network.natGateways;
  const lines: CostLine[] = [
    {
      item: `Fargate ${settings.architecture}`,
      detail: `${settings.minTasks} × (${vcpu} vCPU × $${price.vcpuHour} + ${gb} GB × $${price.gbHour}) × ${hours} h`,
      usd: settings.minTasks * (vcpu * price.vcpuHour + gb * price.gbHour) * hours,
    },
    { item: "ALB", detail: `$${PRICES.albHour}/h + ${ASSUMPTIONS.lcus} LCU × $${PRICES.lcuHour}/h`, usd: (PRICES.albHour + ASSUMPTIONS.lcus * PRICES.lcuHour) * hours },
    newVpc
      ? { item: "VPC endpoints", detail: `${INTERFACE_ENDPOINTS} interface × ${azs} AZs × $${PRICES.interfaceEndpointAzHour}/h (S3 gateway: free)`, usd: INTERFACE_ENDPOINTS * azs * PRICES.interfaceEndpointAzHour * hours }
      : { item: "VPC endpoints", detail: "the imported VPC's (not counted)", usd: 0 },
    { item: "NAT gateways", detail: `${nat} × $${PRICES.natGatewayHour}/h`, usd: nat * PRICES.natGatewayHour * hours },
    { item: "Public IPv4", detail: `the ALB's ${azs} addresses (one per AZ) × $${PRICES.publicIpv4Hour}/h`, usd: azs * PRICES.publicIpv4Hour * hours },
    {
      item: "CloudWatch Logs",
      detail: `${settings.minTasks * ASSUMPTIONS.logGbPerMonthPerTask} GB ingested × $${PRICES.logsIngestedGb}, kept ${settings.logRetentionDays} days × $${PRICES.logsStoredGbMonth}/GB-month`,
      usd: settings.minTasks * ASSUMPTIONS.logGbPerMonthPerTask * (PRICES.logsIngestedGb + PRICES.logsStoredGbMonth * (settings.logRetentionDays / 30)),
    },
    {
      item: "Alarms, log metrics, dashboard",
      detail: `${alarmMetricCount(settings)} alarm metrics × $${PRICES.alarmMetricMonth}, ${LOG_METRICS} metrics × $${PRICES.customMetricMonth}, 1 dashboard × $${PRICES.dashboardMonth}`,
      usd: alarmMetricCount(settings) * PRICES.alarmMetricMonth + LOG_METRICS * PRICES.customMetricMonth + PRICES.dashboardMonth,
    },
  ];
  if (settings.flowLogRetentionDays !== undefined) {
    const gb = ASSUMPTIONS.flowLogGbPerMonth;
    lines.push({
      item: "VPC flow logs",
      detail: `${gb} GB ingested × $${PRICES.vendedLogsIngestedGb}, kept ${settings.flowLogRetentionDays} days × $${PRICES.logsStoredGbMonth}/GB-month`,
      usd: gb * (PRICES.vendedLogsIngestedGb + PRICES.logsStoredGbMonth * (settings.flowLogRetentionDays / 30)),
    });
  }
  if (settings.accessLogRetentionDays !== undefined) {
    const storedGb = ASSUMPTIONS.accessLogGbPerMonth * (settings.accessLogRetentionDays / 30);
    lines.push({ item: "ALB access logs (S3)", detail: `${storedGb} GB kept × $${PRICES.s3GbMonth}`, usd: storedGb * PRICES.s3GbMonth });
  }
  return { lines, total: lines.reduce((sum, line) => sum + line.usd, 0) };
}

/** The README's cost table: one row per cost line, one column per environment. */
export function renderCostTable(environments: EnvironmentSettings[]): string {
  const costs = environments.map((settings) => monthlyCost(settings));
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
    `| per month | ${environments.map((settings) => settings.name).join(" | ")} |`,
    `|---|${environments.map(() => "---").join("|")}|`,
    ...rows,
    `| **total** | ${costs.map((cost) => `**${usd(cost.total)}**`).join(" | ")} |`,
  ].join("\n");
}
