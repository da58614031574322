/**
 * moto's ECR API emulator (`python3 -m moto.server`), started on a free loopback port for one test file.
 * It implements the ECR API calls the pipeline makes, except lifecycle previews and the Docker registry itself.
 * Without moto the ECR integration tests are skipped, unless REQUIRE_MOTO=1 (set by .ci/run), which makes them fail.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { DescribeRepositoriesCommand, PutImageCommand, PutImageTagMutabilityCommand, type ECRClient } from "@aws-sdk/client-ecr";
import { createHash } from "node:crypto";
import net from "node:net";

export interface Moto {
  url: string;
  /** Clears every repository and policy (POST /moto-api/reset). */
  reset: () => Promise<void>;
  stop: () => void;
}

/** Why moto cannot run here, or undefined when it can. */
export function motoUnavailableReason(): string | undefined {
  const probe = spawnSync("python3", ["-c", "import moto, flask; print(moto.__version__)"], { encoding: "utf8" });
  if (probe.status === 0) return undefined;
  const reason = `moto (python3 -m moto.server) is not installed: ${(probe.stderr || String(probe.error)).trim().split("\n").pop()}`;
  if (process.env.REQUIRE_MOTO === "1") throw new Error(`REQUIRE_MOTO=1 but ${reason}`);
  return reason;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts moto and waits until it answers; points the AWS SDK's ECR client at it through AWS_ENDPOINT_URL_ECR.
 * `env` is moto's own configuration (e.g. MOTO_ECS_SERVICE_RUNNING: how many tasks its ECS services report running).
 */
export async function startMoto(env: Record<string, string> = {}): Promise<Moto> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/moto-api/reset`, { method: "POST" })).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`moto did not start on ${url}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  process.env.AWS_ENDPOINT_URL_ECR = url;
  return {
    url,
    reset: async () => void (await fetch(`${url}/moto-api/reset`, { method: "POST" })),
    stop: () => {
      delete process.env.AWS_ENDPOINT_URL_ECR;
      child.kill();
    },
  };
}

/** Credentials moto accepts (any will do); never real ones. */
export const FAKE_CREDENTIALS = { accessKeyId: "AKIAFAKEFAKEFAKEFAKE", secretAccessKey: "fake-secret-access-key-for-tests" };

const sha256 = (text: string): string => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/**
 * Puts a manifest into the emulator's `repository` with its real digest, tagged or (like a pushed platform image) not.
 * moto 5.2.1 answers HTTP 500 to an untagged put into a repository with tag mutability exclusion filters (it matches the
 * filters against a missing tag), so for an untagged put the filters are lifted around the call and restored after it.
 */
async function putManifest(client: ECRClient, repository: string, manifest: string, tag?: string): Promise<string> {
  const digest = sha256(manifest);
  const put = () => client.send(new PutImageCommand({ repositoryName: repository, imageManifest: manifest, imageDigest: digest, ...(tag ? { imageTag: tag } : {}) }));
  if (tag) {
    await put();
    return digest;
  }
  const [settings] = (await client.send(new DescribeRepositoriesCommand({ repositoryNames: [repository] }))).repositories ?? [];
  await client.send(new PutImageTagMutabilityCommand({ repositoryName: repository, imageTagMutability: "MUTABLE" }));
  try {
    await put();
  } finally {
    await client.send(
      new PutImageTagMutabilityCommand({
        repositoryName: repository,
        imageTagMutability: settings?.imageTagMutability ?? "MUTABLE",
        ...(settings?.imageTagMutabilityExclusionFilters?.length ? { imageTagMutabilityExclusionFilters: settings.imageTagMutabilityExclusionFilters } : {}),
      }),
    );
  }
  return digest;
}

/** Puts a minimal single-platform image manifest under `tag` (moto has no registry to push to); resolves with its digest. */
export async function putTestImage(client: ECRClient, repository: string, tag: string): Promise<string> {
  return putManifest(client, repository, imageManifest(`single ${tag}`), tag);
}

/** A minimal OCI image manifest whose one layer is named after `seed`, so that different seeds give different digests. */
function imageManifest(seed: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(`config ${seed}`), size: 1 },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(`layer ${seed}`), size: 1 }],
  });
}

/**
 * Puts a release as a registry push leaves it: one untagged image per platform, then the image index that lists them,
 * tagged `tag`. Resolves with the index digest and the platform images' digests (in the order of `platforms`).
 */
export async function putRelease(client: ECRClient, repository: string, tag: string, platforms: string[]): Promise<{ index: string; platformImages: string[] }> {
  const platformImages: string[] = [];
  const entries = [];
  for (const platform of platforms) {
    const manifest = imageManifest(`${tag} ${platform}`);
    const digest = await putManifest(client, repository, manifest);
    platformImages.push(digest);
    const [os, architecture] = platform.split("/");
    entries.push({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: manifest.length, platform: { os, architecture } });
  }
  const index = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: entries });
  return { index: await putManifest(client, repository, index, tag), platformImages };
}
