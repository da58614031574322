// What moto cannot do: lifecycle previews and access denied (aws-sdk-client-mock, a mocked client), and throttling
// (the SDK's real retry loop against a loopback server that answers ThrottlingException).
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetLifecyclePolicyCommand,
  GetLifecyclePolicyPreviewCommand,
  GetSigningConfigurationCommand,
  PutLifecyclePolicyCommand,
  PutSigningConfigurationCommand,
  StartLifecyclePolicyPreviewCommand,
} from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { releaseLifecyclePolicy, policyText } from "../../dagger/src/ecr/lifecycle.js";
import { applySigningConfiguration, createEcrClient, ensureRepository, getRegistryAuth, MAX_ATTEMPTS, previewLifecyclePolicy, validateSigningProfileArn } from "../../dagger/src/ecr/registry.js";
import { REGISTRY_SIGNING_ACTIONS } from "../../infra/ecr-permissions.js";
import { FAKE_CREDENTIALS } from "../helpers/moto.js";
import { runPlan } from "../helpers/plan.js";
import { credentials } from "../helpers/publish.js";
import { iamActionOf } from "../helpers/iam.js";

const context = { region: "eu-west-1", repository: "shop" };
const fast = { pollMs: 1, timeoutMs: 1000 };
const ecrMock = mockClient(ECRClient);
afterEach(() => ecrMock.reset());

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: {} });

describe("lifecycle preview (mocked client)", () => {
  it("starts a preview with the policy, waits for COMPLETE and reads every page", async () => {
    const policy = releaseLifecyclePolicy(1);
    ecrMock.on(StartLifecyclePolicyPreviewCommand).resolves({ status: "IN_PROGRESS" });
    ecrMock
      .on(GetLifecyclePolicyPreviewCommand)
      .resolvesOnce({ status: "IN_PROGRESS" })
      .resolvesOnce({ status: "COMPLETE", previewResults: [{ imageDigest: "sha256:a", imageTags: ["old"], appliedRulePriority: 2, action: { type: "EXPIRE" } }], nextToken: "page2" })
      .resolvesOnce({ status: "COMPLETE", previewResults: [{ imageDigest: "sha256:b", appliedRulePriority: 1, action: { type: "EXPIRE" } }] });
    const results = await previewLifecyclePolicy(createEcrClient("eu-west-1", FAKE_CREDENTIALS), "shop", policy, context, fast);
    expect(results.map((r) => r.imageDigest)).toEqual(["sha256:a", "sha256:b"]);
    expect(ecrMock.commandCalls(StartLifecyclePolicyPreviewCommand)[0]!.args[0].input).toEqual({ repositoryName: "shop", lifecyclePolicyText: policyText(policy) });
    expect(ecrMock.commandCalls(GetLifecyclePolicyPreviewCommand).map((c) => c.args[0].input.nextToken)).toEqual([undefined, undefined, "page2"]);
  });

  it("reports a failed preview", async () => {
    ecrMock.on(StartLifecyclePolicyPreviewCommand).resolves({});
    ecrMock.on(GetLifecyclePolicyPreviewCommand).resolves({ status: "FAILED" });
    await expect(previewLifecyclePolicy(createEcrClient("eu-west-1", FAKE_CREDENTIALS), "shop", releaseLifecyclePolicy(), context, fast)).rejects.toThrow(
      'lifecycle policy preview failed for repository "shop" in eu-west-1',
    );
  });

  it("gives up after the timeout", async () => {
    ecrMock.on(StartLifecyclePolicyPreviewCommand).resolves({});
    ecrMock.on(GetLifecyclePolicyPreviewCommand).resolves({ status: "IN_PROGRESS" });
    await expect(previewLifecyclePolicy(createEcrClient("eu-west-1", FAKE_CREDENTIALS), "shop", releaseLifecyclePolicy(), context, { pollMs: 5, timeoutMs: 30 })).rejects.toThrow(
      'lifecycle policy preview for repository "shop" did not complete within 0.03 s',
    );
  });
});

describe("access denied (mocked client)", () => {
  it("names the denied action and the permission, and stops before any later call", async () => {
    ecrMock.on(DescribeRepositoriesCommand).rejects(awsError("RepositoryNotFoundException", "not found"));
    ecrMock.on(CreateRepositoryCommand).rejects(awsError("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/publish is not authorized to perform: ecr:CreateRepository"));
    await expect(ensureRepository(createEcrClient("eu-west-1", FAKE_CREDENTIALS), "shop", context)).rejects.toThrow(
      'AWS denied ecr:CreateRepository on repository "shop" in eu-west-1: grant ecr:CreateRepository to the IAM role or user',
    );
    expect(ecrMock.calls()).toHaveLength(2);
  });
});

describe("setup-registry stopped part-way (mocked client)", () => {
  it("says what it already changed and what is left, so that a re-run can converge", async () => {
    ecrMock.on(DescribeRepositoriesCommand).rejects(awsError("RepositoryNotFoundException", "not found"));
    ecrMock.on(CreateRepositoryCommand).resolves({ repository: { repositoryUri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop" } });
    ecrMock.on(GetLifecyclePolicyCommand).rejects(awsError("LifecyclePolicyNotFoundException", "no policy"));
    ecrMock.on(PutLifecyclePolicyCommand).rejects(awsError("AccessDeniedException", "not authorized to perform: ecr:PutLifecyclePolicy"));
    const run = await runPlan(async (pipeline) => {
      const { accessKeyId, secretAccessKey, sessionToken } = credentials();
      return pipeline.aws("eu-west-1", accessKeyId, secretAccessKey, sessionToken).setupRegistry("shop", 5);
    });
    expect(run.error?.message).toBe(
      'AWS denied ecr:PutLifecyclePolicy on repository "shop" in eu-west-1: grant ecr:PutLifecyclePolicy to the IAM role or user (README, "IAM permissions"). ' +
        "AWS said: not authorized to perform: ecr:PutLifecyclePolicy\n" +
        "setup-registry stopped part-way. Already changed: repository shop created with its settings. " +
        "Not done: the steps after that (repository settings, the lifecycle policy, then signing). Fix the cause and run it again: each step checks before it changes anything.",
    );
  });
});

describe("throttling (real SDK retries against a loopback server)", () => {
  async function throttlingServer(throttledRequests: number) {
    let requests = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        requests += 1;
        if (requests <= throttledRequests) {
          res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "ThrottlingException" }).end(JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded" }));
          return;
        }
        const token = Buffer.from("AWS:pw").toString("base64");
        res
          .writeHead(200, { "content-type": "application/x-amz-json-1.1" })
          .end(JSON.stringify({ authorizationData: [{ authorizationToken: token, proxyEndpoint: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", expiresAt: 1_900_000_000 }] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = new ECRClient({
      region: "eu-west-1",
      credentials: FAKE_CREDENTIALS,
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      maxAttempts: MAX_ATTEMPTS,
    });
    return { client, requests: () => requests, close: () => server.close() };
  }

  it("retries throttled calls and succeeds when the throttling stops", async () => {
    ecrMock.restore();
    const server = await throttlingServer(2);
    try {
      const auth = await getRegistryAuth(server.client, { region: "eu-west-1" });
      expect(auth.password).toBe("pw");
      expect(server.requests()).toBe(3);
    } finally {
      server.close();
    }
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts with one clear line`, async () => {
    ecrMock.restore();
    const server = await throttlingServer(1000);
    try {
      await expect(getRegistryAuth(server.client, { region: "eu-west-1" })).rejects.toThrow(
        `ECR throttled ecr:GetAuthorizationToken in eu-west-1 and ${MAX_ATTEMPTS} attempts were used up: retry later`,
      );
      expect(server.requests()).toBe(MAX_ATTEMPTS);
    } finally {
      server.close();
    }
  });

  it("the pipeline's client is configured with that many attempts", async () => {
    expect(await createEcrClient("eu-west-1", FAKE_CREDENTIALS).config.maxAttempts()).toBe(MAX_ATTEMPTS);
  });
});

describe("signing configuration (mocked client: moto has no managed signing)", () => {
  const PROFILE = "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/hono_ecr_service";
  const OTHER = { signingProfileArn: "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/other", repositoryFilters: [{ filter: "other/*", filterType: "WILDCARD_MATCH" as const }] };
  const ours = { signingProfileArn: PROFILE, repositoryFilters: [{ filter: "shop", filterType: "WILDCARD_MATCH" as const }] };
  const client = () => createEcrClient("eu-west-1", FAKE_CREDENTIALS);

  it("adds this repository's rule to the registry's, keeping the other repositories' rules", async () => {
    ecrMock.on(GetSigningConfigurationCommand).resolves({ signingConfiguration: { rules: [OTHER] } });
    ecrMock.on(PutSigningConfigurationCommand).resolves({});
    expect(await applySigningConfiguration(client(), "shop", PROFILE, context)).toBe("created");
    expect(ecrMock.commandCalls(PutSigningConfigurationCommand)[0]!.args[0].input).toEqual({ signingConfiguration: { rules: [OTHER, ours] } });
  });

  it("changes nothing when the rule is there, and replaces only its profile when it differs", async () => {
    ecrMock.on(GetSigningConfigurationCommand).resolves({ signingConfiguration: { rules: [OTHER, ours] } });
    expect(await applySigningConfiguration(client(), "shop", PROFILE, context)).toBe("unchanged");
    expect(ecrMock.commandCalls(PutSigningConfigurationCommand)).toHaveLength(0);
    const newer = PROFILE.replace("hono_ecr_service", "hono_ecr_service_2027");
    ecrMock.on(PutSigningConfigurationCommand).resolves({});
    expect(await applySigningConfiguration(client(), "shop", newer, context)).toBe("updated");
    expect(ecrMock.commandCalls(PutSigningConfigurationCommand)[0]!.args[0].input.signingConfiguration!.rules).toEqual([OTHER, { ...ours, signingProfileArn: newer }]);
  });

  it("creates the configuration when the registry has none, calling exactly REGISTRY_SIGNING_ACTIONS", async () => {
    ecrMock.on(GetSigningConfigurationCommand).rejects(awsError("SigningConfigurationNotFoundException", "none"));
    ecrMock.on(PutSigningConfigurationCommand).resolves({});
    expect(await applySigningConfiguration(client(), "shop", PROFILE, context)).toBe("created");
    expect(ecrMock.calls().map((call) => iamActionOf("ecr", call.args[0]))).toEqual(REGISTRY_SIGNING_ACTIONS);
  });

  it("refuses a profile ARN that is not a signing profile, before any call", () => {
    expect(() => validateSigningProfileArn("arn:aws:iam::123456789012:role/x")).toThrow('--signing-profile-arn="arn:aws:iam::123456789012:role/x" is invalid: expected arn:aws:signer:<region>:<account>:/signing-profiles/<name>');
    expect(ecrMock.calls()).toHaveLength(0);
  });
});
