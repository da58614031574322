// dagger/src/ecr/validate.ts at its edges: the region pattern's partitions and anchors, the repository name's length
// bounds and parts, the tag's first character and length, and how a refused value is quoted (cut past 80 characters).
import { describe, expect, it } from "vitest";
import { MAX_KEEP, partitionDomain, registryHost, validateKeep, validateRegion, validateRepositoryName, validateTag, validateTags } from "../../dagger/src/ecr/validate.js";
import { inputError } from "../helpers/input-error.js";

describe("validateRegion", () => {
  it.each(["us-gov-east-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1", "ap-southeast-12", "mx-central-1", "abcd-east-1"])("accepts %s", (region) => {
    expect(validateRegion(region)).toBe(region);
  });
  it.each(["u-east-1", "abcde-east-1", "us-foo-east-1", "us-east-123", "us--1", "us-east-", "xus-east-1 ", " us-east-1", "us-east-1\n", "us-East-1"])("refuses %j, naming it", (region) => {
    expect(inputError(() => validateRegion(region))).toBe(`region ${JSON.stringify(region)} is not an AWS region name: expected e.g. us-east-1, eu-west-2, cn-north-1 or us-gov-west-1`);
  });
  it("quotes a value of 80 characters whole and a longer one cut at 80", () => {
    expect(inputError(() => validateRegion("r".repeat(80)))).toContain(`region "${"r".repeat(80)}" is not`);
    expect(inputError(() => validateRegion("s".repeat(81)))).toContain(`region "${"s".repeat(80)}..." is not`);
  });
});

describe("partitionDomain and registryHost", () => {
  it("China regions (cn-*) use amazonaws.com.cn, every other one amazonaws.com", () => {
    expect(partitionDomain("cn-northwest-1")).toBe("amazonaws.com.cn");
    expect(partitionDomain("us-gov-west-1")).toBe("amazonaws.com");
    expect(registryHost("123456789012", "cn-north-1")).toBe("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn");
    expect(registryHost("000000000000", "eu-west-1")).toBe("000000000000.dkr.ecr.eu-west-1.amazonaws.com");
  });
  it.each(["12345678901", "1234567890123", "12345678901a", " 123456789012", "123456789012 "])("refuses the account id %j", (account) => {
    expect(inputError(() => registryHost(account, "eu-west-1"))).toBe(`account id ${JSON.stringify(account)} is invalid: expected 12 digits`);
  });
  it("refuses a bad region there too", () => {
    expect(inputError(() => registryHost("123456789012", "nowhere"))).toContain('region "nowhere"');
  });
});

describe("validateRepositoryName", () => {
  it.each(["a1", "a-b", "a.b", "a_b", "team/sub/app", "my-team/web-service", "a.b_c-d/x", `${"a".repeat(127)}/${"b".repeat(128)}`])("accepts %s", (name) => {
    expect(validateRepositoryName(name)).toBe(name);
  });
  it.each(["", "a__b", "a_", "_a", "a.", ".a", "a/", "a.-b", "a/B", "a b", "a\n", `${"a".repeat(128)}/${"b".repeat(128)}`])("refuses %j, naming the rule", (name) => {
    expect(inputError(() => validateRepositoryName(name))).toContain(
      "is not a valid ECR repository name: expected 2 to 256 characters of lowercase letters, digits and . _ - /, each part starting and ending with a letter or digit (e.g. my-team/web-service)",
    );
  });
});

describe("validateTag and validateTags", () => {
  it.each(["a", "A", "0", "_", "a.b-c_D", "v".repeat(128)])("accepts %s", (tag) => {
    expect(validateTag(tag)).toBe(tag);
  });
  it.each(["v".repeat(129), "a b", "a\n", "ab+"])("refuses %j", (tag) => {
    expect(inputError(() => validateTag(tag))).toContain("is not a valid image tag: expected 1 to 128 letters, digits, _ . -, not starting with . or -");
  });
  it("a list: at least one, every one valid, none twice (the repeated one named)", () => {
    expect(validateTags(["a", "b"])).toEqual(["a", "b"]);
    expect(inputError(() => validateTags([]))).toBe("tags is empty: give at least one tag");
    expect(inputError(() => validateTags(["a", "-b"]))).toContain('tag "-b" is not a valid image tag');
    expect(inputError(() => validateTags(["a", "b", "c", "b"]))).toBe('tag "b" is given twice: each tag once');
  });
});

describe("validateKeep", () => {
  it("1 to MAX_KEEP (100), whole", () => {
    expect(MAX_KEEP).toBe(100);
    expect(validateKeep(1)).toBe(1);
    expect(validateKeep(100)).toBe(100);
    expect(inputError(() => validateKeep(101))).toBe("keep 101 is invalid: expected a whole number of releases from 1 to 100");
    expect(inputError(() => validateKeep(0))).toBe("keep 0 is invalid: expected a whole number of releases from 1 to 100");
    expect(inputError(() => validateKeep(2.5))).toContain("keep 2.5 is invalid");
  });
});
