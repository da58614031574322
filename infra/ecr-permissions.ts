/**
 * The ECR permissions each pipeline function needs: the single source for the IAM roles in this stack and for the
 * README's "IAM permissions" table. The API actions are exactly the calls the code makes (test/dagger/iam-actions.test.ts
 * records them while the functions run, and fails when a list and the code drift apart).
 */

/** Registry login: GetAuthorizationToken cannot be scoped to a repository, so it is granted on "*". */
export const LOGIN_ACTIONS = ["ecr:GetAuthorizationToken"];

/** What a registry push of layers and manifests needs (the engine's `publish`, like `docker push`). */
export const PUSH_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"];

/** The ECR API calls `dagger call publish` makes itself: find a release by tag, read its manifests, tag them by digest. */
export const PUBLISH_API_ACTIONS = ["ecr:DescribeImages", "ecr:BatchGetImage", "ecr:PutImage"];

/**
 * What a registry pull of manifests and layers needs (Syft reading the pushed images in `release-sbom`): the pull
 * actions of AWS's managed policy AmazonEC2ContainerRegistryPullOnly besides the login
 * (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonEC2ContainerRegistryPullOnly.html).
 */
export const PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];

/** The ECR API calls `dagger call aws ... release-sbom` makes itself: the release's index by tag, its platform images. */
export const RELEASE_SBOM_API_ACTIONS = ["ecr:DescribeImages", "ecr:BatchGetImage"];

/**
 * `dagger call publish`, on the one repository: push, plus its own API calls; and `release-sbom` (CI's sbom job runs it
 * with the publish role after publish): its API calls and the pull of the images it describes.
 */
export const PUBLISH_ACTIONS = [...new Set([...PUSH_ACTIONS, ...PUBLISH_API_ACTIONS, ...RELEASE_SBOM_API_ACTIONS, ...PULL_ACTIONS])];

/** `dagger call setup-registry` and `dagger call lifecycle-preview` (with and without --offline): one repository. */
export const REGISTRY_ACTIONS = [
  "ecr:DescribeRepositories",
  "ecr:CreateRepository",
  "ecr:PutImageTagMutability",
  "ecr:PutImageScanningConfiguration",
  "ecr:GetLifecyclePolicy",
  "ecr:PutLifecyclePolicy",
  "ecr:StartLifecyclePolicyPreview",
  "ecr:GetLifecyclePolicyPreview",
  "ecr:DescribeImages",
];

/**
 * `setup-registry --signing-profile-arn`: the registry's signing configuration (ECR managed signing), which is
 * registry-wide: no resource-level permissions, granted on "*".
 */
export const REGISTRY_SIGNING_ACTIONS = ["ecr:GetSigningConfiguration", "ecr:PutSigningConfiguration"];

/**
 * ECR managed signing signs with the identity of whoever pushes: the publish role must be allowed to sign payloads with
 * the signing profile (and only that one).
 */
export const SIGN_ON_PUSH_ACTIONS = ["signer:SignPayload"];
