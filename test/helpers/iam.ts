/** The IAM action an AWS SDK command needs, as the tests derive the roles' lists from the calls the code makes. */

/** `ecr:PutImage` for a PutImageCommand sent by an ECR client (`service` is the IAM prefix: ecr, ecs, elasticloadbalancing). */
export const iamActionOf = (service: string, command: object): string => `${service}:${command.constructor.name.replace(/Command$/, "")}`;

/**
 * Actions AWS checks on the caller besides a call's own. With enhanced scanning, ECR reads the findings from Amazon
 * Inspector as the caller: AWS's ECR user guide, "IAM permissions required for enhanced scanning", lists
 * inspector2:ListFindings and inspector2:ListCoverage for DescribeImageScanFindings. A role has to work whichever
 * scanning the registry uses, so every such call counts them.
 */
export const ALSO_CHECKED: Record<string, string[]> = { "ecr:DescribeImageScanFindings": ["inspector2:ListFindings", "inspector2:ListCoverage"] };

/** Every IAM action one call needs: its own and what AWS checks with it. */
export const iamActionsOf = (service: string, command: object): string[] => {
  const action = iamActionOf(service, command);
  return [action, ...(ALSO_CHECKED[action] ?? [])];
};
