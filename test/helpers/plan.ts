/** Helpers for running Dagger functions against the fake engine and reading the plans it records. */
import { connection, dag } from "@dagger.io/dagger";
import { FakeEngine, type Answer, type Resolver, type Step } from "./fake-engine.js";
import { Pipeline } from "../../dagger/src/index.js";

/** The package.json the fake source directory holds. */
export const FAKE_PACKAGE_JSON = JSON.stringify({ name: "hono-ecr-service", version: "1.2.3" });

/** Answers the reads every pipeline function makes of the source (package.json), then defers to `resolver`. */
function withSourceFiles(resolver: Resolver): Resolver {
  return (chain) => {
    const leaf = chain[chain.length - 1]!;
    const file = chain[chain.length - 2];
    if (leaf.field === "contents" && file?.field === "file" && file.args.path === "package.json") return { value: FAKE_PACKAGE_JSON };
    return resolver(chain);
  };
}

/** What a function did: its result or error, and the engine that recorded its plan. */
export interface PlanRun<T> {
  result?: T;
  error?: Error;
  engine: FakeEngine;
}

/**
 * Runs `fn` with a Pipeline over a fake source directory, connected to a fresh fake engine.
 * Resolves with the result or the error; the engine's `calls` hold the plan.
 */
export async function runPlan<T>(fn: (pipeline: Pipeline) => Promise<T>, resolver: Resolver = () => undefined): Promise<PlanRun<T>> {
  const engine = new FakeEngine(withSourceFiles(resolver));
  await engine.start();
  const run: PlanRun<T> = { engine };
  try {
    await connection(async () => {
      run.result = await fn(new Pipeline(dag.directory()));
    });
  } catch (error) {
    run.error = error as Error;
  } finally {
    await engine.stop();
  }
  return run;
}

/** The steps of `chain` named `field`. */
export const stepsNamed = (chain: Step[], field: string): Step[] => chain.filter((step) => step.field === field);

/** The one step of `chain` named `field`; throws when there is none or several. */
export function stepNamed(chain: Step[], field: string): Step {
  const found = stepsNamed(chain, field);
  if (found.length !== 1) throw new Error(`expected one ${field} step, found ${found.length} in ${chain.map((s) => s.field).join(".")}`);
  return found[0]!;
}

/** Index of the first exec step whose args equal `args`. */
export const execIndex = (chain: Step[], args: string[]): number =>
  chain.findIndex((step) => step.field === "withExec" && JSON.stringify(step.args.args) === JSON.stringify(args));

/** The `name` -> `value` pairs of the steps named `field` (environment variables, labels). */
export function namedValues(chain: Step[], field: string): Record<string, unknown> {
  return Object.fromEntries(stepsNamed(chain, field).map((step) => [String(step.args.name), step.args.value]));
}

/** Answers the smoke stage's `process.getuid()` probe with uid 1000 (a non-root image); defers everything else. */
export const answerNonRootUid = (chain: Step[]): Answer | undefined =>
  chain.at(-1)!.field === "stdout" && JSON.stringify(chain.at(-2)?.args.args ?? []).includes("getuid") ? { value: "1000" } : undefined;

/** The recorded chains whose last step is `leaf`. */
export const callsEndingWith = (engine: FakeEngine, leaf: string): Step[][] => engine.calls.filter((chain) => chain[chain.length - 1]!.field === leaf);
