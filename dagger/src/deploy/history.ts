/**
 * What ran before, when the revision running was not registered by deploy: `cdk deploy --parameters ImageDigest=...`
 * registers a revision without the release and previous-revision tags. Its release is then read from ECR (the tags of
 * the image its digest names), and rollback falls back to the newest older ACTIVE revision of the family that ran a
 * release (ECS API reference: ListTaskDefinitions with familyPrefix, status ACTIVE, sort DESC, nextToken).
 */
import { ListTaskDefinitionsCommand } from "@aws-sdk/client-ecs";
import { awsCall } from "../aws-errors.js";
import { describeImage } from "../ecr/registry.js";
import { releaseTagOf } from "../ecr/release-tags.js";
import { containerImage, describeRevision, parseImage, PREVIOUS_TAG, RELEASE_TAG, tagValue, type DeployClients, type Revision, type ServiceTarget } from "./ecs.js";
import { DeployError } from "./errors.js";

/** Older revisions looked at, at most, for a rollback target (each costs a DescribeTaskDefinition and a DescribeImages). */
export const MAX_REVISIONS_SCANNED = 20;

/** The release (commit) a revision runs: its release tag, else the release tag ECR has on the image its digest names. */
export async function releaseOfRevision(clients: DeployClients, target: ServiceTarget, revision: Revision): Promise<string | undefined> {
  const tagged = tagValue(revision.tags, RELEASE_TAG);
  if (tagged) return tagged;
  const { repository, digest } = parseImage(containerImage(revision.taskDefinition, target.container));
  if (!digest) return undefined;
  const detail = await describeImage(clients.ecr, repository, { imageDigest: digest }, { region: target.region, repository });
  return releaseTagOf(detail?.imageTags ?? []);
}

/** A rollback target: the revision, its image by digest, and how it was found. */
export interface PreviousRevision {
  revision: Revision;
  image: { registry: string; repository: string; digest: string };
  how: string;
}

/** The family's ACTIVE revisions older than `revision`, newest first (every page of ListTaskDefinitions, at most MAX_REVISIONS_SCANNED). */
async function olderActiveRevisions(clients: DeployClients, target: ServiceTarget, running: Revision): Promise<string[]> {
  const family = running.taskDefinition.family!;
  const number = running.taskDefinition.revision ?? Number(running.taskDefinition.taskDefinitionArn?.split(":").pop());
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const token = nextToken;
    const page = await awsCall("ecs:ListTaskDefinitions", { region: target.region, resource: `task definition family "${family}"` }, () =>
      clients.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: "ACTIVE", sort: "DESC", ...(token ? { nextToken: token } : {}) })),
    );
    arns.push(...(page?.taskDefinitionArns ?? []).filter((arn) => arn.split(":").slice(0, -1).join(":").endsWith(`/${family}`) && Number(arn.split(":").pop()) < number));
    nextToken = arns.length >= MAX_REVISIONS_SCANNED ? undefined : page?.nextToken;
  } while (nextToken);
  return arns.slice(0, MAX_REVISIONS_SCANNED);
}

/**
 * The revision rollback goes back to: the one the running revision records it replaced, when that is ACTIVE; else the
 * newest older ACTIVE revision that names another image by digest and ran a release (its release tag, or ECR's tag on its
 * digest). Nothing found fails with `no-previous`.
 */
export async function previousRevision(clients: DeployClients, target: ServiceTarget, running: Revision): Promise<PreviousRevision> {
  const runningArn = running.taskDefinition.taskDefinitionArn!;
  const runningDigest = parseImage(containerImage(running.taskDefinition, target.container)).digest;
  const recordedArn = tagValue(running.tags, PREVIOUS_TAG);
  const usable = (revision: Revision) => {
    const image = parseImage(containerImage(revision.taskDefinition, target.container));
    return revision.taskDefinition.status === "ACTIVE" && image.digest && image.digest !== runningDigest ? { ...image, digest: image.digest } : undefined;
  };
  let skipped = "";
  if (recordedArn) {
    const recorded = await describeRevision(clients, target, recordedArn);
    const image = usable(recorded);
    if (image) return { revision: recorded, image, how: "the revision the running one replaced, recorded by deploy" };
    skipped = `; the recorded previous revision ${recordedArn} is ${recorded.taskDefinition.status} or names no other image by digest`;
  }
  for (const arn of await olderActiveRevisions(clients, target, running)) {
    const candidate = await describeRevision(clients, target, arn);
    const image = usable(candidate);
    if (image && (await releaseOfRevision(clients, target, candidate))) return { revision: candidate, image, how: `the newest older ACTIVE revision that ran a release${skipped ? " (none recorded usable)" : " (none recorded: a stack update registered the running one)"}` };
  }
  throw new DeployError(
    "no-previous",
    `${target.environment} runs ${runningArn}, and no earlier ACTIVE revision of ${running.taskDefinition.family} ran another release${skipped || " (none is recorded: deploy did not register the running one)"}. Deploy an earlier release instead (--commit=<sha> --allow-older="<why>": deploy refuses an older release without it)`,
  );
}
