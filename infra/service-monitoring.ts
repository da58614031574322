import { Duration, Stack } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
  Unit,
  type IMetric,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { Cluster, FargateService } from "aws-cdk-lib/aws-ecs";
import { HttpCodeElb, HttpCodeTarget, type ApplicationLoadBalancer, type ApplicationTargetGroup } from "aws-cdk-lib/aws-elasticloadbalancingv2";
import { FilterPattern, MetricFilter, type LogGroup } from "aws-cdk-lib/aws-logs";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import { APP_NAME } from "../dagger/src/deploy/names.js";
import type { EnvironmentSettings } from "./environments.js";

/**
 * The routes the access log turns into metrics by method and path. Only these: a path is a metric dimension, and every
 * distinct value is a metric billed by the month, so unknown paths (scanners, typos) must not become dimensions.
 * test/infra-service.test.ts checks this list against the app's routes.
 */
export const METERED_ROUTES = [
  { method: "GET", path: "/" },
  { method: "GET", path: "/version" },
  { method: "GET", path: "/api/greeting" },
  { method: "POST", path: "/api/greeting" },
];

/** The metrics the access log becomes, each by method and path of every metered route (`extra`: the lines it counts). */
export const LOG_METRIC_FILTERS = [
  { id: "RequestsByRoute", metricName: "Requests", extra: "", value: "1", unit: Unit.COUNT },
  { id: "ServerErrorsByRoute", metricName: "ServerErrors", extra: " && $.status >= 500", value: "1", unit: Unit.COUNT },
  { id: "LatencyByRoute", metricName: "LatencyMs", extra: "", value: "$.durationMs", unit: Unit.MILLISECONDS },
];

/** The CloudWatch namespace of the metrics the service's logs produce in `environment`. */
export function logMetricsNamespace(environment: string): string {
  return `${APP_NAME}/${environment}`;
}

const FIVE_MINUTES = Duration.minutes(5);
const ONE_MINUTE = Duration.minutes(1);

export interface ServiceMonitoringProps {
  settings: EnvironmentSettings;
  loadBalancer: ApplicationLoadBalancer;
  targetGroups: ApplicationTargetGroup[];
  logGroup: LogGroup;
}

/**
 * Alarms (to an SNS topic), metric filters on the JSON access log, and a dashboard. The alarms that watch traffic
 * (5xx rates, p99 latency, unhealthy targets) are also the service's deployment alarms: ECS rolls a deploy back when one
 * fires during it.
 */
export class ServiceMonitoring extends Construct {
  readonly alarmTopic: Topic;
  readonly dashboard: Dashboard;
  /** Alarms that roll a deployment back (they watch the load balancer, so they cover both target groups). */
  readonly deploymentAlarms: Alarm[];
  private readonly settings: EnvironmentSettings;
  private readonly alarmAction: SnsAction;

  constructor(scope: Construct, id: string, props: ServiceMonitoringProps) {
    super(scope, id);
    const { settings, loadBalancer, targetGroups, logGroup } = props;
    this.settings = settings;
    // enforceSSL: the topic's policy denies publishing or subscribing over plain HTTP (aws:SecureTransport false).
    this.alarmTopic = new Topic(this, "AlarmTopic", { displayName: `${APP_NAME} ${settings.name} alarms`, enforceSSL: true });
    if (settings.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(settings.alarmEmail));
    this.alarmAction = new SnsAction(this.alarmTopic);

    const alb = loadBalancer.metrics;
    const requests = alb.requestCount({ period: FIVE_MINUTES, statistic: "Sum" });
    /** Percent of all requests that got a 5xx of one kind, over 5 minutes. */
    const rateOf = (id: string, label: string, errors: IMetric) =>
      new MathExpression({ expression: `100 * FILL(${id}, 0) / FILL(requests, 1)`, usingMetrics: { [id]: errors, requests }, label, period: FIVE_MINUTES });
    const loadBalancer5xx = rateOf("elb5xx", "ALB 5xx %", alb.httpCodeElb(HttpCodeElb.ELB_5XX_COUNT, { period: FIVE_MINUTES, statistic: "Sum" }));
    const target5xx = rateOf("target5xx", "target 5xx %", alb.httpCodeTarget(HttpCodeTarget.TARGET_5XX_COUNT, { period: FIVE_MINUTES, statistic: "Sum" }));
    const p99 = alb.targetResponseTime({ period: ONE_MINUTE, statistic: "p99" });
    const unhealthy = targetGroups.map((group) => group.metrics.unhealthyHostCount({ period: ONE_MINUTE, statistic: "Maximum" }));

    this.deploymentAlarms = [
      this.alarm("LoadBalancer5xxRate", loadBalancer5xx, settings.alarms.http5xxPercent, 1, `More than ${settings.alarms.http5xxPercent}% of requests answered 5xx by the load balancer (no healthy target, target unreachable) over 5 minutes`),
      this.alarm("Target5xxRate", target5xx, settings.alarms.http5xxPercent, 1, `More than ${settings.alarms.http5xxPercent}% of requests answered 5xx by the service over 5 minutes`),
      this.alarm("LatencyP99", p99, settings.alarms.p99LatencyMs / 1000, 3, `p99 target response time above ${settings.alarms.p99LatencyMs} ms for 3 minutes`),
      ...unhealthy.map((metric, i) => this.alarm(`UnhealthyTargets${i === 0 ? "" : "Alternate"}`, metric, 1, 2, "A target failed its health check for 2 minutes", ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)),
    ];

    // Route-level metrics from the access log lines ({"msg":"request","method":...,"path":...,"status":...,"durationMs":...}).
    const namespace = logMetricsNamespace(settings.name);
    const routes = METERED_ROUTES.map(({ method, path }) => `($.method = "${method}" && $.path = "${path}")`).join(" || ");
    for (const filter of LOG_METRIC_FILTERS) {
      new MetricFilter(this, filter.id, {
        logGroup,
        metricNamespace: namespace,
        metricName: filter.metricName,
        metricValue: filter.value,
        filterPattern: FilterPattern.literal(`{ $.msg = "request"${filter.extra} && (${routes}) }`),
        dimensions: { Method: "$.method", Path: "$.path" },
        unit: filter.unit,
      });
    }

    this.dashboard = new Dashboard(this, "Dashboard", { dashboardName: `${APP_NAME}-${settings.name}` });
    const byRoute = (metricName: string, statistic: string): IMetric[] =>
      METERED_ROUTES.map(({ method, path }) => new Metric({ namespace, metricName, dimensionsMap: { Method: method, Path: path }, statistic, period: FIVE_MINUTES, label: `${method} ${path}` }));
    this.dashboard.addWidgets(
      new TextWidget({ markdown: `# ${APP_NAME} — ${settings.name}\nDeployment strategy: ${settings.deployment.strategy}. Alarms go to SNS topic ${this.alarmTopic.topicName}.`, width: 24, height: 2 }),
      new GraphWidget({ title: "Requests (ALB)", left: [requests], width: 8 }),
      new GraphWidget({ title: "5xx %", left: [loadBalancer5xx, target5xx], leftAnnotations: [{ value: settings.alarms.http5xxPercent, label: "alarm" }], width: 8 }),
      new GraphWidget({
        title: "Target response time (s)",
        left: ["p50", "p90", "p99"].map((statistic) => alb.targetResponseTime({ period: ONE_MINUTE, statistic })),
        leftAnnotations: [{ value: settings.alarms.p99LatencyMs / 1000, label: "p99 alarm" }],
        width: 8,
      }),
      new GraphWidget({ title: "Healthy targets", left: targetGroups.map((group) => group.metrics.healthyHostCount({ period: ONE_MINUTE, statistic: "Minimum" })), right: unhealthy, width: 8 }),
      new GraphWidget({ title: "Requests by route (logs)", left: byRoute("Requests", "Sum"), width: 8 }),
      new GraphWidget({ title: "p99 latency by route, ms (logs)", left: byRoute("LatencyMs", "p99"), width: 8 }),
      new GraphWidget({ title: "5xx by route (logs)", left: byRoute("ServerErrors", "Sum"), width: 8 }),
    );
  }

  /** The dashboard in the console. */
  get dashboardUrl(): string {
    const stack = Stack.of(this);
    return `https://${stack.region}.console.${stack.urlSuffix === "amazonaws.com.cn" ? "amazonaws.cn" : "aws.amazon.com"}/cloudwatch/home?region=${stack.region}#dashboards:name=${this.dashboard.dashboardName}`;
  }

  /** Alarms and widgets on the ECS service (created after the service, which needs the deployment alarms first). */
  addServiceWidgets(service: FargateService, cluster: Cluster): void {
    const { alarms } = this.settings;
    const cpu = service.metricCpuUtilization({ period: ONE_MINUTE, statistic: "Average" });
    const memory = service.metricMemoryUtilization({ period: ONE_MINUTE, statistic: "Average" });
    const insights = (metricName: string) =>
      new Metric({ namespace: "ECS/ContainerInsights", metricName, dimensionsMap: { ClusterName: cluster.clusterName, ServiceName: service.serviceName }, period: ONE_MINUTE, statistic: "Average" });
    const missingTasks = new MathExpression({ expression: "desired - running", usingMetrics: { desired: insights("DesiredTaskCount"), running: insights("RunningTaskCount") }, label: "tasks missing", period: ONE_MINUTE });
    this.alarm("CpuHigh", cpu, alarms.cpuPercent, 5, `Average CPU above ${alarms.cpuPercent}% for 5 minutes`);
    this.alarm("MemoryHigh", memory, alarms.memoryPercent, 5, `Average memory above ${alarms.memoryPercent}% for 5 minutes`);
    this.alarm("TasksBelowDesired", missingTasks, 1, 5, "Fewer tasks running than desired for 5 minutes", ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD);
    this.dashboard.addWidgets(
      new GraphWidget({ title: "CPU and memory %", left: [cpu, memory], width: 8 }),
      new GraphWidget({ title: "Tasks", left: [insights("DesiredTaskCount"), insights("RunningTaskCount"), insights("PendingTaskCount")], width: 8 }),
      new GraphWidget({ title: "Deployments", left: [insights("DeploymentCount"), insights("TaskSetCount")], width: 8 }),
    );
  }

  private alarm(id: string, metric: IMetric, threshold: number, evaluationPeriods: number, description: string, comparisonOperator = ComparisonOperator.GREATER_THAN_THRESHOLD): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods,
      comparisonOperator,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `${APP_NAME} ${this.settings.name}: ${description}`,
    });
    alarm.addAlarmAction(this.alarmAction);
    alarm.addOkAction(this.alarmAction);
    return alarm;
  }
}
