// dagger/src/deploy/status.ts and history.ts with mocked ECS, ELB and ECR clients (test/helpers/ecs-mocks.ts): what
// status reports for a service in odd states, how it prints, and which older revisions rollback may go back to.
import { DescribeImagesCommand, type ImageDetail } from "@aws-sdk/client-ecr";
import { DescribeServiceDeploymentsCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, ListServiceDeploymentsCommand, ListTaskDefinitionsCommand } from "@aws-sdk/client-ecs";
import { DescribeRulesCommand, DescribeTargetHealthCommand, type TargetHealthStateEnum } from "@aws-sdk/client-elastic-load-balancing-v2";
import { describe, expect, it } from "vitest";
import { PREVIOUS_TAG, RELEASE_TAG } from "../../dagger/src/deploy/ecs.js";
import type { DeployError } from "../../dagger/src/deploy/errors.js";
import { MAX_REVISIONS_SCANNED, previousRevision, releaseOfRevision } from "../../dagger/src/deploy/history.js";
import { digestOf as digestOfImage, marksOf } from "../../dagger/src/deploy/retention.js";
import { formatStatus, serviceStatus, type StatusReport } from "../../dagger/src/deploy/status.js";
import { deployment, ecr, ecs, elb, NEW_COMMIT, NEW_DIGEST, OLD_COMMIT, OLD_DIGEST, revision, service, target, TD1, TD2, TD3, testRuntime, useMockedDeploy } from "../helpers/ecs-mocks.js";

useMockedDeploy();

const FAMILY_ARN = (n: number, family = "hono-ecr-service-staging") => `arn:aws:ecs:eu-west-1:123456789012:task-definition/${family}:${n}`;
const digestOf = (c: string) => `sha256:${c.repeat(64)}`;
const image = (digest: string, tags: string[]): { imageDetails: ImageDetail[] } => ({ imageDetails: [{ imageDigest: digest, imageTags: tags, imagePushedAt: new Date(0) }] });

describe("serviceStatus", () => {
  it("a service without a PRIMARY deployment: nothing known runs, every count 0 when ECS gives none", async () => {
    const answer = service([deployment("ecs-svc/x", TD2, "ACTIVE", "IN_PROGRESS")]);
    const bare = { ...answer.services[0]! };
    delete bare.runningCount;
    delete bare.desiredCount;
    delete bare.pendingCount;
    ecs.on(DescribeServicesCommand).resolves({ services: [{ ...bare, events: [] }] });
    const report = await serviceStatus(testRuntime(), target);
    expect(report).toMatchObject({ taskDefinition: "?", image: "?", running: 0, desired: 0, pending: 0, commit: "unknown (neither the revision's tags nor ECR's tags of its image name a release)" });
    expect("digest" in report).toBe(false);
    expect("traffic" in report).toBe(false);
    expect("warning" in report).toBe(false);
    expect("serviceDeployment" in report).toBe(false);
  });

  it("reports the counts, each deployment, the five newest events and the newest service deployment", async () => {
    const events = Array.from({ length: 7 }, (_, i) => ({ id: `e${i}`, message: `event ${i}` }));
    const answer = service([deployment("ecs-svc/new", TD2, "PRIMARY", "IN_PROGRESS", { rolloutStateReason: "rolling", updatedAt: new Date(5000) }), deployment("ecs-svc/old", TD1, "ACTIVE", "COMPLETED")], events);
    ecs.on(DescribeServicesCommand).resolves({ services: [{ ...answer.services[0]!, runningCount: 3, desiredCount: 4, pendingCount: 1, events: [...answer.services[0]!.events!.slice(0, 6), { id: "bare" }] }] });
    const sd = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/c/web/sd-7";
    ecs.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: sd }] });
    ecs.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: sd, status: "IN_PROGRESS", lifecycleStage: "BAKE_TIME", statusReason: "baking", createdAt: new Date(1000) }] });
    const report = await serviceStatus(testRuntime(), target);
    expect(report).toMatchObject({ taskDefinition: TD2, commit: NEW_COMMIT, digest: NEW_DIGEST, running: 3, desired: 4, pending: 1 });
    expect(report.deployments).toEqual([
      { id: "ecs-svc/new", status: "PRIMARY", taskDefinition: TD2, rolloutState: "IN_PROGRESS", reason: "rolling", updatedAt: new Date(5000).toISOString() },
      { id: "ecs-svc/old", status: "ACTIVE", taskDefinition: TD1, rolloutState: "COMPLETED", reason: undefined, updatedAt: undefined },
    ]);
    expect(report.events).toEqual([0, 1, 2, 3, 4].map((i) => `${new Date(0).toISOString()} event ${i}`));
    expect(report.serviceDeployment).toEqual({ id: "sd-7", status: "IN_PROGRESS", lifecycleStage: "BAKE_TIME", reason: "baking", createdAt: new Date(1000).toISOString() });
  });

  it("an event without a time or a message is shown trimmed; a bare service deployment has its id only", async () => {
    const answer = service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]);
    ecs.on(DescribeServicesCommand).resolves({ services: [{ ...answer.services[0]!, events: [{ message: "no time" }, { createdAt: new Date(0) }] }] });
    const sd = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/c/web/sd-8";
    ecs.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: sd }] });
    ecs.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: sd }] });
    const report = await serviceStatus(testRuntime(), target);
    expect(report.events).toEqual(["no time", new Date(0).toISOString()]);
    expect(report.serviceDeployment).toEqual({ id: "sd-8" });
  });

  it("warns only about a target group that gets traffic and has no healthy target", async () => {
    const blue = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/blue/0123456789abcdef";
    const green = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/green/fedcba9876543210";
    const rule = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/web/1/2/3";
    const loadBalancers = [{ targetGroupArn: blue }, { targetGroupArn: blue, advancedConfiguration: { alternateTargetGroupArn: green, productionListenerRule: rule, roleArn: "arn:aws:iam::1:role/r" } }];
    ecs.on(DescribeServicesCommand).resolves(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")], [], { loadBalancers }));
    const healthy = (state: TargetHealthStateEnum) => ({ TargetHealthDescriptions: [{ Target: { Id: "10.0.1.5" }, TargetHealth: { State: state } }] });
    const weights = (b: number, g: number) => elb.on(DescribeRulesCommand).resolves({ Rules: [{ Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: blue, Weight: b }, { TargetGroupArn: green, Weight: g }] } }] }] });

    weights(100, 0);
    elb.on(DescribeTargetHealthCommand, { TargetGroupArn: blue }).resolves(healthy("healthy"));
    elb.on(DescribeTargetHealthCommand, { TargetGroupArn: green }).resolves({ TargetHealthDescriptions: [] });
    const fine = await serviceStatus(testRuntime(), target);
    expect(fine.traffic).toEqual([
      { targetGroupArn: blue, weight: 100, healthy: 1 },
      { targetGroupArn: green, weight: 0, healthy: 0 },
    ]);
    expect("warning" in fine).toBe(false);

    weights(50, 50);
    elb.on(DescribeTargetHealthCommand, { TargetGroupArn: green }).resolves(healthy("unhealthy"));
    expect((await serviceStatus(testRuntime(), target)).warning).toMatch(/^production traffic goes to green, which has no healthy target/);

    elb.on(DescribeTargetHealthCommand, { TargetGroupArn: blue }).resolves({ TargetHealthDescriptions: [] });
    expect((await serviceStatus(testRuntime(), target)).warning).toMatch(/^production traffic goes to blue, green, which has no healthy target/);
  });
});

describe("formatStatus", () => {
  const report: StatusReport = {
    environment: "staging",
    cluster: "c",
    service: "web",
    commit: NEW_COMMIT,
    image: `r/app@${NEW_DIGEST}`,
    taskDefinition: TD2,
    running: 1,
    desired: 2,
    pending: 1,
    deployments: [{ id: "ecs-svc/new", status: "PRIMARY", taskDefinition: TD2, rolloutState: "IN_PROGRESS", reason: "rolling" }, { id: "ecs-svc/old", status: "ACTIVE" }],
    traffic: [{ targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/blue/0123", weight: 100, healthy: 2 }],
    warning: "look",
    serviceDeployment: { id: "sd-1", status: "IN_PROGRESS", lifecycleStage: "BAKE_TIME", reason: "baking" },
    events: ["e1", "e2"],
  };

  it("prints every part, one line each", () => {
    expect(formatStatus(report).split("\n")).toEqual([
      "staging: service web in cluster c",
      `  release:         ${NEW_COMMIT}`,
      `  image:           r/app@${NEW_DIGEST}`,
      `  task definition: ${TD2}`,
      "  tasks:           1 running of 2 desired, 1 pending",
      `  deployment:      ecs-svc/new PRIMARY IN_PROGRESS (rolling) ${TD2}`,
      "  deployment:      ecs-svc/old ACTIVE  ",
      "  traffic:         blue weight 100, 2 healthy target(s)",
      "  WARNING:         look",
      "  service deployment: sd-1 IN_PROGRESS stage BAKE_TIME (baking)",
      "  event:           e1",
      "  event:           e2",
    ]);
  });

  it("leaves out what the report does not have", () => {
    const bare = { ...report };
    delete bare.traffic;
    delete bare.warning;
    delete bare.serviceDeployment;
    const lines = formatStatus({ ...bare, deployments: [], events: [] }).split("\n");
    expect(lines).toHaveLength(5);
    expect(formatStatus({ ...report, serviceDeployment: { id: "sd-2" } })).toContain("  service deployment: sd-2 ?\n");
  });
});

describe("releaseOfRevision and previousRevision", () => {
  it("the release tag first; else ECR's release tag of the digest; a revision by tag has none", async () => {
    const runtime = testRuntime();
    const tagged = revision(TD2, NEW_DIGEST, [{ key: RELEASE_TAG, value: "from-tag" }]);
    expect(await releaseOfRevision(runtime.clients, target, tagged)).toBe("from-tag");
    expect(await releaseOfRevision(runtime.clients, target, revision(TD1, OLD_DIGEST))).toBe(OLD_COMMIT);
    const byTag = revision(TD1, OLD_DIGEST);
    byTag.taskDefinition.containerDefinitions[0]!.image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hono-ecr-service:v1";
    expect(await releaseOfRevision(runtime.clients, target, byTag)).toBeUndefined();
    ecr.on(DescribeImagesCommand, { imageIds: [{ imageDigest: OLD_DIGEST }] }).resolves({ imageDetails: [{ imageDigest: OLD_DIGEST }] });
    expect(await releaseOfRevision(runtime.clients, target, revision(TD1, OLD_DIGEST))).toBeUndefined();
  });

  it("only older ACTIVE revisions of the same family, newest first, one that ran another image with a release", async () => {
    const running = revision(FAMILY_ARN(10), NEW_DIGEST);
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [FAMILY_ARN(11), FAMILY_ARN(10), FAMILY_ARN(9, "hono-ecr-service-staging-worker"), FAMILY_ARN(8), FAMILY_ARN(7)] });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY_ARN(8) }).resolves(revision(FAMILY_ARN(8), digestOf("8")));
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY_ARN(7) }).resolves(revision(FAMILY_ARN(7), digestOf("7")));
    ecr.on(DescribeImagesCommand, { imageIds: [{ imageDigest: digestOf("8") }] }).resolves(image(digestOf("8"), ["latest-linux-arm64"]));
    ecr.on(DescribeImagesCommand, { imageIds: [{ imageDigest: digestOf("7") }] }).resolves(image(digestOf("7"), [OLD_COMMIT]));
    const found = await previousRevision(testRuntime().clients, target, running);
    expect(found.revision.taskDefinition.taskDefinitionArn).toBe(FAMILY_ARN(7));
    expect(found.image).toEqual({ registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", repository: "hono-ecr-service", digest: digestOf("7") });
    expect(found.how).toBe("the newest older ACTIVE revision that ran a release (none recorded: a stack update registered the running one)");
    const described = ecs.commandCalls(DescribeTaskDefinitionCommand).map((call) => call.args[0].input.taskDefinition);
    expect(described).toEqual([FAMILY_ARN(8), FAMILY_ARN(7)]);
  });

  it("the revision number comes from the ARN when ECS leaves it out", async () => {
    const running = revision(FAMILY_ARN(10), NEW_DIGEST);
    const withoutNumber = { ...running.taskDefinition };
    delete (withoutNumber as { revision?: number }).revision;
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [FAMILY_ARN(10), FAMILY_ARN(7)] });
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: FAMILY_ARN(7) }).resolves(revision(FAMILY_ARN(7), digestOf("7")));
    ecr.on(DescribeImagesCommand, { imageIds: [{ imageDigest: digestOf("7") }] }).resolves(image(digestOf("7"), [OLD_COMMIT]));
    const found = await previousRevision(testRuntime().clients, target, { ...running, taskDefinition: withoutNumber });
    expect(found.revision.taskDefinition.taskDefinitionArn).toBe(FAMILY_ARN(7));
  });

  it(`looks at ${MAX_REVISIONS_SCANNED} older revisions at most, across pages, then says there is none`, async () => {
    const running = revision(FAMILY_ARN(100), NEW_DIGEST);
    const pages: Record<string, { taskDefinitionArns: string[]; nextToken?: string }> = {
      first: { taskDefinitionArns: Array.from({ length: 15 }, (_, i) => FAMILY_ARN(99 - i)), nextToken: "p2" },
      p2: { taskDefinitionArns: Array.from({ length: 15 }, (_, i) => FAMILY_ARN(84 - i)), nextToken: "p3" },
      p3: { taskDefinitionArns: [FAMILY_ARN(1)] },
    };
    ecs.on(ListTaskDefinitionsCommand).callsFake((input: { nextToken?: string }) => pages[input.nextToken ?? "first"]);
    // Every older revision runs the running image: none is a rollback target.
    ecs.on(DescribeTaskDefinitionCommand).callsFake((input: { taskDefinition: string }) => revision(input.taskDefinition, NEW_DIGEST));
    const error = (await previousRevision(testRuntime().clients, target, running).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("no-previous");
    expect(error.message).toContain("(none is recorded: deploy did not register the running one)");
    expect(ecs.commandCalls(ListTaskDefinitionsCommand)).toHaveLength(2);
    expect(ecs.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(MAX_REVISIONS_SCANNED);
  });

  it("the recorded previous revision, when ACTIVE with another image, is the target without listing anything", async () => {
    const running = revision(TD3, NEW_DIGEST, [{ key: PREVIOUS_TAG, value: TD1 }]);
    const found = await previousRevision(testRuntime().clients, target, running);
    expect(found).toMatchObject({ how: "the revision the running one replaced, recorded by deploy", image: { digest: OLD_DIGEST } });
    expect(ecs.commandCalls(ListTaskDefinitionsCommand)).toHaveLength(0);
  });

  it("a recorded previous revision with the running image is skipped, saying so", async () => {
    const running = revision(TD3, NEW_DIGEST, [{ key: PREVIOUS_TAG, value: TD2 }]);
    ecs.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [TD2, TD1] });
    const found = await previousRevision(testRuntime().clients, target, running);
    expect(found.revision.taskDefinition.taskDefinitionArn).toBe(TD1);
    expect(found.how).toBe("the newest older ACTIVE revision that ran a release (none recorded usable)");
  });
});

describe("retention: digestOf and marksOf", () => {
  it("digestOf: the digest at the end of a reference by digest, nothing for a tag or a longer hex", () => {
    expect(digestOfImage(`r/app@${NEW_DIGEST}`)).toBe(NEW_DIGEST);
    expect(digestOfImage("r/app:v1")).toBeUndefined();
    expect(digestOfImage(`r/app@${NEW_DIGEST}0`)).toBeUndefined();
  });

  it("marksOf: the running image, and the recorded previous one only while it is ACTIVE", async () => {
    const clients = testRuntime().clients;
    const running = revision(TD2, NEW_DIGEST, [{ key: PREVIOUS_TAG, value: TD1 }]);
    expect(await marksOf(clients, target, running)).toEqual({ deployed: NEW_DIGEST, rollback: OLD_DIGEST });
    const inactive = revision(TD1, OLD_DIGEST);
    ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: TD1 }).resolves({ ...inactive, taskDefinition: { ...inactive.taskDefinition, status: "INACTIVE" } });
    expect(await marksOf(clients, target, running)).toEqual({ deployed: NEW_DIGEST });
    expect(await marksOf(clients, target, revision(TD2, NEW_DIGEST))).toEqual({ deployed: NEW_DIGEST });
  });
});
