import { describe, expect, it } from "vitest";
import {
  InputError,
  MAX_KEEP,
  partitionDomain,
  registryHost,
  validateKeep,
  validateRegion,
  validateRepositoryName,
  validateTag,
  validateTags,
} from "../../dagger/src/ecr/validate.js";
import { validatePlatforms } from "../../dagger/src/ecr/release-tags.js";

describe("region", () => {
  it.each(["us-east-1", "eu-central-2", "ap-southeast-5", "cn-north-1", "cn-northwest-1", "us-gov-west-1", "il-central-1"])("accepts %s", (region) => {
    expect(validateRegion(region)).toBe(region);
  });
  it.each(["", "us-east", "US-EAST-1", "us_east_1", "useast1", "us-east-1 ", "eu-west-1a", "https://ecr.us-east-1.amazonaws.com"])("rejects %j naming the value and the rule", (region) => {
    expect(() => validateRegion(region)).toThrow(InputError);
    expect(() => validateRegion(region)).toThrow(`region ${JSON.stringify(region)} is not an AWS region name: expected e.g. us-east-1`);
  });
});

describe("registry host", () => {
  it("uses amazonaws.com, and amazonaws.com.cn in the China partition", () => {
    expect(registryHost("123456789012", "eu-west-1")).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
    expect(registryHost("123456789012", "cn-north-1")).toBe("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn");
    expect(partitionDomain("cn-northwest-1")).toBe("amazonaws.com.cn");
  });
  it("rejects an account id that is not 12 digits", () => {
    expect(() => registryHost("12345", "eu-west-1")).toThrow('account id "12345" is invalid: expected 12 digits');
  });
});

describe("repository name", () => {
  it.each(["ab", "hono-ecr-service", "team/web_service", "a.b-c_d/e1", "x".repeat(256)])("accepts %s", (name) => {
    expect(validateRepositoryName(name)).toBe(name);
  });
  it.each(["a", "Hono", "-svc", "svc-", "a//b", "a/-b", "with space", "x".repeat(257), "svc..x", "/svc"])("rejects %j", (name) => {
    expect(() => validateRepositoryName(name)).toThrow(/^repository ".*" is not a valid ECR repository name: expected 2 to 256 characters/);
  });
});

describe("tags", () => {
  it.each(["latest", "0123456789abcdef0123456789abcdef01234567", "v1.2.3", "_x", "A".repeat(128)])("accepts %s", (tag) => {
    expect(validateTag(tag)).toBe(tag);
  });
  it.each(["", ".hidden", "-dash", "a/b", "a:b", "ü", "A".repeat(129)])("rejects %j", (tag) => {
    expect(() => validateTag(tag)).toThrow(/^tag ".*" is not a valid image tag: expected 1 to 128 letters/);
  });
  it("a list must be non-empty, valid and without repeats", () => {
    expect(validateTags(["abc", "latest"])).toEqual(["abc", "latest"]);
    expect(() => validateTags([])).toThrow("tags is empty: give at least one tag");
    expect(() => validateTags(["latest", "latest"])).toThrow('tag "latest" is given twice');
    expect(() => validateTags(["ok", "not ok"])).toThrow('tag "not ok" is not a valid image tag');
  });
});

describe("keep", () => {
  it.each([1, 5, MAX_KEEP])("accepts %d", (keep) => expect(validateKeep(keep)).toBe(keep));
  it.each([0, -1, 1.5, MAX_KEEP + 1, Number.NaN])("rejects %d", (keep) => {
    expect(() => validateKeep(keep)).toThrow(`keep ${String(keep)} is invalid: expected a whole number of releases from 1 to ${MAX_KEEP}`);
  });
});

describe("platforms", () => {
  it("accepts the platforms Fargate runs, once each", () => {
    expect(validatePlatforms(["linux/amd64", "linux/arm64"])).toEqual(["linux/amd64", "linux/arm64"]);
    expect(validatePlatforms(["linux/arm64"])).toEqual(["linux/arm64"]);
  });
  it("rejects none, unknown and repeated platforms", () => {
    expect(() => validatePlatforms([])).toThrow("platforms is empty: give linux/amd64, linux/arm64 or both");
    expect(() => validatePlatforms(["windows/amd64"])).toThrow('platform "windows/amd64" is not supported: expected linux/amd64 or linux/arm64');
    expect(() => validatePlatforms(["linux/arm/v7"])).toThrow('platform "linux/arm/v7" is not supported');
    expect(() => validatePlatforms(["linux/amd64", "linux/amd64"])).toThrow('platform "linux/amd64" is given twice');
  });
});
