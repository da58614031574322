/** Command-line numbers of the benchmarks. */

/** A whole number >= 1 from the command line, or one clear error naming the flag and the rule. */
export function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} ${JSON.stringify(text)} is invalid: expected a whole number >= 1`);
  return value;
}
