/**
 * Prints the monthly cost table (infra/cost.ts) for the environments of infra/environments.ts in one region, the region
 * the stacks would be synthesized for: `npx tsx scripts/cost-table.ts eu-west-1` (without an argument: AWS_REGION, then
 * CDK_DEFAULT_REGION). A region infra/cost.ts has no prices for stops with the regions it has.
 */
import { renderCostTable } from "../infra/cost.js";
import { ENVIRONMENTS, validateEnvironment } from "../infra/environments.js";

const region = process.argv[2] ?? process.env.AWS_REGION ?? process.env.CDK_DEFAULT_REGION;
try {
  const environments = Object.entries(ENVIRONMENTS).map(([name, config]) => validateEnvironment(name, config, { region, ecrRepository: "hono-ecr-service" }));
  console.log(renderCostTable(environments));
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
