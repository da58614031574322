/**
 * The ECR permissions each pipeline function needs: the single source for the IAM roles in this stack
 * and for the README's "IAM permissions" table.
 */

/** Registry login: GetAuthorizationToken cannot be scoped to a repository, so it is granted on "*". */
export const LOGIN_ACTIONS = ["ecr:GetAuthorizationToken"];

/** `dagger call publish`: push layers and manifests to one repository, and read back digests. */
export const PUBLISH_ACTIONS = [
  "ecr:BatchCheckLayerAvailability",
  "ecr:InitiateLayerUpload",
  "ecr:UploadLayerPart",
  "ecr:CompleteLayerUpload",
  "ecr:PutImage",
  "ecr:BatchGetImage",
  "ecr:DescribeRepositories",
  "ecr:DescribeImages",
];

/** `dagger call setup-registry` and `dagger call lifecycle-preview`: create and configure one repository. */
export const REGISTRY_ACTIONS = [
  "ecr:CreateRepository",
  "ecr:DescribeRepositories",
  "ecr:PutImageTagMutability",
  "ecr:PutImageScanningConfiguration",
  "ecr:GetLifecyclePolicy",
  "ecr:PutLifecyclePolicy",
  "ecr:StartLifecyclePolicyPreview",
  "ecr:GetLifecyclePolicyPreview",
];
