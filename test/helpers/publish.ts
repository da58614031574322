/** Running publish and the registry functions against the fake engine, with moto behind the ECR calls. */
import { dag } from "@dagger.io/dagger";
import { createEcrClient } from "../../dagger/src/ecr/registry.js";
import type { Pipeline } from "../../dagger/src/index.js";
import type { Answer, Step } from "./fake-engine.js";
import { FAKE_CREDENTIALS, putRelease } from "./moto.js";
import { answerNonRootUid } from "./plan.js";
import { answerSupplyChain, type SupplyChainAnswers } from "./supply-chain.js";

export const KEY_ID = "AKIAPLANTESTKEYID000";
export const SECRET_KEY = "plan-test-secret-access-key-0123456789";
export const SESSION = "plan-test-session-token-abcdef";
export const COMMIT = "0123456789abcdef0123456789abcdef01234567";
export const OLDER = "fedcba9876543210fedcba9876543210fedcba98";
export const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
export const ECR_PASSWORD = "123456789012-auth-token";
export const REPOSITORY = "team/shop";
/** Clients the tests themselves use (to set up and read moto), told apart from the pipeline's own in recorded calls. */
export const TEST_CLIENTS = new WeakSet<object>();
/** An ECR client for the tests' own calls to moto. */
export const client = () => {
  const created = createEcrClient("eu-west-1", FAKE_CREDENTIALS);
  TEST_CLIENTS.add(created);
  return created;
};

/** The AWS credentials as Dagger secrets, as `--access-key-id=env://...` would give them. */
export const credentials = () => ({
  accessKeyId: dag.setSecret("aws-access-key-id", KEY_ID),
  secretAccessKey: dag.setSecret("aws-secret-access-key", SECRET_KEY),
  sessionToken: dag.setSecret("aws-session-token", SESSION),
});

export interface PublishArgs {
  region?: string;
  repository?: string;
  commit?: string;
  allowDirty?: boolean;
  tags?: string[];
  platforms?: string[];
}

export function publish(pipeline: Pipeline, args: PublishArgs = {}) {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials();
  return pipeline.aws(args.region ?? "eu-west-1", accessKeyId, secretAccessKey, sessionToken).publish(
    args.repository ?? REPOSITORY,
    dag.git("https://github.com/acme/shop.git"),
    args.commit,
    args.allowDirty ?? false,
    1770091506,
    args.tags,
    args.platforms as never,
  );
}

/** The checkout the git argument stands for: its HEAD commit and its uncommitted changes. */
export interface Checkout {
  head: string;
  changed?: string[];
}

/**
 * Answers what publish asks the engine: the checkout, the non-root uid probe, the supply-chain stages (fixtures), and
 * `publish`, by storing the release in moto as a registry push would (platform images untagged, the index tagged) and
 * answering with the index digest.
 */
export function engineFor(checkout: Checkout, platforms: string[] = ["linux/amd64", "linux/arm64"], supplyChain: SupplyChainAnswers = {}) {
  const supply = answerSupplyChain(supplyChain);
  return async (chain: Step[]): Promise<Answer | undefined> => {
    const leaf = chain.at(-1)!;
    const answered = supply(chain);
    if (answered) return answered;
    if (chain[0]?.field === "git") {
      if (leaf.field === "commit") return { value: checkout.head };
      if (leaf.field === "isEmpty") return { value: (checkout.changed ?? []).length === 0 };
      if (leaf.field === "modifiedPaths") return { value: checkout.changed ?? [] };
      if (leaf.field === "addedPaths" || leaf.field === "removedPaths") return { value: [] };
      if (leaf.field === "contents") return { value: `diff --git ${(checkout.changed ?? []).join(" ")}` };
    }
    if (leaf.field === "publish") {
      const address = String(leaf.args.address);
      const tag = address.slice(address.lastIndexOf(":") + 1);
      const { index } = await putRelease(client(), REPOSITORY, tag, platforms);
      return { value: `${address}@${index}` };
    }
    return answerNonRootUid(chain);
  };
}

