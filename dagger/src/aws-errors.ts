/** Turns AWS SDK errors into one clear line each: what was denied or missing, and what to do about it. */

/** An AWS call that failed; the message is one line meant for the person running the pipeline. */
export class AwsError extends Error {
  override name = "AwsError";
}

/** Where a call was made, for the message. */
export interface CallContext {
  region: string;
  /** The ECR repository the call was about. */
  repository?: string;
  /** Anything else the call was about, e.g. `service "web" in cluster "hono-ecr-service-staging"`. */
  resource?: string;
  /** What to do when the resource does not exist (ECS's ServiceNotFound/ClusterNotFound, ELB's TargetGroupNotFound). */
  whenMissing?: string;
}

/** The services the pipeline calls, by IAM prefix, with the name messages use. */
const SERVICE_NAMES: Record<string, string> = { ecr: "ECR", ecs: "ECS", elasticloadbalancing: "Elastic Load Balancing", cloudformation: "CloudFormation", sts: "STS" };
const CREDENTIAL_ERRORS = new Set(["UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch", "CredentialsProviderError"]);
const THROTTLING_ERRORS = new Set(["ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded", "Throttling"]);
const NOT_FOUND_ERRORS = new Set(["ServiceNotFoundException", "ClusterNotFoundException", "TargetGroupNotFoundException", "LoadBalancerNotFoundException"]);
const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "ECONNRESET", "EAI_AGAIN"]);

/**
 * The one-line error for `error` thrown by `action`, an IAM action name such as `ecr:PutLifecyclePolicy` or
 * `ecs:UpdateService`. AWS's own message is kept at the end; credentials never appear in AWS error messages.
 */
export function translateAwsError(error: unknown, action: string, context: CallContext): AwsError {
  const err = error as { name?: string; message?: string; code?: string; $metadata?: { attempts?: number } };
  const name = err?.name ?? "Error";
  const said = (err?.message ?? String(error)).split("\n")[0];
  const [prefix = ""] = action.split(":");
  const service = SERVICE_NAMES[prefix] ?? "AWS";
  const about = context.repository ? ` on repository "${context.repository}"` : context.resource ? ` on ${context.resource}` : "";
  const where = `${about} in ${context.region}`;
  if (name === "AccessDeniedException" || name === "AccessDenied") {
    // A call can need another service's action too (DescribeImageScanFindings with enhanced scanning needs
    // inspector2:ListFindings): AWS's message names the action it denied; that is the one to grant.
    const denied = /not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9*]+)/.exec(said ?? "")?.[1];
    if (denied && denied !== action) {
      return new AwsError(`AWS denied ${denied} (needed by ${action})${where}: grant ${denied} to the IAM role or user (README, "IAM permissions"). AWS said: ${said}`);
    }
    return new AwsError(`AWS denied ${action}${where}: grant ${action} to the IAM role or user (README, "IAM permissions"). AWS said: ${said}`);
  }
  if (name === "RepositoryNotFoundException") {
    return new AwsError(`ECR repository "${context.repository ?? "?"}" does not exist in ${context.region}: create it once with \`dagger call setup-registry\` (README, "Publishing to ECR")`);
  }
  if (NOT_FOUND_ERRORS.has(name)) return new AwsError(`${service} found no ${context.resource ?? "such resource"} in ${context.region} (${name})${context.whenMissing ? `: ${context.whenMissing}` : ""}. AWS said: ${said}`);
  if (CREDENTIAL_ERRORS.has(name)) {
    return new AwsError(`AWS rejected the credentials for ${action} (${name}): check the access key, secret and session token; OIDC sessions expire after an hour. AWS said: ${said}`);
  }
  if (THROTTLING_ERRORS.has(name)) {
    return new AwsError(`${service} throttled ${action}${where} and ${err.$metadata?.attempts ?? "all"} attempts were used up: retry later`);
  }
  if (name === "LimitExceededException") return new AwsError(`${service} limit reached by ${action}${where}: ${said}`);
  if (name === "InvalidParameterException" || name === "ValidationError") return new AwsError(`${service} rejected a parameter of ${action}${where}: ${said}`);
  if (err?.code && NETWORK_CODES.has(err.code)) return new AwsError(`could not reach ${service} for ${action}${where} (${err.code}): check the region and the network`);
  return new AwsError(`${action}${where} failed (${name}): ${said}`);
}

/** Runs one AWS call, turning its failure into the one-line error for `action`. */
export async function awsCall<T>(action: string, context: CallContext, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw translateAwsError(error, action, context);
  }
}
