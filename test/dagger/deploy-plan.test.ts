// The Dagger functions aws.deploy, aws.rollback and aws.status against the fake engine (what they ask of it: the
// credentials, nothing else) with mocked AWS clients behind them: every input checked before a secret is read or AWS is
// called, the secrets never leaving the engine's secret store, and the reports they print.
import { DescribeServicesCommand, type ECSClient } from "@aws-sdk/client-ecs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Aws } from "../../dagger/src/aws.js";
import type { Pipeline } from "../../dagger/src/index.js";
import { baseAnswers, deployment, ecr, ecs, elb, NEW_COMMIT, NEW_DIGEST, REGISTRY, rollout, service, SIGNING_PROFILE, startVersionServer, TD1, TD2, type VersionServer } from "../helpers/ecs-mocks.js";
import { runPlan } from "../helpers/plan.js";
import { credentials, KEY_ID, SECRET_KEY, SESSION } from "../helpers/publish.js";

const aws = (pipeline: Pipeline, region = "eu-west-1"): Aws => {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials();
  return pipeline.aws(region, accessKeyId, secretAccessKey, sessionToken);
};
const awsCalls = () => ecs.calls().length + elb.calls().length + ecr.calls().length;

let version: VersionServer;
beforeAll(async () => {
  version = await startVersionServer();
});
afterAll(() => version.close());
beforeEach(() => baseAnswers(version.address));
afterEach(() => {
  ecs.reset();
  elb.reset();
  ecr.reset();
});

describe("aws deploy, rollback, status (fake engine, mocked AWS)", () => {
  it.each<[string, (pipeline: Pipeline) => Promise<string>, string]>([
    ["region", (p) => aws(p, "europe").status("staging"), 'region "europe" is not an AWS region name'],
    ["environment", (p) => aws(p).deploy("Prod", undefined, NEW_COMMIT), 'environment "Prod" is invalid: expected lower-case letters'],
    ["neither image nor commit", (p) => aws(p).deploy("staging"), "give exactly one of --image=<repository>@sha256:<digest> (or sha256:<digest>) and --commit=<full commit id>"],
    ["both image and commit", (p) => aws(p).deploy("staging", NEW_DIGEST, NEW_COMMIT), "give exactly one of"],
    ["a tag instead of a digest", (p) => aws(p).deploy("staging", `${REGISTRY}/hono-ecr-service:latest`), "is invalid: expected an ECR image by digest"],
    ["an image of another region", (p) => aws(p).deploy("staging", `123456789012.dkr.ecr.us-east-1.amazonaws.com/hono-ecr-service@${NEW_DIGEST}`), "--image is in us-east-1, the environment in eu-west-1"],
    ["a short commit", (p) => aws(p).deploy("staging", undefined, "2222222"), '--commit="2222222" is invalid: expected a full 40-character commit id'],
    ["timeout", (p) => aws(p).deploy("staging", undefined, NEW_COMMIT, 0), "--timeout-minutes=0 is invalid: expected a whole number from 1 to 120"],
    ["checks", (p) => aws(p).rollback("staging", 20, 51), "--checks=51 is invalid: expected a whole number from 1 to 50"],
    ["url", (p) => aws(p).rollback("staging", 20, 5, "ftp://x"), '--url="ftp://x" is invalid: expected an http or https URL'],
    ["status format", (p) => aws(p).status("staging", "yaml"), '--format="yaml" is invalid: expected text or json'],
  ])("rejects a bad %s before reading a secret or calling AWS", async (_, call, message) => {
    const run = await runPlan(call);
    expect(run.error?.message).toContain(message);
    expect(run.engine.rawQueries).toEqual([]);
    expect(awsCalls()).toBe(0);
  });

  it("deploys a commit and reports commit, image, revisions, URL and duration; the secrets stay in the engine's secret store", async () => {
    rollout(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    version.answers = [NEW_COMMIT];
    const run = await runPlan((pipeline) => aws(pipeline).deploy("staging", undefined, NEW_COMMIT, 5, 2));
    expect(run.error).toBeUndefined();
    expect(run.result!.replace(/ in \dm\d\ds\n/, " in <duration>\n")).toBe(
      [
        `deployed ${NEW_COMMIT} to staging in <duration>`,
        `  image:           ${REGISTRY}/hono-ecr-service@${NEW_DIGEST}`,
        `  task definition: ${TD2} (before: ${TD1})`,
        `  url:             http://${version.address}`,
        `  checked:         ECR scan of sha256:${"1".repeat(64)}: 2 LOW`,
        `  checked:         signed by ${SIGNING_PROFILE} (the index ${NEW_DIGEST})`,
      ].join("\n"),
    );
    // The engine was asked for the credentials' plaintext, nothing else (no container, no exec).
    expect(run.engine.calls.map((chain) => chain.at(-1)!.field).filter((field) => field !== "setSecret")).toEqual(["plaintext", "plaintext", "plaintext"]);
    for (const secret of [KEY_ID, SECRET_KEY, SESSION]) {
      expect(run.engine.rawQueries.filter((query) => query.includes(secret) && !/^\s*\{\s*setSecret\s*\(/.test(query)), secret).toEqual([]);
      expect(run.result).not.toContain(secret);
    }
    // The credentials reached the AWS clients.
    const client = ecs.calls()[0]!.thisValue as ECSClient;
    expect(await client.config.credentials()).toMatchObject({ accessKeyId: KEY_ID, secretAccessKey: SECRET_KEY, sessionToken: SESSION });
  });

  it("status prints text, or JSON with --format=json", async () => {
    ecs.on(DescribeServicesCommand).resolves(service([deployment("ecs-svc/new", TD2, "PRIMARY", "COMPLETED")]));
    const text = await runPlan((pipeline) => aws(pipeline).status("staging"));
    expect(text.result).toMatch(/^staging: service web in cluster hono-ecr-service-staging\n {2}release: {9}2{40}\n/);
    expect((await runPlan((pipeline) => aws(pipeline).status("staging", "text"))).result).toBe(text.result);
    const json = await runPlan((pipeline) => aws(pipeline).status("staging", "json"));
    expect(JSON.parse(json.result!)).toMatchObject({ environment: "staging", commit: NEW_COMMIT, digest: NEW_DIGEST, taskDefinition: TD2, running: 2, desired: 2 });
  });

  it("a failed deploy fails the function with the cause", async () => {
    rollout(service([deployment("ecs-svc/rollback", TD1, "PRIMARY", "IN_PROGRESS"), deployment("ecs-svc/new", TD2, "ACTIVE", "FAILED", { rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start." })]));
    const run = await runPlan((pipeline) => aws(pipeline).deploy("staging", NEW_DIGEST));
    expect(run.error?.message).toMatch(/^ECS rolled the release back \(deployment circuit breaker\): ECS deployment circuit breaker: tasks failed to start\./);
  });
});
