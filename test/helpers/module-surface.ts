/** The Dagger module's registration, as the SDK's introspector sees it (see introspect-module.ts). */
import { execFileSync } from "node:child_process";
import { ROOT } from "./process.js";

export interface SurfaceArgument {
  name: string;
  type: string;
  optional: boolean;
  defaultValue?: string;
  defaultPath?: string;
  ignore?: string[];
  description: string;
}
export interface SurfaceFunction {
  name: string;
  description: string;
  cache: string | null;
  check: boolean;
  returnType: string;
  args: SurfaceArgument[];
}
export interface ModuleSurface {
  name: string;
  objects: { name: string; description: string; constructorArgs: SurfaceArgument[]; functions: SurfaceFunction[] }[];
}

let cached: ModuleSurface | undefined;

/** Runs the introspector in a child process (tsx with the module's tsconfig, as the engine compiles it); cached per test file. */
export function moduleSurface(): ModuleSurface {
  cached ??= JSON.parse(
    execFileSync(process.execPath, ["--import", "tsx", "test/helpers/introspect-module.ts"], {
      cwd: ROOT,
      env: { ...process.env, TSX_TSCONFIG_PATH: "dagger/tsconfig.json" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }),
  ) as ModuleSurface;
  return cached;
}
