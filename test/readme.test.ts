// The README stays true: its tables and commands are checked against the code they describe.
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SETTINGS } from "../src/config.js";
import { NODE_IMAGE, NODE_IMAGE_TAG } from "../dagger/src/versions.js";
import { monthlyCost, PRICE_SOURCE, renderCostTable } from "../infra/cost.js";
import { DEPLOY_ACTIONS } from "../infra/deploy-permissions.js";
import { LOGIN_ACTIONS, PUBLISH_ACTIONS, REGISTRY_ACTIONS, REGISTRY_SIGNING_ACTIONS, SIGN_ON_PUSH_ACTIONS } from "../infra/ecr-permissions.js";
import { ENVIRONMENTS, renderEnvironmentTable, validateEnvironment } from "../infra/environments.js";
import {
  BARE,
  BENCH_CONNECTIONS,
  BENCH_ROUTES,
  NODE_HTTP,
  README_END,
  README_START,
  renderBenchmarksMarkdown,
  renderReadmeSummary,
  SERVICE,
  SERVICE_WARN,
  type BenchRun,
} from "../bench/report.js";
import { checkDaggerCall, daggerCallsIn } from "./helpers/dagger-calls.js";
import { cliName } from "./helpers/dagger-cli.js";
import { moduleSurface, type ModuleSurface } from "./helpers/module-surface.js";
import { ROOT } from "./helpers/process.js";
import { createTestService } from "./helpers/service.js";

const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
const json = <T>(file: string) => JSON.parse(readFileSync(path.join(ROOT, file), "utf8")) as T;

/** The rows of the first Markdown table after `heading`, as arrays of cell texts. */
function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const lines = readme.slice(start).split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.slice(1, -1).split(" | ").map((cell) => cell.trim()));
  }
  return rows;
}

describe("README", () => {
  it("gives the two set-up commands", () => {
    expect(readme).toContain("npm ci && npm test");
    expect(readme).toContain("npm ci && npm start");
    const scripts = json<{ scripts: Record<string, string> }>("package.json").scripts;
    expect(scripts.prestart).toBe("npm run build");
    expect(scripts.test).toBe("vitest run");
  });

  it("names every dependency install script, and allowScripts decides each one as the table says", () => {
    type Lock = { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = (lock: Lock) => Object.keys(lock.packages).filter((at) => at !== "" && lock.packages[at]!.hasInstallScript).map((at) => at.slice(at.lastIndexOf("node_modules/") + 13));
    expect(withScripts(json<Lock>("dagger/package-lock.json"))).toEqual([]);
    const allowScripts = json<{ allowScripts?: Record<string, boolean> }>("package.json").allowScripts ?? {};
    const table = tableAfter("**Install scripts.**");
    expect(Object.fromEntries(table.map(([name, , runs]) => [name!.replace(/`/g, ""), runs === "yes"]))).toEqual(allowScripts);
    for (const [name, script] of table) {
      const { scripts = {} } = json<{ scripts?: Record<string, string> }>(`node_modules/${name!.replace(/`/g, "")}/package.json`);
      const installScripts = ["preinstall", "install", "postinstall"].filter((stage) => scripts[stage]).map((stage) => `${stage}: ${scripts[stage]}`);
      expect(script!.replace(/`/g, "")).toBe(installScripts.join(", "));
    }
    expect(withScripts(json<Lock>("package-lock.json")).sort()).toEqual(Object.keys(allowScripts).sort());
  });

  it("lists every configuration variable with its default and meaning", () => {
    expect(tableAfter("## Configuration")).toEqual(SETTINGS.map((setting) => [`\`${setting.env}\``, `\`${String(setting.default)}\``, setting.meaning]));
  });

  it("lists every route of the app", () => {
    const { app } = createTestService();
    const routes = app.routes.filter((route) => route.method !== "ALL").map((route) => `${route.method} ${route.path}`);
    const documented = tableAfter("## Endpoints").map(([cell]) => cell!.replace(/`/g, "").replace(/\?.*$/, ""));
    expect(documented.sort()).toEqual([...new Set(routes)].sort());
  });

  it("lists every npm script a developer runs", () => {
    const scripts = Object.keys(json<{ scripts: Record<string, string> }>("package.json").scripts).filter((name) => !/^(pre|post)/.test(name));
    const documented = tableAfter("## Scripts").map(([cell]) => cell!.replace(/`/g, "").replace(/^npm (run )?/, ""));
    expect(documented.sort()).toEqual(scripts.sort());
  });

  it("lists the IAM permissions the CDK stack grants", () => {
    const rows = tableAfter("### IAM permissions");
    const actions = (row: string[] | undefined) => [...(row?.[1] ?? "").matchAll(/`(ecr:\w+)`/g)].map((match) => match[1]);
    expect(actions(rows[0])).toEqual(LOGIN_ACTIONS);
    expect([...(rows[1]?.[1] ?? "").matchAll(/`(signer:\w+)`/g)].map((match) => match[1])).toEqual(SIGN_ON_PUSH_ACTIONS);
    expect(actions(rows[2])).toEqual(PUBLISH_ACTIONS);
    expect(actions(rows[3])).toEqual(REGISTRY_SIGNING_ACTIONS);
    expect(actions(rows[4])).toEqual(REGISTRY_ACTIONS);
    const deployActions = rows.slice(5).flatMap((row) => [...(row[1] ?? "").matchAll(/`((?:ecs|ecr|elasticloadbalancing|iam|inspector2|cloudformation):\w+)`/g)].map((match) => match[1]));
    expect([...new Set(deployActions)].sort()).toEqual([...DEPLOY_ACTIONS].sort());
  });

  it("states the pinned versions the code uses", () => {
    const engine = json<{ engineVersion: string }>("dagger.json").engineVersion;
    const rows = Object.fromEntries(tableAfter("## Pinned versions").map(([what, pin]) => [what!, pin!]));
    expect(rows["Dagger engine and CLI"]).toBe(engine);
    expect(rows["Node.js images"]).toBe(`\`${NODE_IMAGE}\``);
    const moduleDependencies = json<{ dependencies: Record<string, string> }>("dagger/package.json").dependencies;
    expect(rows["`@aws-sdk/client-ecr`"]).toBe(moduleDependencies["@aws-sdk/client-ecr"]);
    expect(rows["`@aws-sdk/client-ecs`, `@aws-sdk/client-elastic-load-balancing-v2`"]).toBe(
      `${moduleDependencies["@aws-sdk/client-ecs"]}, ${moduleDependencies["@aws-sdk/client-elastic-load-balancing-v2"]}`,
    );
    expect(rows["`@dagger.io/dagger` (types, introspector, offline tests)"]).toBe(json<{ devDependencies: Record<string, string> }>("package.json").devDependencies["@dagger.io/dagger"]);
    expect(rows.TypeScript).toBe(json<{ devDependencies: Record<string, string> }>("package.json").devDependencies.typescript);
  });

  it("shows the environments' settings and monthly cost as infra/ has them", () => {
    const between = (start: string, end: string) => readme.slice(readme.indexOf(start) + start.length, readme.indexOf(end)).trim();
    const environments = Object.entries(ENVIRONMENTS).map(([name, config]) => validateEnvironment(name, config, { region: "us-east-1", ecrRepository: "hono-ecr-service" }));
    expect(between("<!-- environments:start (rendered from infra/environments.ts; test/readme.test.ts keeps it equal) -->", "<!-- environments:end -->")).toBe(
      renderEnvironmentTable(environments),
    );
    // The cost table at the prices of eu-west-1, where the README's examples deploy.
    const inEuWest1 = Object.entries(ENVIRONMENTS).map(([name, config]) => validateEnvironment(name, config, { region: "eu-west-1", ecrRepository: "hono-ecr-service" }));
    expect(between("<!-- cost:start (rendered from infra/cost.ts and infra/environments.ts; test/readme.test.ts keeps it equal) -->", "<!-- cost:end -->")).toBe(renderCostTable(inEuWest1));
    expect(readme).toContain(PRICE_SOURCE);
    // "A cheaper staging": one NAT gateway's cost is its hours and its Elastic IP's, as infra/cost.ts adds them.
    const [staging] = inEuWest1;
    const withNat = validateEnvironment("staging", { ...ENVIRONMENTS.staging!, network: { ...(ENVIRONMENTS.staging!.network as { maxAzs: number; cidr: string }), natGateways: 1 } }, { region: "eu-west-1", ecrRepository: "hono-ecr-service" });
    const natMonth = monthlyCost(withNat).total - monthlyCost(staging!).total;
    expect(readme.replace(/\s+/g, " ")).toContain(`one NAT gateway ($${natMonth.toFixed(2)} a month with its public IPv4 address, plus data)`);
  });

  it("shows the figures of the latest benchmark, as docs/benchmarks.md does, on the machine's Node and the image's", () => {
    const bench = json<BenchRun>("docs/benchmarks.json");
    const block = readme.slice(readme.indexOf(README_START) + README_START.length, readme.indexOf(README_END)).trim();
    expect(block).toBe(renderReadmeSummary(bench));
    expect(readFileSync(path.join(ROOT, "docs/benchmarks.md"), "utf8")).toBe(renderBenchmarksMarkdown(bench));
    // The machine's Node first, then exactly the image's.
    expect(bench.reports).toHaveLength(2);
    expect(bench.reports[1]!.machine.node).toBe(`v${/^node:(\d+\.\d+\.\d+)-/.exec(NODE_IMAGE_TAG)![1]}`);
    for (const report of bench.reports) {
      expect(report.machine.cores).toBeGreaterThan(0);
      expect(new Set(report.runs.map((run) => run.route))).toEqual(new Set(BENCH_ROUTES.map((route) => route.name)));
      expect(report.runs.filter((run) => run.target === SERVICE)).toHaveLength(BENCH_ROUTES.length * BENCH_CONNECTIONS.length);
      for (const target of [BARE, NODE_HTTP, SERVICE_WARN]) expect(report.runs.some((run) => run.target === target), target).toBe(true);
    }
  });

  describe("dagger commands", () => {
    let surface: ModuleSurface;
    beforeAll(() => {
      surface = moduleSurface();
    }, 60_000);

    it("every `dagger call` names a function and arguments that exist", () => {
      const calls = daggerCallsIn(readme);
      expect(calls.length).toBeGreaterThan(10);
      expect(calls.flatMap((call) => checkDaggerCall(call, surface))).toEqual([]);
    });

    it("the function table lists every function", () => {
      const documented = tableAfter("## Pipeline (Dagger)").map(([cell]) => cell!.replace(/`/g, ""));
      const [main, ...others] = surface.objects;
      const chained = others.flatMap((object) => {
        const via = main!.functions.find((fn) => fn.returnType === object.name)!;
        return object.functions.map((fn) => `${cliName(via.name)} ... ${cliName(fn.name)}`);
      });
      expect(documented.sort()).toEqual([...main!.functions.map((fn) => cliName(fn.name)), ...chained].sort());
    });
  });
});
