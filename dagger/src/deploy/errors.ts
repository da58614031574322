/** Why a deploy, rollback or status failed: one of the causes `deploy` tells apart, and a message for a person. */
export type DeployFailure =
  | "circuit-breaker"
  | "deployment-alarm"
  | "stopped"
  | "timeout"
  | "image-missing"
  | "wrong-architecture"
  | "in-progress"
  | "not-serving"
  | "no-previous"
  | "not-scanned"
  | "vulnerable"
  | "unsigned"
  | "older";

/** A deploy that did not end with the release serving; `failure` says which cause. */
export class DeployError extends Error {
  override name = "DeployError";
  constructor(
    readonly failure: DeployFailure,
    message: string,
  ) {
    super(message);
  }
}
