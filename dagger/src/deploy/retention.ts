/**
 * Deploy-aware retention: ECR's lifecycle policy knows nothing of ECS, so `deploy` and `rollback` tag what an
 * environment runs (`deployed-<env>`) and what it would roll back to (`rollback-<env>`), on the index and each platform
 * image (`deployed-<env>-linux-arm64`), and the policy keeps those first, whatever their age (../ecr/lifecycle.ts).
 * The tags are mutable (tag mutability exclusion filters) and move the way `latest` does: BatchGetImage reads the
 * stored manifest, PutImage puts the tag on it (ECR API reference, PutImage; ECR User Guide, "Retagging an image").
 *
 * During a rollout both ends are tagged (the revision ECS moves to and the one it would roll back to), so whatever the
 * outcome the image the service runs is kept; once ECS has rolled a release back, the tags follow what runs again.
 */
import { tagRelease } from "../ecr/registry.js";
import { environmentTag } from "../ecr/release-tags.js";
import { containerImage, describeRevision, PREVIOUS_TAG, tagValue, type DeployClients, type Revision, type ServiceTarget } from "./ecs.js";

/** The digests to tag: what the environment runs (or moves to), and what it would roll back to. */
export interface EnvironmentMarks {
  deployed?: string;
  rollback?: string;
}

/** The digest an image reference names (`...@sha256:...`), if it names one. */
export function digestOf(image: string): string | undefined {
  return /@(sha256:[a-f0-9]{64})$/.exec(image)?.[1];
}

/** Moves `deployed-<env>` and `rollback-<env>` (with their platform tags) onto the given digests in `repository`. */
export async function markEnvironment(clients: DeployClients, target: ServiceTarget, repository: string, marks: EnvironmentMarks, log: (line: string) => void): Promise<void> {
  const context = { region: target.region, repository };
  for (const kind of ["deployed", "rollback"] as const) {
    const digest = marks[kind];
    if (digest === undefined) continue;
    const tag = environmentTag(kind, target.environment);
    await tagRelease(clients.ecr, repository, digest, [tag], context);
    log(`${target.environment}: ECR tag ${tag} -> ${digest} (kept by the lifecycle policy, whatever its age)`);
  }
}

/**
 * The marks that follow from the revision the service runs: its image, and the image of the revision it replaced
 * (recorded by deploy) when that revision is still ACTIVE and names its image by digest.
 */
export async function marksOf(clients: DeployClients, target: ServiceTarget, running: Revision): Promise<EnvironmentMarks> {
  const deployed = digestOf(containerImage(running.taskDefinition, target.container));
  const previousArn = tagValue(running.tags, PREVIOUS_TAG);
  let rollback: string | undefined;
  if (previousArn) {
    const previous = await describeRevision(clients, target, previousArn);
    if (previous.taskDefinition.status === "ACTIVE") rollback = digestOf(containerImage(previous.taskDefinition, target.container));
  }
  return { ...(deployed ? { deployed } : {}), ...(rollback ? { rollback } : {}) };
}
