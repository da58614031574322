import { describe, expect, it } from "vitest";
import { AwsError, translateAwsError } from "../../dagger/src/aws-errors.js";
import { decodeAuthorizationToken, hostFromProxyEndpoint } from "../../dagger/src/ecr/registry.js";
import { isMutableTag, platformOfTag, platformTag } from "../../dagger/src/ecr/release-tags.js";

const awsError = (name: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { name, ...extra });
const context = { region: "eu-west-1", repository: "shop" };

describe("translateAwsError", () => {
  it("access denied names the action and the IAM permission to grant", () => {
    const error = translateAwsError(awsError("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/ci is not authorized to perform: ecr:PutLifecyclePolicy"), "ecr:PutLifecyclePolicy", context);
    expect(error).toBeInstanceOf(AwsError);
    expect(error.message).toBe(
      'AWS denied ecr:PutLifecyclePolicy on repository "shop" in eu-west-1: grant ecr:PutLifecyclePolicy to the IAM role or user (README, "IAM permissions"). ' +
        "AWS said: User: arn:aws:sts::123456789012:assumed-role/ci is not authorized to perform: ecr:PutLifecyclePolicy",
    );
  });
  it("a missing repository points at setup-registry", () => {
    expect(translateAwsError(awsError("RepositoryNotFoundException", "The repository with name 'shop' does not exist"), "ecr:DescribeImages", context).message).toBe(
      'ECR repository "shop" does not exist in eu-west-1: create it once with `dagger call setup-registry` (README, "Publishing to ECR")',
    );
  });
  it.each(["UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"])("%s says the credentials were rejected", (name) => {
    expect(translateAwsError(awsError(name, "The security token included in the request is invalid."), "ecr:GetAuthorizationToken", { region: "eu-west-1" }).message).toBe(
      `AWS rejected the credentials for ecr:GetAuthorizationToken (${name}): check the access key, secret and session token; OIDC sessions expire after an hour. AWS said: The security token included in the request is invalid.`,
    );
  });
  it("throttling says how many attempts were made", () => {
    expect(translateAwsError(awsError("ThrottlingException", "Rate exceeded", { $metadata: { attempts: 5 } }), "ecr:DescribeRepositories", context).message).toBe(
      'ECR throttled ecr:DescribeRepositories on repository "shop" in eu-west-1 and 5 attempts were used up: retry later',
    );
  });
  it("limits, invalid parameters, network errors and anything else get one line each", () => {
    expect(translateAwsError(awsError("LimitExceededException", "too many"), "ecr:CreateRepository", context).message).toBe('ECR limit reached by ecr:CreateRepository on repository "shop" in eu-west-1: too many');
    expect(translateAwsError(awsError("InvalidParameterException", "bad\nsecond line"), "ecr:PutLifecyclePolicy", context).message).toBe(
      'ECR rejected a parameter of ecr:PutLifecyclePolicy on repository "shop" in eu-west-1: bad',
    );
    expect(translateAwsError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "ecr:GetAuthorizationToken", { region: "eu-west-1" }).message).toBe(
      "could not reach ECR for ecr:GetAuthorizationToken in eu-west-1 (ECONNREFUSED): check the region and the network",
    );
    expect(translateAwsError(awsError("ServerException", "boom"), "ecr:PutImage", context).message).toBe('ecr:PutImage on repository "shop" in eu-west-1 failed (ServerException): boom');
  });
});

describe("tag mutability", () => {
  it("only latest and its platform tags may move; commit and version tags are immutable", () => {
    expect(["latest", "latest-linux-amd64", "latest-linux-arm64"].every(isMutableTag)).toBe(true);
    expect(["0123456789abcdef0123456789abcdef01234567", "0123abc-linux-amd64", "v1.2.3", "latest-2", "xlatest"].filter(isMutableTag)).toEqual([]);
  });

  it("names platform images after the release tag and the platform", () => {
    expect(platformTag("0123abc", { os: "linux", architecture: "arm64" })).toBe("0123abc-linux-arm64");
    expect(platformTag("latest", { os: "linux", architecture: "arm", variant: "v7" })).toBe("latest-linux-arm-v7");
    // and back: the platform a tag names, none for a release tag
    expect(platformOfTag("0123abc-linux-arm64")).toBe("linux/arm64");
    expect(platformOfTag("latest-linux-arm-v7")).toBe("linux/arm/v7");
    expect(["0123abc", "latest", "v1.2.3", "0123abc-dirty-0123456789ab"].map(platformOfTag)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe("authorization token and proxy endpoint", () => {
  it("decodes AWS:<password>", () => {
    expect(decodeAuthorizationToken(Buffer.from("AWS:eyJwYXlsb2FkIjoi...:with:colons").toString("base64"))).toEqual({ username: "AWS", password: "eyJwYXlsb2FkIjoi...:with:colons" });
  });
  it("rejects a token without user:password, without quoting it", () => {
    const token = Buffer.from("no-colon-secret").toString("base64");
    expect(() => decodeAuthorizationToken(token)).toThrow("ECR returned an authorization token that is not base64 of user:password");
    try {
      decodeAuthorizationToken(token);
    } catch (error) {
      expect((error as Error).message).not.toContain(token);
      expect((error as Error).message).not.toContain("no-colon-secret");
    }
    expect(() => decodeAuthorizationToken(Buffer.from("AWS:").toString("base64"))).toThrow(AwsError);
  });
  it("takes the registry host from the proxy endpoint, China included", () => {
    expect(hostFromProxyEndpoint("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com")).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
    expect(hostFromProxyEndpoint("https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")).toBe("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn");
    expect(() => hostFromProxyEndpoint("not a url")).toThrow("ECR returned a proxy endpoint that is not a URL");
    expect(() => hostFromProxyEndpoint("https://host/path")).toThrow("ECR returned an unexpected proxy endpoint");
  });
});
