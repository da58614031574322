/** The message of the InputError `run` throws; fails the test when it throws nothing or another error. */
import { expect } from "vitest";
import { InputError } from "../../dagger/src/ecr/validate.js";

/** Runs `run`, expects an InputError (by class and by name, as the CLI shows it) and returns its message. */
export function inputError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).name).toBe("InputError");
    return (error as Error).message;
  }
  throw new Error("expected an InputError");
}
