// The Dagger function aws.provision against the fake engine (the cdk commands it runs, with what arguments and
// environment) with mocked STS, CloudFormation, ECS, ELBv2 and ECR behind it: every input checked before anything
// runs, the reads through the CDK lookup role, the running digest and the live rule's weights passed on, the
// credentials only as secrets, refusals while a deployment is under way and when traffic ends up stranded.
import { GetTemplateCommand } from "@aws-sdk/client-cloudformation";
import { AssumeRoleCommand } from "@aws-sdk/client-sts";
import { DescribeImagesCommand } from "@aws-sdk/client-ecr";
import { DescribeServicesCommand, ListServiceDeploymentsCommand, type ECSClient } from "@aws-sdk/client-ecs";
import { DescribeRulesCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Aws } from "../../dagger/src/aws.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { RUN_ID_VARIABLE } from "../../dagger/src/infra/cdk.js";
import { baseAnswers, blueGreen, BLUE_TG, deployment, ecr, ecs, elb, GREEN_TG, NEW_DIGEST, OLD_DIGEST, service, TD2 } from "../helpers/ecs-mocks.js";
import { namedValues, runPlan, stepsNamed } from "../helpers/plan.js";
import { cdkCommands, cdkResolver, cloudformation, deployedTemplates, LOOKUP, LOOKUP_ROLE, outputs, parameters, stacks, sts, stsAnswers, template, type ResourceKnobs } from "../helpers/provision-mocks.js";
import { credentials, KEY_ID, SECRET_KEY, SESSION } from "../helpers/publish.js";

const STACK = "HonoService-staging";
const BLUE_GREEN_PARAMETERS = ["ImageDigest", "TargetGroupWeight", "AlternateTargetGroupWeight"];
const BLUE_GREEN = template(BLUE_GREEN_PARAMETERS);
/** The blue/green template as deployed before a change of `knobs` (by default: the task definition's CPU). */
const deployedBefore = (knobs: ResourceKnobs = { cpu: "512" }) => deployedTemplates({ [STACK]: template(BLUE_GREEN_PARAMETERS, "hono-ecr-service", knobs) });
const aws = (pipeline: Pipeline, region = "eu-west-1"): Aws => {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials();
  return pipeline.aws(region, accessKeyId, secretAccessKey, sessionToken);
};
const awsCalls = () => ecs.calls().length + elb.calls().length + ecr.calls().length + sts.calls().length + cloudformation.calls().length;
/** The running stack: blue/green, last provisioned with the template's 100/0 and OLD_DIGEST. */
const runningStack = () => ({
  Outputs: outputs({ TargetGroupArns: [`${BLUE_TG},${GREEN_TG}`] }),
  Parameters: parameters({ ImageDigest: OLD_DIGEST, TargetGroupWeight: "100", AlternateTargetGroupWeight: "0" }),
});

beforeEach(() => {
  baseAnswers("127.0.0.1:9");
  stsAnswers();
  deployedBefore();
});
afterEach(() => {
  for (const mock of [ecs, elb, ecr, sts, cloudformation]) mock.reset();
});

describe("aws provision (fake engine, mocked AWS)", () => {
  it.each<[string, (pipeline: Pipeline) => Promise<string>, string]>([
    ["region", (p) => aws(p, "europe").provision("staging"), 'region "europe" is not an AWS region name'],
    ["environment", (p) => aws(p).provision("Staging"), 'environment "Staging" is invalid'],
    ["image", (p) => aws(p).provision("staging", false, "hono-ecr-service"), '--image="hono-ecr-service" is invalid: expected <repository>:<tag> or <repository>@sha256:<64 hex>'],
    ["image of another region", (p) => aws(p).provision("staging", false, `123456789012.dkr.ecr.us-east-1.amazonaws.com/hono-ecr-service@${NEW_DIGEST}`), "--image is in us-east-1, the environment in eu-west-1"],
    ["image tag", (p) => aws(p).provision("staging", false, "hono-ecr-service:-bad"), "--image="],
  ])("rejects a bad %s before a secret is read, a container is made or AWS is called", async (_, call, message) => {
    const run = await runPlan(call);
    expect(run.error?.message).toContain(message);
    expect(run.engine.rawQueries).toEqual([]);
    expect(awsCalls()).toBe(0);
  });

  it("plans with the lookup role only: synth and `cdk diff --method=template`, no deploy; the weights the live rule has are shown", async () => {
    stacks({ [STACK]: [runningStack()] });
    blueGreen([0, 100], "green");
    const run = await runPlan((p) => aws(p).provision("staging", true), cdkResolver({ templates: { [STACK]: BLUE_GREEN }, outputs: { diff: "Resources\n[~] AWS::ECS::Service Service" } }));
    expect(run.error).toBeUndefined();
    expect(cdkCommands(run.engine.calls)).toEqual([
      ["synth", STACK, "--quiet", "-c", "region=eu-west-1", "--no-notices"],
      ["diff", STACK, "--app", "infra/cdk.out", "--method=template", "--no-notices"],
    ]);
    // Every read went through the lookup role, assumed with the caller's credentials.
    expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input.RoleArn)).toEqual([LOOKUP_ROLE]);
    for (const client of [ecs.calls()[0]!.thisValue as ECSClient, cloudformation.calls()[0]!.thisValue as ECSClient]) {
      expect(await client.config.credentials()).toMatchObject(LOOKUP);
    }
    expect(run.result).toContain(`image:      ${NEW_DIGEST}, the digest staging runs now (${TD2})`);
    expect(run.result).toContain("traffic:    the production rule's weights now, passed on: blue weight 0, 0 healthy target(s); green weight 100, 1 healthy target(s)");
    expect(run.result).toContain("change:     TaskDef, Service: ImageDigest=<the image above> is passed");
    expect(run.result).toContain(`parameters: ImageDigest=${OLD_DIGEST} -> ${NEW_DIGEST}, TargetGroupWeight=100 -> 0, AlternateTargetGroupWeight=0 -> 100`);
    expect(run.result).toContain("    [~] AWS::ECS::Service Service");
  });

  it("deploys with the running digest and the live weights; credentials only as secrets; each call a fresh exec; traffic checked after", async () => {
    stacks({ [STACK]: [runningStack()] });
    blueGreen([0, 100], "green");
    const run = await runPlan((p) => aws(p).provision("staging"), cdkResolver({ templates: { [STACK]: BLUE_GREEN }, outputs: { deploy: `✅  ${STACK}\n\nStack ARN: arn` } }));
    expect(run.error).toBeUndefined();
    const commands = cdkCommands(run.engine.calls);
    expect(commands.map((command) => command[0])).toEqual(["synth", "diff", "deploy"]);
    expect(commands[2]).toEqual([
      "deploy", STACK, "--app", "infra/cdk.out", "--require-approval", "never",
      "--parameters", `${STACK}:ImageDigest=${NEW_DIGEST}`,
      "--parameters", `${STACK}:TargetGroupWeight=0`,
      "--parameters", `${STACK}:AlternateTargetGroupWeight=100`,
      "--no-notices",
    ]);
    const deployChain = run.engine.calls.find((chain) => stepsNamed(chain, "withExec").some((step) => (step.args.args as string[])[3] === "deploy"))!;
    // The credentials: secret variables, nowhere else; the region as plain values; a run id that busts the exec cache.
    expect(stepsNamed(deployChain, "withSecretVariable").map((step) => step.args.name)).toEqual(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);
    const env = namedValues(deployChain, "withEnvVariable");
    expect(env).toMatchObject({ AWS_REGION: "eu-west-1", AWS_DEFAULT_REGION: "eu-west-1" });
    expect(env[RUN_ID_VARIABLE]).toMatch(/^[0-9a-f-]{36}$/);
    for (const secret of [KEY_ID, SECRET_KEY, SESSION, LOOKUP.secretAccessKey, LOOKUP.sessionToken]) {
      expect(run.engine.rawQueries.filter((query) => query.includes(secret) && !/^\s*\{\s*setSecret\s*\(/.test(query)), secret).toEqual([]);
      expect(run.result).not.toContain(secret);
    }
    expect(run.result).toContain(`deployed:   ${STACK} updated`);
    expect(run.result).toContain("traffic after: green weight 100, 1 healthy target(s)");
    // A second call: a new run id, so the engine runs cdk again instead of answering from its cache.
    const again = await runPlan((p) => aws(p).provision("staging"), cdkResolver({ templates: { [STACK]: BLUE_GREEN } }));
    const ids = [deployChain, again.engine.calls.at(-1)!].map((chain) => namedValues(chain, "withEnvVariable")[RUN_ID_VARIABLE]);
    expect(ids[0]).not.toEqual(ids[1]);
  });

  it("is a no-op when the deployed template is the synthesized one: no cdk deploy, though the stack's digest and weights are older than what runs", async () => {
    stacks({ [STACK]: [runningStack()] });
    blueGreen([0, 100], "green");
    deployedTemplates({ [STACK]: BLUE_GREEN });
    const run = await runPlan((p) => aws(p).provision("staging"), cdkResolver({ templates: { [STACK]: BLUE_GREEN } }));
    expect(run.error).toBeUndefined();
    expect(cdkCommands(run.engine.calls).map((command) => command[0])).toEqual(["synth", "diff"]);
    expect(cloudformation.commandCalls(GetTemplateCommand).map((call) => call.args[0].input)).toEqual([{ StackName: STACK, TemplateStage: "Original" }]);
    expect(await (cloudformation.commandCalls(GetTemplateCommand)[0]!.thisValue as ECSClient).config.credentials()).toMatchObject(LOOKUP);
    expect(run.result).toContain("change:     none: the deployed template is the synthesized one; cdk deploy is skipped");
    expect(run.result).toContain("deployed:   no change (the deployed template is the synthesized one): cdk deploy skipped");
  });

  it.each<[string, ResourceKnobs, boolean]>([
    ["an alarm (the rule's weights differ too)", { alarmThreshold: 5 }, false],
    ["the role the task definition refers to", { taskRolePolicy: "write" }, true],
    ["the task definition itself", { cpu: "1024" }, true],
  ])("a change of %s: the running digest is passed only when the task definition or the service changes", async (_, knobs, digest) => {
    stacks({ [STACK]: [runningStack()] });
    blueGreen([0, 100], "green");
    deployedBefore(knobs);
    const run = await runPlan((p) => aws(p).provision("staging"), cdkResolver({ templates: { [STACK]: BLUE_GREEN } }));
    expect(run.error).toBeUndefined();
    const weights = ["--parameters", `${STACK}:TargetGroupWeight=0`, "--parameters", `${STACK}:AlternateTargetGroupWeight=100`];
    expect(cdkCommands(run.engine.calls)[2]).toEqual(["deploy", STACK, "--app", "infra/cdk.out", "--require-approval", "never", ...(digest ? ["--parameters", `${STACK}:ImageDigest=${NEW_DIGEST}`] : []), ...weights, "--no-notices"]);
    expect(run.result).toContain(digest ? "TaskDef, Service: ImageDigest=<the image above> is passed" : `ImageDigest not passed (the stack keeps ${OLD_DIGEST})`);
  });

  it("checks again just before cdk deploy: a deployment that started meanwhile refuses the deploy", async () => {
    stacks({ [STACK]: [runningStack()] });
    blueGreen([0, 100], "green");
    let diffed = false;
    const resolve = cdkResolver({ templates: { [STACK]: BLUE_GREEN } });
    ecs.on(ListServiceDeploymentsCommand).callsFake(() => ({ serviceDeployments: diffed ? [{ serviceDeploymentArn: "arn:aws:ecs:eu-west-1:123456789012:service-deployment/c/web/sd-2", status: "IN_PROGRESS" }] : [] }));
    const run = await runPlan((p) => aws(p).provision("staging"), (chain) => {
      const answer = resolve(chain);
      if (cdkCommands([chain]).at(-1)?.[0] === "diff") diffed = true;
      return answer;
    });
    expect(run.error?.message).toMatch(/^provision refused: a deployment of staging is under way \(service deployment sd-2 \(IN_PROGRESS\)\)/);
    expect(cdkCommands(run.engine.calls).map((command) => command[0])).toEqual(["synth", "diff"]);
  });

  it("refuses while a deployment is under way (weights mid-shift), before any cdk command; a plan only warns", async () => {
    stacks({ [STACK]: [runningStack()] });
    blueGreen([50, 50], "green");
    ecs.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: "arn:aws:ecs:eu-west-1:123456789012:service-deployment/c/web/sd-1", status: "IN_PROGRESS" }] });
    const run = await runPlan((p) => aws(p).provision("staging"), cdkResolver({ templates: { [STACK]: BLUE_GREEN } }));
    expect(run.error?.message).toMatch(/^provision refused: a deployment of staging is under way \(service deployment sd-1 \(IN_PROGRESS\)\), its traffic weights are mid-shift\./);
    expect(cdkCommands(run.engine.calls)).toEqual([]);
    const plan = await runPlan((p) => aws(p).provision("staging", true), cdkResolver({ templates: { [STACK]: BLUE_GREEN } }));
    expect(plan.result).toContain("WARNING:    a deployment of staging is under way");
  });

  it("first provision: no stack yet, the release latest points to in the template's repository; a rolling template gets no weights", async () => {
    stacks({});
    ecr.on(DescribeImagesCommand, { repositoryName: "team/shop", imageIds: [{ imageTag: "latest" }] }).resolves({ imageDetails: [{ imageDigest: NEW_DIGEST, imageTags: ["latest"] }] });
    ecs.on(DescribeServicesCommand).resolves(service([deployment("ecs-svc/1", TD2, "PRIMARY", "COMPLETED")]));
    const run = await runPlan((p) => aws(p).provision("staging"), cdkResolver({ templates: { [STACK]: template(["ImageDigest"], "team/shop") } }));
    expect(run.error).toBeUndefined();
    expect(cdkCommands(run.engine.calls)[2]).toEqual(["deploy", STACK, "--app", "infra/cdk.out", "--require-approval", "never", "--parameters", `${STACK}:ImageDigest=${NEW_DIGEST}`, "--no-notices"]);
    expect(run.result).toContain(`provision of ${STACK} (no stack yet: it will be created)`);
    expect(run.result).toContain("team/shop:latest (first provision: no service yet; the newest release publish tagged latest)");
    expect(run.result).toContain("traffic:    one target group (rolling): no weights");
  });

  it("first provision with --image=<repository>:<tag>: resolved in ECR; a tag that is not there fails before cdk deploy", async () => {
    stacks({});
    ecr.on(DescribeImagesCommand).rejects(Object.assign(new Error("not found"), { name: "ImageNotFoundException" }));
    const run = await runPlan((p) => aws(p).provision("staging", false, "hono-ecr-service:v9"), cdkResolver({ templates: { [STACK]: BLUE_GREEN } }));
    expect(run.error?.message).toContain('no image tagged v9 in ECR repository "hono-ecr-service" in eu-west-1');
    expect(cdkCommands(run.engine.calls).map((command) => command[0])).toEqual(["synth"]);
  });

  it("fails loudly when, after the deploy, production traffic goes to a target group without a healthy target", async () => {
    stacks({ [STACK]: [runningStack()] });
    blueGreen([0, 100], "green");
    let rules = 0;
    // The rule as it was before the deploy (read twice: at the start and just before cdk deploy), then as a broken update left it: 100/0 to the empty blue group.
    elb.on(DescribeRulesCommand).callsFake(() => ({
      Rules: [{ Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: BLUE_TG, Weight: rules++ < 2 ? 0 : 100 }, { TargetGroupArn: GREEN_TG, Weight: rules <= 2 ? 100 : 0 }] } }] }],
    }));
    const run = await runPlan((p) => aws(p).provision("staging"), cdkResolver({ templates: { [STACK]: BLUE_GREEN } }));
    expect(run.error?.message).toMatch(/^HonoService-staging deployed, but production traffic goes to blue, which has no healthy target/);
    expect(cdkCommands(run.engine.calls).map((command) => command[0])).toEqual(["synth", "diff", "deploy"]);
  });

  it("says when the account is not bootstrapped (the lookup role cannot be assumed)", async () => {
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error(`User: arn:aws:iam::123456789012:user/admin is not authorized to perform: sts:AssumeRole on resource: ${LOOKUP_ROLE}`), { name: "AccessDenied" }));
    const run = await runPlan((p) => aws(p).provision("staging", true), cdkResolver());
    expect(run.error?.message).toMatch(/^AWS denied sts:AssumeRole on role arn:aws:iam::123456789012:role\/cdk-hnb659fds-lookup-role-123456789012-eu-west-1 in eu-west-1: .*\(is the account bootstrapped in eu-west-1\? dagger call aws ... bootstrap\)$/);
    expect(cdkCommands(run.engine.calls)).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["cdkQualifier first", { cdkQualifier: "team1", "@aws-cdk/core:bootstrapQualifier": "other" }, "team1"],
    ["else CDK's own key", { "@aws-cdk/core:bootstrapQualifier": "other" }, "other"],
    ["else the default", {}, "hnb659fds"],
  ])("assumes the lookup role of cdk.json's qualifier (%s), as infra/config.ts reads it", async (_, context, qualifier) => {
    stacks({ [STACK]: [runningStack()] });
    blueGreen([0, 100], "green");
    const run = await runPlan((p) => aws(p).provision("staging", true), cdkResolver({ templates: { [STACK]: BLUE_GREEN }, cdkJson: JSON.stringify({ context }) }));
    expect(run.error).toBeUndefined();
    expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input.RoleArn)).toEqual([`arn:aws:iam::123456789012:role/cdk-${qualifier}-lookup-role-123456789012-eu-west-1`]);
  });

  it("a qualifier against cdk bootstrap's rule fails naming it, before any AWS call", async () => {
    const run = await runPlan((p) => aws(p).provision("staging", true), cdkResolver({ cdkJson: JSON.stringify({ context: { cdkQualifier: "way-too-long-1" } }) }));
    expect(run.error?.message).toContain('cdk.json context cdkQualifier="way-too-long-1" is not a cdk bootstrap qualifier: 1 to 10 letters, digits, _ or -');
    expect(awsCalls()).toBe(0);
  });
});
