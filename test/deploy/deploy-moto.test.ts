// deploy's AWS logic against the ECS service moto's CloudFormation created from the staging stack's template, with the
// releases in moto's ECR. moto 5.2.1's UpdateService moves the service's taskDefinition but not its deployments (they
// keep the revision they were created with, and no task runs), so a whole rollout is followed in the mocked tests
// (deploy-mocked.test.ts); here each step runs against moto: the no-op, the new revision with only the image changed,
// the update, the rollback's recorded previous revision, a missing image and the wrong architecture. moto 5.2.1 has no
// service-deployment API (ListServiceDeployments answers HTTP 500): that one call is answered "none under way" here
// (vi.spyOn on this client only); the mocked tests follow service deployments through their stages.
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { ECRClient } from "@aws-sdk/client-ecr";
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, ListServiceDeploymentsCommand, ListTaskDefinitionsCommand } from "@aws-sdk/client-ecs";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { cdkApp } from "../helpers/cdk-app.js";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { deployRelease, rollbackRelease, type DeployRuntime } from "../../dagger/src/deploy/deploy.js";
import { describeRevision, PREVIOUS_TAG, registerRevisionWithImage, RELEASE_TAG, serviceTarget, tagValue, updateService } from "../../dagger/src/deploy/ecs.js";
import type { DeployError } from "../../dagger/src/deploy/errors.js";
import { serviceStackName } from "../../dagger/src/deploy/names.js";
import { ensureRepository } from "../../dagger/src/ecr/registry.js";
import { ENVIRONMENTS, validateEnvironment } from "../../infra/environments.js";
import { ServiceStack } from "../../infra/service-stack.js";
import { createStackInMoto, motoClientConfig, motoCloudFormationTypes, MOTO_REGION, templateForMoto } from "../helpers/moto-cloudformation.js";
import { motoUnavailableReason, putRelease, startMoto, type Moto } from "../helpers/moto.js";

const motoMissing = motoUnavailableReason();
const REPOSITORY = "hono-ecr-service";
const COMMIT_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const COMMIT_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const REGISTRY = `123456789012.dkr.ecr.${MOTO_REGION}.amazonaws.com`;
const target = serviceTarget("staging", MOTO_REGION);
const options = { timeoutMs: 60_000, checks: 1, url: "http://127.0.0.1:9", severity: "CRITICAL" as const };

describe.skipIf(motoMissing)("deploy against moto (ECS from the staging stack, ECR releases)", () => {
  let moto: Moto;
  let runtime: DeployRuntime;
  let ecs: ECSClient;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    // moto's services report this many running tasks: the stack's service then starts with a COMPLETED deployment.
    moto = await startMoto({ MOTO_ECS_SERVICE_RUNNING: "10" });
    const config = motoClientConfig(moto.url);
    const ecr = new ECRClient(config);
    ecs = new ECSClient(config);
    const send = ecs.send.bind(ecs) as (command: unknown) => Promise<unknown>;
    vi.spyOn(ecs, "send").mockImplementation(((command: unknown) => (command instanceof ListServiceDeploymentsCommand ? Promise.resolve({ serviceDeployments: [] }) : send(command))) as never);
    await ensureRepository(ecr, REPOSITORY, { region: MOTO_REGION, repository: REPOSITORY });
    digests.a = (await putRelease(ecr, REPOSITORY, COMMIT_A, ["linux/amd64", "linux/arm64"])).index;
    digests.b = (await putRelease(ecr, REPOSITORY, COMMIT_B, ["linux/amd64", "linux/arm64"])).index;
    digests.armOnly = (await putRelease(ecr, REPOSITORY, "cccccccccccccccccccccccccccccccccccccccc", ["linux/arm64"])).index;

    const settings = validateEnvironment("staging", ENVIRONMENTS.staging!, { region: MOTO_REGION, ecrRepository: REPOSITORY });
    const stack = new ServiceStack(cdkApp(), serviceStackName("staging"), { settings, env: { region: MOTO_REGION } });
    const { template } = templateForMoto(Template.fromStack(stack).toJSON() as never, motoCloudFormationTypes());
    const created = await createStackInMoto(moto.url, serviceStackName("staging"), template, { ImageDigest: digests.a });
    expect(created.status).toBe("CREATE_COMPLETE");

    runtime = {
      clients: { ecs, elb: new ElasticLoadBalancingV2Client(config), ecr, cloudformation: new CloudFormationClient(config) },
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      log: () => undefined,
      fetch: globalThis.fetch,
      pollMs: 10,
    };
  }, 120_000);
  afterAll(() => moto?.stop());

  const taskDefinitions = async () => (await ecs.send(new ListTaskDefinitionsCommand({}))).taskDefinitionArns ?? [];
  const running = async () => (await ecs.send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }))).services![0]!;

  it("a deploy of the digest the stack runs is a no-op", async () => {
    const before = await taskDefinitions();
    const report = await deployRelease(runtime, target, { digest: digests.a! }, options);
    expect(report).toMatchObject({ unchanged: true, commit: COMMIT_A, image: `${REGISTRY}/${REPOSITORY}@${digests.a}` });
    expect(await taskDefinitions()).toEqual(before);
  });

  it("an image missing in ECR and one without the tasks' architecture are refused before anything is registered", async () => {
    const before = await taskDefinitions();
    const missing = (await deployRelease(runtime, target, { commit: "dddddddddddddddddddddddddddddddddddddddd" }, options).catch((e: unknown) => e)) as DeployError;
    expect(missing.failure).toBe("image-missing");
    // moto keeps no runtime platform from the template: the revision runs X86_64 tasks, and this release is arm64 only.
    const arm = (await deployRelease(runtime, target, { digest: digests.armOnly! }, options).catch((e: unknown) => e)) as DeployError;
    expect(arm.failure).toBe("wrong-architecture");
    expect(arm.message).toContain("has linux/arm64, but staging runs linux/amd64 tasks");
    expect(await taskDefinitions()).toEqual(before);
  });

  it("registers a revision that differs only in the image and the deploy tags, points the service at it, and records what it replaced", async () => {
    const service = await running();
    const current = await describeRevision(runtime.clients, target, service.taskDefinition!);
    const registered = await registerRevisionWithImage(runtime.clients, target, current, `${REGISTRY}/${REPOSITORY}@${digests.b}`, COMMIT_B);
    expect(registered.revision).toBe(current.taskDefinition.revision! + 1);

    const stored = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: registered.taskDefinitionArn!, include: ["TAGS"] }));
    // Everything but what a new revision changes by itself (ARN, number, time) and the image.
    const comparable = (definition: typeof current.taskDefinition) => ({
      ...Object.fromEntries(Object.entries(definition).filter(([key]) => !["taskDefinitionArn", "revision", "registeredAt"].includes(key))),
      containerDefinitions: definition.containerDefinitions!.map((container) => ({ ...container, image: "<image>" })),
    });
    expect(comparable(stored.taskDefinition!)).toEqual(comparable(current.taskDefinition));
    expect(stored.taskDefinition!.containerDefinitions!.map((container) => container.image)).toEqual([`${REGISTRY}/${REPOSITORY}@${digests.b}`]);
    expect(tagValue(stored.tags ?? [], RELEASE_TAG)).toBe(COMMIT_B);
    expect(tagValue(stored.tags ?? [], PREVIOUS_TAG)).toBe(current.taskDefinition.taskDefinitionArn);

    await updateService(runtime.clients, target, registered.taskDefinitionArn!);
    expect((await running()).taskDefinition).toBe(registered.taskDefinitionArn);

    // What rollback goes back to: the revision the new one replaced, recorded on it.
    const recorded = tagValue((await describeRevision(runtime.clients, target, registered.taskDefinitionArn!)).tags, PREVIOUS_TAG)!;
    await updateService(runtime.clients, target, recorded);
    expect((await running()).taskDefinition).toBe(current.taskDefinition.taskDefinitionArn);
  });

  it("rollback of a revision the stack made (no recorded previous one) is refused, naming what to do instead", async () => {
    const error = (await rollbackRelease(runtime, target, options).catch((e: unknown) => e)) as DeployError;
    expect(error.failure).toBe("no-previous");
    expect(error.message).toContain("and no earlier ACTIVE revision of hono-ecr-service-staging ran another release (none is recorded: deploy did not register the running one). Deploy an earlier release instead (--commit=<sha> --allow-older=\"<why>\": deploy refuses an older release without it)");
  });
});
