/**
 * The per-file figures of docs/mutation.md, from StrykerJS JSON reports (mutation-testing-elements schema, what
 * `npm run mutate` writes to reports/mutation/mutation.json): `tsx scripts/mutation-figures.ts [report.json ...]`.
 * Several reports (runs of one group of files each, `npm run mutate -- --mutate <files>`) are read as one; a file in
 * more than one report counts from the last. Scores as Stryker computes them: detected (killed + timeout) over valid
 * mutants (detected + survived + no coverage), and over covered ones (detected + survived); ignored and erroring
 * mutants count in neither.
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** A mutant's outcome, as the report's `status` names it. */
type MutantStatus = "Killed" | "Timeout" | "Survived" | "NoCoverage" | "Ignored" | "RuntimeError" | "CompileError" | "Pending";

/** The part of a JSON report these figures read. */
export interface MutationReport {
  files: Record<string, { mutants: { status: MutantStatus }[] }>;
}

/** The counts and scores of one file, or of all files. */
export interface Figures {
  file: string;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  ignored: number;
  errors: number;
  /** Percent of valid mutants detected. */
  total: number;
  /** Percent of covered mutants detected. */
  covered: number;
}

const percent = (part: number, whole: number): number => (whole === 0 ? 100 : Math.round((part / whole) * 10_000) / 100);

/** Counts and scores per file (sorted by path) and over all of them (last). */
export function mutationFigures(reports: MutationReport[]): Figures[] {
  const files = new Map<string, MutantStatus[]>();
  for (const report of reports) for (const [file, { mutants }] of Object.entries(report.files)) files.set(file, mutants.map((mutant) => mutant.status));
  const figures = (file: string, statuses: MutantStatus[]): Figures => {
    const count = (...wanted: MutantStatus[]) => statuses.filter((status) => wanted.includes(status)).length;
    const [killed, timeout, survived, noCoverage] = [count("Killed"), count("Timeout"), count("Survived"), count("NoCoverage")];
    const detected = killed + timeout;
    return { file, killed, timeout, survived, noCoverage, ignored: count("Ignored"), errors: count("RuntimeError", "CompileError"), total: percent(detected, detected + survived + noCoverage), covered: percent(detected, detected + survived) };
  };
  const rows = [...files.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([file, statuses]) => figures(file, statuses));
  return [...rows, figures("all files", [...files.values()].flat())];
}

/** The figures as the Markdown table of docs/mutation.md. */
export function renderFiguresTable(rows: Figures[]): string {
  return [
    "| file | % of all | % of covered | killed | timeout | survived | no coverage | ignored |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((row) => {
      const name = row.file === "all files" ? "**all files**" : `\`${row.file}\``;
      return `| ${name} | ${row.total.toFixed(2)} | ${row.covered.toFixed(2)} | ${row.killed} | ${row.timeout} | ${row.survived} | ${row.noCoverage} | ${row.ignored} |`;
    }),
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const paths = process.argv.slice(2);
  const reports = (paths.length > 0 ? paths : ["reports/mutation/mutation.json"]).map((path) => JSON.parse(readFileSync(path, "utf8")) as MutationReport);
  console.log(renderFiguresTable(mutationFigures(reports)));
}
