// The cost table (infra/cost.ts) at the list prices of the region the stacks are synthesized for.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { InputError } from "../dagger/src/ecr/validate.js";
import { monthlyCost, PRICES, pricesFor, renderCostTable } from "../infra/cost.js";
import { ENVIRONMENTS, validateEnvironment, type EnvironmentSettings } from "../infra/environments.js";
import { ServiceStack } from "../infra/service-stack.js";
import { cdkApp } from "./helpers/cdk-app.js";
import { ROOT } from "./helpers/process.js";

const run = promisify(execFile);
/** The environments as the app validates them for a synth in `region` (context `region`, or the CLI's). */
const synthesizedIn = (region: string): EnvironmentSettings[] =>
  Object.entries(ENVIRONMENTS).map(([name, config]) => validateEnvironment(name, config, { region, ecrRepository: "hono-ecr-service" }));
const line = (settings: EnvironmentSettings, item: string) => monthlyCost(settings).lines.find((candidate) => candidate.item === item)!;

describe("the cost table, per region", () => {
  it("prices at least us-east-1 and eu-west-1, every figure a positive number", () => {
    expect(Object.keys(PRICES)).toEqual(expect.arrayContaining(["us-east-1", "eu-west-1"]));
    for (const [region, prices] of Object.entries(PRICES)) {
      const figures = [...Object.values(prices.fargate).flatMap((fargate) => Object.values(fargate)), ...Object.values(prices).filter((value) => typeof value === "number")];
      expect(figures.length, region).toBe(4 + 12);
      for (const figure of figures) expect(figure, region).toBeGreaterThan(0);
    }
  });

  it("is rendered for the synth region: its name in the header, its prices in every line", () => {
    const us = renderCostTable(synthesizedIn("us-east-1"));
    const eu = renderCostTable(synthesizedIn("eu-west-1"));
    expect(us.split("\n")[0]).toBe("| per month, us-east-1 (US East (N. Virginia)) | staging | production |");
    expect(eu.split("\n")[0]).toBe("| per month, eu-west-1 (Europe (Ireland)) | staging | production |");
    const [staging] = synthesizedIn("eu-west-1");
    expect(line(staging!, "ALB")).toMatchObject({ detail: "$0.0252/h + 1 LCU × $0.008/h", usd: (0.0252 + 0.008) * 730 });
    expect(line(synthesizedIn("us-east-1")[0]!, "ALB").detail).toBe("$0.0225/h + 1 LCU × $0.008/h");
    // Ireland lists the ALB, endpoints, NAT and log ingestion higher; Fargate and public IPv4 the same.
    for (const item of ["ALB", "VPC endpoints", "CloudWatch Logs"]) expect(line(staging!, item).usd, item).toBeGreaterThan(line(synthesizedIn("us-east-1")[0]!, item).usd);
    for (const item of ["Fargate ARM64", "Public IPv4"]) expect(line(staging!, item).usd, item).toBe(line(synthesizedIn("us-east-1")[0]!, item).usd);
    expect(line(staging!, "NAT gateways").detail).toBe(`0 × $${PRICES["eu-west-1"]!.natGatewayHour}/h`);
  });

  it("counts each NAT gateway's Elastic IP as a public IPv4 address, as many as the synthesized stack has", () => {
    const [staging] = synthesizedIn("eu-west-1");
    const withNat = validateEnvironment("staging", { ...ENVIRONMENTS.staging!, network: { maxAzs: 2, natGateways: 2, cidr: "10.10.0.0/16" } }, { region: "eu-west-1", ecrRepository: "hono-ecr-service" });
    const template = Template.fromStack(new ServiceStack(cdkApp(), "WithNat", { settings: withNat, env: { region: "eu-west-1" } }));
    template.resourceCountIs("AWS::EC2::NatGateway", 2);
    template.resourceCountIs("AWS::EC2::EIP", 2);
    expect(line(withNat, "Public IPv4")).toEqual({ item: "Public IPv4", detail: "the ALB's 2 addresses (one per AZ) + 2 NAT gateway addresses × $0.005/h", usd: 4 * 0.005 * 730 });
    expect(line(staging!, "Public IPv4")).toEqual({ item: "Public IPv4", detail: "the ALB's 2 addresses (one per AZ) × $0.005/h", usd: 2 * 0.005 * 730 });
    const one = validateEnvironment("staging", { ...ENVIRONMENTS.staging!, network: { maxAzs: 2, natGateways: 1, cidr: "10.10.0.0/16" } }, { region: "eu-west-1", ecrRepository: "hono-ecr-service" });
    expect(line(one, "Public IPv4").detail).toBe("the ALB's 2 addresses (one per AZ) + 1 NAT gateway address × $0.005/h");
  });

  it("names each environment's region when they differ", () => {
    const [staging] = synthesizedIn("us-east-1");
    const [, production] = synthesizedIn("eu-west-1");
    expect(renderCostTable([staging!, production!]).split("\n")[0]).toBe("| per month | staging (us-east-1) | production (eu-west-1) |");
  });

  it("refuses a region it has no prices for, naming the ones it has", () => {
    const message = 'no list prices for region "eu-central-1" in infra/cost.ts: the cost table prices us-east-1, eu-west-1; add the region\'s prices from the pricing pages named there';
    expect(() => renderCostTable(synthesizedIn("eu-central-1"))).toThrow(new InputError(message));
    expect(() => pricesFor("constructor")).toThrow(InputError);
  });

  it("scripts/cost-table.ts prints the table for a region, and stops with the message for an unknown one", async () => {
    const script = path.join(ROOT, "scripts/cost-table.ts");
    const tsx = path.join(ROOT, "node_modules/.bin/tsx");
    const { stdout } = await run(tsx, [script, "eu-west-1"], { cwd: ROOT });
    expect(stdout.trim()).toBe(renderCostTable(synthesizedIn("eu-west-1")));
    const failed = (await run(tsx, [script, "eu-central-1"], { cwd: ROOT }).catch((error: unknown) => error)) as { code: number; stderr: string };
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('no list prices for region "eu-central-1" in infra/cost.ts');
  }, 60_000);
});
