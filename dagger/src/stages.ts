import { dag, ReturnType, type Container, type Directory } from "@dagger.io/dagger";
import { NODE_IMAGE, NPM_CACHE_VOLUME, PIP_CACHE_VOLUME, PYTHON_REQUIREMENTS } from "./versions.js";

/** Files that decide the installed dependencies: copied first so that a source edit does not reinstall. */
export const DEPENDENCY_FILES = ["package.json", "package-lock.json", "dagger/package.json", "dagger/package-lock.json"];

/**
 * A Node.js container with the project's dependencies installed by `npm ci` (from the lockfiles only, with a
 * shared npm cache volume), then the full source on top, at /src.
 */
export function nodeBuildEnv(source: Directory): Container {
  return withDependencies(dag.container().from(NODE_IMAGE), source);
}

/** `container` with the dependencies installed from the lockfiles (npm ci, npm cache volume), then the source, at /src. */
function withDependencies(container: Container, source: Directory): Container {
  return container
    .withMountedCache("/root/.npm", dag.cacheVolume(NPM_CACHE_VOLUME))
    .withWorkdir("/src")
    .withDirectory("/src", source, { include: DEPENDENCY_FILES })
    .withExec(["npm", "ci", "--no-audit", "--no-fund"])
    .withDirectory("/src", source);
}

/**
 * The build environment plus what the test suite needs besides Node: Python with moto (the ECR API emulator), and bash
 * and jq (the workflow scripts' replays run in them), from Alpine's packages of the pinned image and the repository's requirements file (exact versions, pip cache volume), in a
 * layer of its own before the source. REQUIRE_MOTO=1, as in .ci/run: a missing emulator fails the tests instead of
 * skipping them, so `dagger call test` tests as much as CI. SUITE_NODE=image, as in .ci/run's second run: the suite then
 * checks that it runs on exactly the image's Node.
 */
export function testEnv(source: Directory): Container {
  return dag
    .container()
    .from(NODE_IMAGE)
    .withExec(["apk", "add", "--no-cache", "python3", "py3-pip", "bash", "jq"])
    .withMountedCache("/root/.cache/pip", dag.cacheVolume(PIP_CACHE_VOLUME))
    .withFile(`/opt/${PYTHON_REQUIREMENTS}`, source.file(PYTHON_REQUIREMENTS))
    .withExec(["pip", "install", "--break-system-packages", "--requirement", `/opt/${PYTHON_REQUIREMENTS}`])
    .with((container) => withDependencies(container, source))
    .withEnvVariable("REQUIRE_MOTO", "1")
    .withEnvVariable("SUITE_NODE", "image");
}

/** `stdout` and `stderr` joined for an error message, empty parts left out. */
const output = (stdout = "", stderr = ""): string => [stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join("\n");

/**
 * Runs `args` in `container` as the stage `stage` and resolves with the container after it, once it exited 0.
 * Otherwise rejects with an error that names the stage, the command and the exit code, with the tool's own output;
 * an earlier step that failed (e.g. `npm ci`) is reported under the same stage name, with its output.
 * (The engine's ExecError class is not exported inside the engine, so its fields are read by shape.)
 */
export async function runStage(stage: string, container: Container, args: string[]): Promise<Container> {
  const ran = container.withExec(args, { expect: ReturnType.Any });
  let exitCode: number;
  try {
    exitCode = await ran.exitCode();
  } catch (error) {
    const failed = error as { message?: string; stdout?: string; stderr?: string };
    throw new Error(`${stage} failed before \`${args.join(" ")}\`: ${failed.message ?? String(error)}\n${output(failed.stdout, failed.stderr)}`.trimEnd(), { cause: error });
  }
  if (exitCode === 0) return ran;
  const [stdout, stderr] = await Promise.all([ran.stdout(), ran.stderr()]);
  throw new Error(`${stage} failed: \`${args.join(" ")}\` exited with ${exitCode}\n${output(stdout, stderr)}`.trimEnd());
}
