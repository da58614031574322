/** The IAM action an AWS SDK command needs, as the tests derive the roles' lists from the calls the code makes. */

/** `ecr:PutImage` for a PutImageCommand sent by an ECR client (`service` is the IAM prefix: ecr, ecs, elasticloadbalancing). */
export const iamActionOf = (service: string, command: object): string => `${service}:${command.constructor.name.replace(/Command$/, "")}`;
