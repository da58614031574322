/**
 * Trivy's vulnerability database as the gate uses it: fetched once per run into a directory of its own, then handed to
 * every scan read-only in effect (`--skip-db-update`), so no two Trivy processes ever write one database (Trivy's
 * download lock is in-process only and it unpacks straight into `<cache>/db`: aquasecurity/trivy#8454).
 *
 * Modeled on aquasecurity/trivy v0.69.3: pkg/flag/db_flags.go (`--download-db-only`, `--skip-db-update`,
 * `--skip-java-db-update`), pkg/flag/global_flags.go (`--cache-dir`, persistent), pkg/flag/cache_flags.go and
 * pkg/cache/client.go (`--cache-backend memory`: no `fanal` scan cache on disk), pkg/db/db.go (`Dir(cacheDir)` is
 * `<cache-dir>/db`; `--skip-db-update` on a missing database fails "cannot be specified on the first run") and
 * pkg/version/testdata/testcache/db/metadata.json (the metadata file's shape).
 */

/** Where Trivy's cache directory is inside the Trivy containers (`--cache-dir`); the database is `<it>/db`. */
export const TRIVY_CACHE_DIR = "/trivy";
/** The database directory Trivy writes under the cache directory (trivy pkg/db/db.go `Dir`). */
export const TRIVY_DB_DIR = `${TRIVY_CACHE_DIR}/db`;

/**
 * Hours one fetched database serves for. trivy-db is rebuilt every 6 hours (its metadata's `NextUpdate` is
 * `UpdatedAt` + 6 h): the fetch's cache key carries the current 6-hour window, so a long-lived engine fetches again
 * once a window has passed and never scans with a database older than that.
 */
export const TRIVY_DB_WINDOW_HOURS = 6;

/** The window `now` falls in, e.g. `2026-12-01T12Z` (UTC, 6-hour steps): part of the database fetch's inputs. */
export function dbWindow(now: Date): string {
  const hour = Math.floor(now.getUTCHours() / TRIVY_DB_WINDOW_HOURS) * TRIVY_DB_WINDOW_HOURS;
  return `${now.toISOString().slice(0, 10)}T${String(hour).padStart(2, "0")}Z`;
}

/** The parts of `<cache-dir>/db/metadata.json` the gate reads. */
export interface TrivyDbMetadata {
  /** The database schema version; Trivy 0.69.3 reads version 2. */
  Version: number;
  /** When the database was built (RFC 3339). */
  UpdatedAt: string;
  NextUpdate?: string;
  DownloadedAt?: string;
}

/** Trivy 0.69.3's database schema (trivy-db `db.SchemaVersion`, checked by pkg/db/db.go `validate`). */
const DB_SCHEMA_VERSION = 2;

/** Parses the fetched database's metadata; anything else is refused, naming what was read and the rule. */
export function parseDbMetadata(json: string): TrivyDbMetadata {
  let parsed: Partial<TrivyDbMetadata>;
  try {
    parsed = JSON.parse(json) as Partial<TrivyDbMetadata>;
  } catch {
    throw new Error(`Trivy's database metadata (${TRIVY_DB_DIR}/metadata.json) is not JSON`);
  }
  if (parsed.Version !== DB_SCHEMA_VERSION) {
    throw new Error(`Trivy's database has schema version ${String(parsed.Version)}, expected ${DB_SCHEMA_VERSION} (the one Trivy 0.69.3 reads)`);
  }
  if (typeof parsed.UpdatedAt !== "string" || Number.isNaN(Date.parse(parsed.UpdatedAt))) {
    throw new Error(`Trivy's database metadata has UpdatedAt=${JSON.stringify(parsed.UpdatedAt)}: expected an RFC 3339 time`);
  }
  return parsed as TrivyDbMetadata;
}

/** The database fetch, once per run: `trivy image --download-db-only` into a fresh cache directory. */
export const DB_FETCH_ARGS = ["trivy", "image", "--download-db-only", "--cache-dir", TRIVY_CACHE_DIR, "--no-progress"];

/**
 * The flags of every scan: the fetched database only (never updated by a scan, no Java index fetched either), the
 * scan cache in memory (no `fanal.db` for two scans to contend for), JSON out, and exit code 0 (judged here).
 */
export const SCAN_ARGS = [
  "--cache-dir",
  TRIVY_CACHE_DIR,
  "--skip-db-update",
  "--skip-java-db-update",
  "--cache-backend",
  "memory",
  "--scanners",
  "vuln",
  "--format",
  "json",
  "--exit-code",
  "0",
];
