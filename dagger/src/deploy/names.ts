/**
 * What the runtime stack (infra/service-stack.ts) names its resources, so `deploy` finds an environment's service from
 * the environment's name alone. One definition, read by both the stack and the pipeline.
 */

/** The application's name: prefix of every environment's cluster, stack and metric namespace. */
export const APP_NAME = "hono-ecr-service";

/** The ECS service's name inside its environment's cluster. */
export const ECS_SERVICE_NAME = "web";

/** The name of the container in the task definition (the one `deploy` swaps the image of). */
export const CONTAINER_NAME = "service";

/** Environment names: lower-case letters, digits and '-', starting with a letter (they become parts of AWS names). */
export const ENVIRONMENT_NAME_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;

/** The ECS cluster of `environment`. */
export function clusterName(environment: string): string {
  return `${APP_NAME}-${environment}`;
}

/** The CloudFormation stack of `environment`. */
export function serviceStackName(environment: string): string {
  return `HonoService-${environment}`;
}

/** The task definition family of `environment` (deploy registers its revisions; the deploy role may tag only these). */
export function taskFamily(environment: string): string {
  return `${APP_NAME}-${environment}`;
}

/** The IAM roles of `environment`'s tasks, named so the deploy role can be allowed to pass exactly these two. */
export function taskRoleName(environment: string): string {
  return `${APP_NAME}-${environment}-task`;
}
export function executionRoleName(environment: string): string {
  return `${APP_NAME}-${environment}-execution`;
}
