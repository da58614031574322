/**
 * Releases only go forward. `deploy` refuses a release that ECR received before the one the environment runs (a re-run
 * of an old workflow run, an old waiting deploy approved late), and, after a `rollback`, the release rolled back from
 * and every older one, until a newer release is deployed: a deploy queued behind a rollback cannot put the bad release
 * back. `--allow-older=<reason>` overrides both, and the report prints the reason.
 *
 * The order is ECR's push time (`imagePushedAt`): CI publishes main's commits one at a time in commit order, and a
 * re-run re-tags the stored image without pushing it again, so its push time stays that of its first publish.
 */
import type { Tag } from "@aws-sdk/client-ecs";
import { DeployError } from "./errors.js";
import { APP_NAME } from "./names.js";

/** The ECS service tag a rollback leaves: `<digest rolled back from>@<its push time, ISO 8601>`. */
export const ROLLED_BACK_FROM_TAG = `${APP_NAME}:rolled-back-from`;

/** An image by digest and when ECR received it (unknown when ECR no longer has it). */
export interface PushedImage {
  digest: string;
  pushedAt?: Date;
}

/** The freeze tag for a rollback away from `from`. */
export function freezeTag(from: PushedImage): Tag {
  return { key: ROLLED_BACK_FROM_TAG, value: `${from.digest}@${from.pushedAt?.toISOString() ?? "unknown"}` };
}

/** The release a rollback left the service frozen against, read from its tags; undefined when there is none. */
export function frozenAgainst(tags: Tag[]): PushedImage | undefined {
  const value = tags.find((tag) => tag.key === ROLLED_BACK_FROM_TAG)?.value;
  if (value === undefined) return undefined;
  const [digest = "", time = ""] = value.split("@");
  const pushedAt = new Date(time);
  return { digest, ...(Number.isNaN(pushedAt.getTime()) ? {} : { pushedAt }) };
}

const when = (image: PushedImage): string => image.pushedAt?.toISOString() ?? "at an unknown time (no longer in ECR)";

/** `a` cannot be shown to have been pushed after `b` (`orEqual`: or at the same time). Unknown times fail closed. */
const notAfter = (a: PushedImage, b: PushedImage, orEqual: boolean): boolean => {
  if (a.pushedAt === undefined || b.pushedAt === undefined) return true;
  return orEqual ? a.pushedAt.getTime() <= b.pushedAt.getTime() : a.pushedAt.getTime() < b.pushedAt.getTime();
};

/** What the order rule decided: the report lines, and whether the deploy, once it serves, lifts the freeze. */
export interface OrderVerdict {
  lines: string[];
  /** Only a release shown newer than the one rolled back from lifts it (never one let through by --allow-older). */
  liftsFreeze: boolean;
}

/**
 * deploy's order rule for `candidate` in `environment`, which runs `running` and may be frozen against `frozen`.
 * Throws DeployError "older" (before anything changes) unless `allowOlder` gives a reason.
 */
export function checkReleaseOrder(environment: string, candidate: PushedImage, running: PushedImage, frozen: PushedImage | undefined, allowOlder: string | undefined): OrderVerdict {
  const problems: string[] = [];
  if (frozen && notAfter(candidate, frozen, true)) {
    problems.push(`${environment} was rolled back from ${frozen.digest} (pushed ${when(frozen)}); ${candidate.digest === frozen.digest ? "this is that release" : `${candidate.digest} was pushed ${when(candidate)}, not after it`}`);
  } else if (candidate.digest !== running.digest && notAfter(candidate, running, false)) {
    problems.push(`${candidate.digest} was pushed ${when(candidate)}, before the release ${environment} runs (${running.digest}, pushed ${when(running)})`);
  }
  const liftsFreeze = frozen !== undefined && !notAfter(candidate, frozen, true);
  if (problems.length === 0) return { lines: liftsFreeze ? [`newer than ${frozen.digest}, which ${environment} was rolled back from: the freeze is lifted once it serves`] : [], liftsFreeze };
  if (allowOlder === undefined) {
    throw new DeployError(
      "older",
      `${problems.join("; ")}. Deploys only move forward: nothing was changed. Go back one release with rollback, or pass --allow-older="<why this release>" to deploy it anyway`,
    );
  }
  return { lines: [`deployed although ${problems.join("; ")}, because: ${allowOlder}`], liftsFreeze };
}

/**
 * rollback's side of the freeze: the revision it would return to must not run the release the environment was rolled
 * back from, or a later one (a stack update can leave such a revision as the newest older one). Throws DeployError "older".
 */
export function checkRollbackTarget(environment: string, target: PushedImage, frozen: PushedImage | undefined): void {
  if (frozen && notAfter(frozen, target, true)) {
    throw new DeployError(
      "older",
      `the rollback target ${target.digest} (pushed ${when(target)}) is the release ${environment} was rolled back from, or later (${frozen.digest}, pushed ${when(frozen)}): nothing was changed. Deploy the release to return to instead: --commit=<sha> --allow-older="<why>"`,
    );
  }
}
