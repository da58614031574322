import { describe, expect, it } from "vitest";
import { accessLogWriter, createLogger, type AccessEntry } from "../src/logger.js";

/** A logger at `level` whose lines are kept as written (unparsed). */
function recording(level: "info" | "warn" = "info") {
  const lines: string[] = [];
  return { lines, logger: createLogger(level, { write: (line: string) => void lines.push(line) }) };
}

/** The line with its timestamp replaced: the two writers may run in different milliseconds. */
const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');

describe("accessLogWriter", () => {
  const base: AccessEntry = { requestId: "0f9c1d9e-7d8e-4c1b-9a3e-2a3f4b5c6d7e", method: "GET", path: "/", status: 200, durationMs: 1.23, aborted: false };
  const paths = ["/", "/api/greeting", '/a"quote', "/back\\slash", "/ctl\u0001\u001f\u007f", "/latin1-\u00e9\u00ff", "/tab\tnl\n", `/${"x".repeat(1023)}`, "*", ""];
  const entries: AccessEntry[] = [
    base,
    ...paths.map((path) => ({ ...base, path })),
    { ...base, method: "POST", status: 413, durationMs: 0 },
    { ...base, requestId: "client_id=-1", status: 503, durationMs: 12345.67, aborted: true },
  ];

  it.each(entries.map((entry) => [JSON.stringify(entry.path).slice(0, 40), entry] as const))("writes exactly pino's line for the path %s", (_, entry) => {
    const viaPino = recording();
    const { aborted, ...fields } = entry;
    viaPino.logger.info({ ...fields, ...(aborted ? { aborted: true } : {}) }, "request");
    const direct = recording();
    accessLogWriter(direct.logger)(entry);
    expect(direct.lines).toHaveLength(1);
    expect(withoutTime(direct.lines[0]!)).toBe(withoutTime(viaPino.lines[0]!));
    expect(JSON.parse(direct.lines[0]!)).toMatchObject({ level: "info", msg: "request", path: entry.path, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown });
  });

  it("writes nothing when the logger's level is above info, as pino would not", () => {
    const quiet = recording("warn");
    accessLogWriter(quiet.logger)(base);
    quiet.logger.info(base, "request");
    expect(quiet.lines).toEqual([]);
  });
});
