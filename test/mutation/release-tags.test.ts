// dagger/src/ecr/release-tags.ts on its own: platform tags both ways, which tags may move, the release tag's length
// edge, wildcard filters taken literally but for `*`, and which of an image's tags is its release.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PLATFORMS,
  environmentTag,
  isEnvironmentTag,
  isMutableTag,
  MUTABLE_TAG_FILTERS,
  platformOfTag,
  platformTag,
  releaseTagOf,
  validatePlatforms,
  validateReleaseTag,
  wildcardPattern,
} from "../../dagger/src/ecr/release-tags.js";
import { inputError } from "../helpers/input-error.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("platform tags", () => {
  it("platformTag joins the tag, os, architecture and variant when there is one", () => {
    expect(platformTag(SHA, { os: "linux", architecture: "arm64" })).toBe(`${SHA}-linux-arm64`);
    expect(platformTag("latest", { os: "linux", architecture: "arm", variant: "v7" })).toBe("latest-linux-arm-v7");
    expect(platformTag("latest", { os: "linux", architecture: "amd64", variant: "" })).toBe("latest-linux-amd64");
  });

  it("platformOfTag is its inverse, for linux platform tags only, at the end of the tag", () => {
    expect(platformOfTag(`${SHA}-linux-arm64`)).toBe("linux/arm64");
    expect(platformOfTag("latest-linux-amd64")).toBe("linux/amd64");
    expect(platformOfTag("latest-linux-arm-v7")).toBe("linux/arm/v7");
    expect(platformOfTag("latest-linux-arm-v10")).toBe("linux/arm/v10");
    expect(platformOfTag(SHA)).toBeUndefined();
    expect(platformOfTag("linux-arm64")).toBeUndefined();
    expect(platformOfTag("latest-linux-arm64-extra")).toBeUndefined();
    expect(platformOfTag("latest-windows-amd64")).toBeUndefined();
    expect(platformOfTag("latest-linux-ARM64")).toBeUndefined();
    expect(platformOfTag("latest-linux-arm-x7")).toBeUndefined();
  });

  it("round-trips every default platform (both Fargate platforms)", () => {
    expect(DEFAULT_PLATFORMS).toEqual(["linux/amd64", "linux/arm64"]);
    for (const platform of DEFAULT_PLATFORMS) {
      const [os = "", architecture = ""] = platform.split("/");
      expect(platformOfTag(platformTag(SHA, { os, architecture }))).toBe(platform);
    }
  });
});

describe("which tags move", () => {
  it("latest, its platform tags and the environments' tags move; a release's tags do not", () => {
    expect(MUTABLE_TAG_FILTERS).toEqual(["latest", "latest-linux-*", "deployed-*", "rollback-*"]);
    for (const tag of ["latest", "latest-linux-arm64", "deployed-production", "deployed-production-linux-arm64", "rollback-staging"]) expect(isMutableTag(tag)).toBe(true);
    for (const tag of [SHA, `${SHA}-linux-arm64`, "latest2", "xlatest", "latest-windows-amd64", "deployed", "my-deployed-x", "rollback"]) expect(isMutableTag(tag)).toBe(false);
  });

  it("environment tags are deployed-<env> and rollback-<env>", () => {
    expect(environmentTag("deployed", "production")).toBe("deployed-production");
    expect(environmentTag("rollback", "staging")).toBe("rollback-staging");
    expect(isEnvironmentTag("deployed-production")).toBe(true);
    expect(isEnvironmentTag("rollback-x")).toBe(true);
    expect(isEnvironmentTag("deployed")).toBe(false);
    expect(isEnvironmentTag("deployedx")).toBe(false);
    expect(isEnvironmentTag("pre-deployed-x")).toBe(false);
    expect(isEnvironmentTag("latest")).toBe(false);
  });
});

describe("validateReleaseTag", () => {
  it("refuses an environment's tag, naming it", () => {
    expect(inputError(() => validateReleaseTag("deployed-production"))).toContain('tag "deployed-production" is reserved');
    expect(inputError(() => validateReleaseTag("rollback-staging"))).toContain("reserved");
  });

  it("leaves room for -linux-arm64: 116 characters pass, 117 do not", () => {
    const longest = "a".repeat(116);
    expect(validateReleaseTag(longest)).toBe(longest);
    expect(platformTag(longest, { os: "linux", architecture: "arm64" })).toHaveLength(128);
    expect(inputError(() => validateReleaseTag("a".repeat(117)))).toBe(`tag "${"a".repeat(40)}"... is 117 characters: a release tag may have at most 116, to leave room for -linux-arm64`);
  });

  it("an ordinary tag is returned as given", () => {
    expect(validateReleaseTag(SHA)).toBe(SHA);
  });
});

describe("wildcardPattern", () => {
  it("* matches any run of characters, the empty one included, and the pattern is anchored", () => {
    const pattern = wildcardPattern("deployed-*");
    expect(pattern.test("deployed-")).toBe(true);
    expect(pattern.test("deployed-prod-linux-arm64")).toBe(true);
    expect(pattern.test("xdeployed-prod")).toBe(false);
    expect(wildcardPattern("latest").test("latest-linux-arm64")).toBe(false);
    expect(wildcardPattern("*-linux-*").test("v1-linux-arm64")).toBe(true);
  });

  it("every other character is literal", () => {
    expect(wildcardPattern("v1.2").test("v1x2")).toBe(false);
    expect(wildcardPattern("v1.2").test("v1.2")).toBe(true);
    for (const special of ["a+b", "a?b", "a^b", "a$b", "a{1}b", "a(b)", "a|b", "a[b]", "a\\b"]) {
      expect(wildcardPattern(special).test(special)).toBe(true);
    }
    expect(wildcardPattern("a+b").test("aab")).toBe(false);
    expect(wildcardPattern("a?b").test("b")).toBe(false);
    expect(wildcardPattern("a|b").test("a")).toBe(false);
    expect(wildcardPattern("a[b]").test("ab")).toBe(false);
    expect(wildcardPattern("a{2}").test("aa")).toBe(false);
    expect(wildcardPattern("(a)").test("a")).toBe(false);
    expect(wildcardPattern("a$").test("a")).toBe(false);
    expect(wildcardPattern("^a").test("a")).toBe(false);
    expect(wildcardPattern("a\\d").test("a1")).toBe(false);
  });
});

describe("validatePlatforms", () => {
  it("one or both supported platforms, each once", () => {
    expect(validatePlatforms(["linux/arm64"])).toEqual(["linux/arm64"]);
    expect(validatePlatforms(["linux/amd64", "linux/arm64"])).toEqual(["linux/amd64", "linux/arm64"]);
  });

  it("refuses none, an unsupported one (naming it), and a repeated one (naming it)", () => {
    expect(inputError(() => validatePlatforms([]))).toContain("platforms is empty");
    expect(inputError(() => validatePlatforms(["linux/arm64", "linux/riscv64"]))).toContain('platform "linux/riscv64" is not supported: expected linux/amd64 or linux/arm64');
    expect(inputError(() => validatePlatforms(["linux/arm64", "linux/amd64", "linux/arm64"]))).toContain('platform "linux/arm64" is given twice');
  });
});

describe("releaseTagOf", () => {
  it("prefers a commit id (clean or -dirty-<12 hex>) over other immutable tags", () => {
    expect(releaseTagOf(["v1.2.0", SHA, "latest"])).toBe(SHA);
    expect(releaseTagOf(["v1.2.0", `${SHA}-dirty-0123456789ab`])).toBe(`${SHA}-dirty-0123456789ab`);
  });

  it("without one, the first tag that is neither mutable nor a platform tag", () => {
    expect(releaseTagOf(["latest", `${SHA}-linux-arm64`, "deployed-prod", "v1.2.0", "v1.1.0"])).toBe("v1.2.0");
    expect(releaseTagOf([`x${SHA}`, "v1"])).toBe(`x${SHA}`);
    // A commit id inside a longer tag is not one: the first candidate stays the release.
    expect(releaseTagOf(["v1", `x${SHA}`])).toBe("v1");
    expect(releaseTagOf(["v1", `${SHA}0`])).toBe("v1");
    expect(releaseTagOf([`${SHA}-dirty-0123`, "v1"])).toBe(`${SHA}-dirty-0123`);
    expect(releaseTagOf([`${SHA}0`, "v1"])).toBe(`${SHA}0`);
    expect(releaseTagOf([SHA.toUpperCase(), "v1"])).toBe(SHA.toUpperCase());
  });

  it("a commit id that is only a platform tag's or a mutable tag's prefix is not the release", () => {
    expect(releaseTagOf([`${SHA}-linux-arm64`, "latest"])).toBeUndefined();
    expect(releaseTagOf([])).toBeUndefined();
  });
});
