/** Turns AWS SDK errors into one clear line each: what was denied or missing, and what to do about it. */

/** An ECR call that failed; the message is one line meant for the person running the pipeline. */
export class EcrError extends Error {
  override name = "EcrError";
}

/** Where a call was made, for the message. */
export interface CallContext {
  region: string;
  repository?: string;
}

const CREDENTIAL_ERRORS = new Set(["UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch", "CredentialsProviderError"]);
const THROTTLING_ERRORS = new Set(["ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded"]);
const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "ECONNRESET", "EAI_AGAIN"]);

/**
 * The one-line error for `error` thrown by the ECR action `action` (e.g. "PutLifecyclePolicy").
 * AWS's own message is kept at the end; credentials never appear in AWS error messages.
 */
export function translateAwsError(error: unknown, action: string, context: CallContext): EcrError {
  const err = error as { name?: string; message?: string; code?: string; $metadata?: { attempts?: number } };
  const name = err?.name ?? "Error";
  const said = (err?.message ?? String(error)).split("\n")[0];
  const repo = context.repository ? ` on repository "${context.repository}"` : "";
  const where = `${repo} in ${context.region}`;
  if (name === "AccessDeniedException" || name === "AccessDenied") {
    return new EcrError(`AWS denied ecr:${action}${where}: grant ecr:${action} to the IAM role or user (README, "IAM permissions"). AWS said: ${said}`);
  }
  if (name === "RepositoryNotFoundException") {
    return new EcrError(`ECR repository "${context.repository ?? "?"}" does not exist in ${context.region}: create it once with \`dagger call setup-registry\` (README, "Publishing to ECR")`);
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return new EcrError(`AWS rejected the credentials for ecr:${action} (${name}): check the access key, secret and session token; OIDC sessions expire after an hour. AWS said: ${said}`);
  }
  if (THROTTLING_ERRORS.has(name)) {
    return new EcrError(`ECR throttled ecr:${action}${where} and ${err.$metadata?.attempts ?? "all"} attempts were used up: retry later`);
  }
  if (name === "LimitExceededException") return new EcrError(`ECR limit reached by ecr:${action}${where}: ${said}`);
  if (name === "InvalidParameterException") return new EcrError(`ECR rejected a parameter of ecr:${action}${where}: ${said}`);
  if (err?.code && NETWORK_CODES.has(err.code)) return new EcrError(`could not reach ECR for ecr:${action}${where} (${err.code}): check the region and the network`);
  return new EcrError(`ecr:${action}${where} failed (${name}): ${said}`);
}
