import { StoreError } from "../protocol/errors.js";
import type { Database } from "./sqlite-driver.js";

/**
 * The schema, one migration per version. A database records its version in `rein_schema`; opening
 * applies the migrations after it, in one transaction. A version is never edited once released:
 * a database written by every released version must still open (tests/fixtures/rein-v<N>.db).
 */
export const MIGRATIONS: readonly string[] = [
  // v1
  `
  CREATE TABLE events (
    tenant TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL,
    type TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant, session, seq)
  ) WITHOUT ROWID;
  CREATE TABLE sessions (
    tenant TEXT NOT NULL, session TEXT NOT NULL, record TEXT NOT NULL, updated INTEGER NOT NULL,
    PRIMARY KEY (tenant, session)
  ) WITHOUT ROWID;
  CREATE INDEX sessions_updated ON sessions (updated);
  CREATE TABLE accounts (
    id TEXT PRIMARY KEY, cost REAL NOT NULL DEFAULT 0,
    input INTEGER NOT NULL DEFAULT 0, output INTEGER NOT NULL DEFAULT 0,
    cache_read INTEGER NOT NULL DEFAULT 0, cache_write INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0, reserved_usd REAL NOT NULL DEFAULT 0,
    reserved_tokens INTEGER NOT NULL DEFAULT 0, calls INTEGER NOT NULL DEFAULT 0,
    open INTEGER NOT NULL DEFAULT 0, run_id TEXT, run_base_usd REAL NOT NULL DEFAULT 0,
    run_base_tokens INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE TABLE reservations (
    tenant TEXT NOT NULL, session TEXT NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL,
    est_usd REAL NOT NULL, est_tokens INTEGER NOT NULL, budgets TEXT NOT NULL,
    PRIMARY KEY (tenant, session, key)
  );
  CREATE TABLE approvals (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, session TEXT NOT NULL, turn INTEGER,
    call_id TEXT NOT NULL, args_hash TEXT NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL
  );
  CREATE INDEX approvals_call ON approvals (tenant, session, call_id);
  CREATE INDEX approvals_status ON approvals (status);
  `,
  // v2: fewer rows and pages written per commit. The log holds one row per session per committed
  // batch (a JSON array of its events, `first_seq`..`last_seq`) in a rowid table, its key in an
  // index: appends land on the right edge and fill each page, where the WITHOUT ROWID tree of one
  // row per event split its leaves three ways and rewrote ~4 pages per commit. Reservations become
  // one WITHOUT ROWID tree (a rowid table with a primary key is two trees, both written by every
  // reserve and settle); `opened` keeps their order, which was the rowid's.
  `
  CREATE TABLE events_v2 (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL, session TEXT NOT NULL,
    first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  INSERT INTO events_v2 (tenant, session, first_seq, last_seq, body)
    SELECT tenant, session, seq, seq, '[' || body || ']' FROM events ORDER BY tenant, session, seq;
  DROP TABLE events;
  ALTER TABLE events_v2 RENAME TO events;
  CREATE UNIQUE INDEX events_key ON events (tenant, session, last_seq);
  CREATE TABLE reservations_v2 (
    tenant TEXT NOT NULL, session TEXT NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL,
    est_usd REAL NOT NULL, est_tokens INTEGER NOT NULL, budgets TEXT NOT NULL, opened INTEGER NOT NULL,
    PRIMARY KEY (tenant, session, key)
  ) WITHOUT ROWID;
  INSERT INTO reservations_v2 (tenant, session, key, model, est_usd, est_tokens, budgets, opened)
    SELECT tenant, session, key, model, est_usd, est_tokens, budgets, rowid FROM reservations;
  DROP TABLE reservations;
  ALTER TABLE reservations_v2 RENAME TO reservations;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database to SCHEMA_VERSION; refuses one written by a newer Rein. */
export function migrate(db: Database, file: string): void {
  db.exec("CREATE TABLE IF NOT EXISTS rein_schema (version INTEGER NOT NULL)");
  const row = db.prepare("SELECT max(version) AS v FROM rein_schema").get() as { v: number | null };
  const current = row.v ?? 0;
  if (current > SCHEMA_VERSION) {
    throw new StoreError(
      "REIN_STORE_SCHEMA_UNSUPPORTED",
      `${file} has schema version ${current}; this Rein knows up to ${SCHEMA_VERSION}. Upgrade Rein to open it.`,
      { file, version: current, supported: SCHEMA_VERSION },
    );
  }
  if (current === SCHEMA_VERSION) return;
  db.immediate(() => {
    for (let v = current; v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!);
      db.prepare("INSERT INTO rein_schema (version) VALUES (?)").run(v + 1);
    }
  });
}
