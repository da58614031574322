import { dag, ReturnType, type Container, type Directory } from "@dagger.io/dagger";
import { NODE_IMAGE, NPM_CACHE_VOLUME } from "./versions.js";

/** Files that decide the installed dependencies: copied first so that a source edit does not reinstall. */
export const DEPENDENCY_FILES = ["package.json", "package-lock.json", "dagger/package.json", "dagger/package-lock.json"];

/**
 * A Node.js container with the project's dependencies installed by `npm ci` (from the lockfiles only, with a
 * shared npm cache volume), then the full source on top, at /src.
 */
export function nodeBuildEnv(source: Directory): Container {
  return dag
    .container()
    .from(NODE_IMAGE)
    .withMountedCache("/root/.npm", dag.cacheVolume(NPM_CACHE_VOLUME))
    .withWorkdir("/src")
    .withDirectory("/src", source, { include: DEPENDENCY_FILES })
    .withExec(["npm", "ci", "--no-audit", "--no-fund"])
    .withDirectory("/src", source);
}

/**
 * Runs `args` in `container` as the stage `stage`. Resolves with the command's output when it exits 0;
 * otherwise rejects with an error that names the stage, the command and the exit code and carries the tool's own output.
 */
export async function runStage(stage: string, container: Container, args: string[]): Promise<string> {
  const ran = container.withExec(args, { expect: ReturnType.Any });
  const exitCode = await ran.exitCode();
  const stdout = await ran.stdout();
  if (exitCode === 0) return stdout;
  const stderr = await ran.stderr();
  throw new Error(`${stage} failed: \`${args.join(" ")}\` exited with ${exitCode}\n${[stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join("\n")}`);
}
