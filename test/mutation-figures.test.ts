// scripts/mutation-figures.ts: docs/mutation.md's figures computed as Stryker computes its scores.
import { describe, expect, it } from "vitest";
import { mutationFigures, renderFiguresTable, type MutationReport } from "../scripts/mutation-figures.js";

const report = (files: Record<string, string[]>): MutationReport => ({
  files: Object.fromEntries(Object.entries(files).map(([file, statuses]) => [file, { mutants: statuses.map((status) => ({ status: status as never })) }])),
});

describe("mutationFigures", () => {
  it("detected (killed + timeout) over valid and over covered mutants; ignored and errors count in neither", () => {
    const [a, b, all] = mutationFigures([report({ "src/b.ts": ["Killed", "Survived", "NoCoverage", "Ignored", "RuntimeError"], "src/a.ts": ["Killed", "Timeout", "Killed", "Survived"] })]);
    expect(a).toEqual({ file: "src/a.ts", killed: 2, timeout: 1, survived: 1, noCoverage: 0, ignored: 0, errors: 0, total: 75, covered: 75 });
    expect(b).toEqual({ file: "src/b.ts", killed: 1, timeout: 0, survived: 1, noCoverage: 1, ignored: 1, errors: 1, total: 33.33, covered: 50 });
    expect(all).toMatchObject({ file: "all files", killed: 3, timeout: 1, survived: 2, noCoverage: 1, total: 57.14, covered: 66.67 });
  });

  it("reads several reports as one, a file in two from the last", () => {
    const rows = mutationFigures([report({ "x.ts": ["Survived"], "y.ts": ["Killed"] }), report({ "x.ts": ["Killed"] })]);
    expect(rows.map((row) => [row.file, row.total])).toEqual([
      ["x.ts", 100],
      ["y.ts", 100],
      ["all files", 100],
    ]);
  });

  it("renders the Markdown table, all files last", () => {
    expect(renderFiguresTable(mutationFigures([report({ "x.ts": ["Killed", "NoCoverage"] })])).split("\n")).toEqual([
      "| file | % of all | % of covered | killed | timeout | survived | no coverage | ignored |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      "| `x.ts` | 50.00 | 100.00 | 1 | 0 | 0 | 1 | 0 |",
      "| **all files** | 50.00 | 100.00 | 1 | 0 | 0 | 1 | 0 |",
    ]);
  });
});
