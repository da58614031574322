// dagger/src/deploy/validate.ts (the deploy functions' input rules) and verify.ts (the proof that a release serves:
// healthy targets, /version answering the commit N times in a row), each on its own with a fake clock.
import { describe, expect, it } from "vitest";
import { DeployError } from "../../dagger/src/deploy/errors.js";
import { DIGEST_PATTERN, parseImageChoice, validateCount, validateEnvironmentName, validateServiceUrl, validateStatusFormat } from "../../dagger/src/deploy/validate.js";
import { waitForHealthyTargets, waitForVersion, type TargetState, type VerifyRuntime } from "../../dagger/src/deploy/verify.js";
import { inputError } from "../helpers/input-error.js";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/hono-ecr-service@${DIGEST}`;

describe("validateEnvironmentName", () => {
  it.each(["a", "staging", "prod-eu-1", "a".repeat(20)])("accepts %s", (name) => {
    expect(validateEnvironmentName(name)).toBe(name);
  });
  it.each(["", "Staging", "1prod", "-prod", "prod_eu", "a".repeat(21), "prod\n", " prod"])("refuses %j, naming it and the rule", (name) => {
    const message = inputError(() => validateEnvironmentName(name));
    expect(message).toContain(JSON.stringify(name));
    expect(message).toContain("at most 20 characters");
  });
});

describe("parseImageChoice", () => {
  it("needs exactly one of --image and --commit", () => {
    expect(inputError(() => parseImageChoice(undefined, undefined, "eu-west-1"))).toContain("exactly one of");
    expect(inputError(() => parseImageChoice(DIGEST, COMMIT, "eu-west-1"))).toContain("exactly one of");
  });

  it("a full commit id is the choice; anything shorter or not hex is refused, naming it", () => {
    expect(parseImageChoice(undefined, COMMIT, "eu-west-1")).toEqual({ commit: COMMIT });
    for (const commit of [COMMIT.slice(0, 39), `${COMMIT}0`, COMMIT.toUpperCase(), `x${COMMIT.slice(1)}`, `${COMMIT.slice(0, 39)}\n`]) {
      expect(inputError(() => parseImageChoice(undefined, commit, "eu-west-1"))).toContain(`--commit=${JSON.stringify(commit)}`);
    }
  });

  it("a bare digest names the repository the service runs from", () => {
    expect(parseImageChoice(DIGEST, undefined, "eu-west-1")).toEqual({ digest: DIGEST });
  });

  it("a full reference gives the account, region, repository and digest", () => {
    expect(parseImageChoice(IMAGE, undefined, "eu-west-1")).toEqual({ digest: DIGEST, repository: "team/hono-ecr-service", registryAccount: "123456789012", region: "eu-west-1" });
    const china = `123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app@${DIGEST}`;
    expect(parseImageChoice(china, undefined, "cn-north-1")).toEqual({ digest: DIGEST, repository: "app", registryAccount: "123456789012", region: "cn-north-1" });
  });

  it("an image in another region than the environment's is refused, naming both", () => {
    expect(inputError(() => parseImageChoice(IMAGE, undefined, "us-east-1"))).toContain("in eu-west-1, the environment in us-east-1");
  });

  it.each([
    ["a tag instead of a digest", IMAGE.replace(`@${DIGEST}`, ":latest")],
    ["a short digest", IMAGE.slice(0, -1)],
    ["an upper-case digest", IMAGE.replace(DIGEST, DIGEST.toUpperCase())],
    ["an 11-digit account", IMAGE.replace("123456789012", "12345678901")],
    ["a non-ECR registry", `docker.io/library/node@${DIGEST}`],
    ["something before the account", `x${IMAGE}`],
    ["something after the digest", `${IMAGE}0`],
    ["no repository", `123456789012.dkr.ecr.eu-west-1.amazonaws.com/@${DIGEST}`],
    ["a repository starting with a dot", `123456789012.dkr.ecr.eu-west-1.amazonaws.com/.app@${DIGEST}`],
    ["an upper-case repository", `123456789012.dkr.ecr.eu-west-1.amazonaws.com/App@${DIGEST}`],
    ["another domain", `123456789012.dkr.ecr.eu-west-1.amazonaws.org/app@${DIGEST}`],
    ["a digest with a suffix", `${DIGEST}0`],
    ["a digest with a prefix", `x${DIGEST}`],
  ])("refuses %s, naming the value and what is expected", (_name, image) => {
    const message = inputError(() => parseImageChoice(image, undefined, "eu-west-1"));
    expect(message).toContain(`--image=${JSON.stringify(image)}`);
    expect(message).toContain("a digest cannot");
  });

  it("DIGEST_PATTERN is anchored at both ends", () => {
    expect(DIGEST_PATTERN.test(DIGEST)).toBe(true);
    expect(DIGEST_PATTERN.test(`${DIGEST}0`)).toBe(false);
    expect(DIGEST_PATTERN.test(`x${DIGEST}`)).toBe(false);
  });
});

describe("validateServiceUrl", () => {
  it("no URL: none", () => {
    expect(validateServiceUrl(undefined)).toBeUndefined();
  });
  it.each([
    ["https://api.example.com", "https://api.example.com"],
    ["https://api.example.com/", "https://api.example.com"],
    ["http://10.0.0.1:8080/base//", "http://10.0.0.1:8080/base"],
    ["HTTPS://API.example.com/v1", "https://api.example.com/v1"],
  ])("%s is checked at %s", (url, origin) => {
    expect(validateServiceUrl(url)).toBe(origin);
  });
  it.each([
    ["not a URL", "api.example.com", "an http or https URL such as"],
    ["another scheme", "ftp://api.example.com", "without credentials, query or fragment"],
    ["a user", "https://user@api.example.com", "without credentials"],
    ["a password", "https://:secret@api.example.com", "without credentials"],
    ["a query", "https://api.example.com/?a=1", "query"],
    ["a fragment", "https://api.example.com/#top", "fragment"],
  ])("refuses %s", (_name, url, rule) => {
    const message = inputError(() => validateServiceUrl(url));
    expect(message).toContain(`--url=${JSON.stringify(url)} is invalid`);
    expect(message).toContain(rule);
  });
});

describe("validateCount and validateStatusFormat", () => {
  it("a whole number within the bounds, bounds included", () => {
    expect(validateCount("checks", 1, 1, 50)).toBe(1);
    expect(validateCount("checks", 50, 1, 50)).toBe(50);
    for (const value of [0, 51, 1.5, Number.NaN, Infinity]) expect(inputError(() => validateCount("checks", value, 1, 50))).toBe(`--checks=${value} is invalid: expected a whole number from 1 to 50`);
  });
  it("text or json, nothing else", () => {
    expect(validateStatusFormat("text")).toBe("text");
    expect(validateStatusFormat("json")).toBe("json");
    expect(inputError(() => validateStatusFormat("yaml"))).toBe('--format="yaml" is invalid: expected text or json');
  });
});

/** A runtime on a fake clock: sleeping moves it; `answers` are what fetch returns in turn (the last one forever). */
function runtime(answers: (() => Response)[] = []) {
  let clock = 0;
  let fetches = 0;
  const state = { lines: [] as string[], sleeps: [] as number[], urls: [] as string[], headers: [] as unknown[] };
  const value: VerifyRuntime = {
    now: () => clock,
    sleep: (ms) => ((clock += ms), state.sleeps.push(ms), Promise.resolve()),
    log: (line) => void state.lines.push(line),
    fetch: ((url: string, init?: RequestInit) => {
      state.urls.push(url);
      state.headers.push(init?.headers);
      return Promise.resolve(answers[Math.min(fetches++, answers.length - 1)]!());
    }) as typeof fetch,
    pollMs: 5_000,
  };
  return { runtime: value, state };
}

const json = (body: unknown, status = 200) => () => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

async function deployError(promise: Promise<unknown>): Promise<DeployError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DeployError);
  return error as DeployError;
}

describe("waitForHealthyTargets", () => {
  it("no new task: nothing serves", async () => {
    const { runtime: rt } = runtime();
    const error = await deployError(waitForHealthyTargets(rt, [], () => Promise.resolve([]), 60_000));
    expect(error.failure).toBe("not-serving");
    expect(error.message).toBe("no running task of the new revision: nothing serves the release");
  });

  it("waits until every new task is healthy (other targets do not count), then says so", async () => {
    const rounds: TargetState[][] = [
      [{ ip: "10.0.0.1", state: "healthy" }, { ip: "10.0.0.2", state: "initial" }],
      [{ ip: "10.0.0.1", state: "healthy" }, { ip: "10.0.0.3", state: "healthy" }],
      [{ ip: "10.0.0.2", state: "healthy" }, { ip: "10.0.0.1", state: "healthy" }],
    ];
    let round = 0;
    const { runtime: rt, state } = runtime();
    await waitForHealthyTargets(rt, ["10.0.0.1", "10.0.0.2"], () => Promise.resolve(rounds[round++]!), 60_000);
    expect(round).toBe(3);
    expect(state.sleeps).toEqual([5_000, 5_000]);
    expect(state.lines).toEqual(["target group: the 2 new task(s) are healthy (10.0.0.1, 10.0.0.2)"]);
  });

  it("at the deadline fails with each unhealthy task's state and reason, or that it is not registered", async () => {
    const targets: TargetState[] = [{ ip: "10.0.0.1", state: "healthy" }, { ip: "10.0.0.2", state: "unhealthy", reason: "Target.FailedHealthChecks" }, { ip: "10.0.0.4", state: "draining" }];
    const { runtime: rt, state } = runtime();
    const error = await deployError(waitForHealthyTargets(rt, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"], () => Promise.resolve(targets), 10_000));
    expect(error.failure).toBe("not-serving");
    expect(error.message).toBe("the new tasks are not healthy in the target group: 10.0.0.2: unhealthy (Target.FailedHealthChecks); 10.0.0.3: not registered; 10.0.0.4: draining");
    // Checked at 0, 5 s and 10 s: the check at the deadline is the last.
    expect(state.sleeps).toEqual([5_000, 5_000]);
  });
});

describe("waitForVersion", () => {
  it("needs the commit N times in a row: another answer starts the count again; it polls fast while counting", async () => {
    const { runtime: rt, state } = runtime([json({ commit: COMMIT }), json({ commit: "old" }), json({ commit: COMMIT }), json({ commit: COMMIT }), json({ commit: COMMIT })]);
    await waitForVersion(rt, "http://lb", COMMIT, 3, 600_000);
    expect(state.urls).toHaveLength(5);
    expect(state.urls[0]).toBe("http://lb/version");
    expect(state.headers[0]).toEqual({ "cache-control": "no-cache" });
    expect(state.sleeps).toEqual([1_000, 5_000, 1_000, 1_000]);
    expect(state.lines).toEqual([`GET http://lb/version: 3 answers in a row report ${COMMIT}`]);
  });

  it("a single answer is enough when asked for one", async () => {
    const { runtime: rt, state } = runtime([json({ commit: COMMIT })]);
    await waitForVersion(rt, "http://lb", COMMIT, 1, 600_000);
    expect(state.sleeps).toEqual([]);
  });

  it("an error status with the right commit in its body does not count", async () => {
    const { runtime: rt } = runtime([json({ commit: COMMIT }, 503)]);
    const error = await deployError(waitForVersion(rt, "http://lb", COMMIT, 1, 10_000));
    expect(error.failure).toBe("not-serving");
    expect(error.message).toContain("last: HTTP 503");
  });

  it("at the deadline fails naming the last answer: a commit, a body that is not JSON, no answer", async () => {
    const last = async (answer: () => Response) => (await deployError(waitForVersion(runtime([answer]).runtime, "http://lb", COMMIT, 2, 10_000))).message;
    expect(await last(json({ commit: "1111" }))).toBe(`GET http://lb/version did not report ${COMMIT} 2 times in a row before the deadline; last: commit "1111"`);
    expect(await last(() => new Response("<html>", { status: 200 }))).toContain("last: commit undefined");
    expect(
      await last(() => {
        throw new TypeError("fetch failed");
      }),
    ).toContain("last: no answer (fetch failed)");
    expect(
      await last(() => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- what a fetch replacement may throw: not an Error
        throw "down";
      }),
    ).toContain("last: no answer (down)");
  });

  it("a failed request resets the count", async () => {
    const { runtime: rt, state } = runtime([
      json({ commit: COMMIT }),
      () => {
        throw new TypeError("fetch failed");
      },
      json({ commit: COMMIT }),
      json({ commit: COMMIT }),
    ]);
    await waitForVersion(rt, "http://lb", COMMIT, 2, 600_000);
    expect(state.urls).toHaveLength(4);
    expect(state.sleeps).toEqual([1_000, 5_000, 1_000]);
  });

  it("checks until the deadline, the check at the deadline included", async () => {
    const { runtime: rt, state } = runtime([json({ commit: "old" })]);
    await deployError(waitForVersion(rt, "http://lb", COMMIT, 2, 15_000));
    expect(state.urls).toHaveLength(4);
  });
});
