/**
 * The floors of the state benchmark's loop (bench/state.ts): what a step's durable writes cost on
 * this machine with no store code around them, as raw SQL on node:sqlite, in the same process and
 * run as the loop. A step must be durable twice: its journal (`tool_call_started`) before the tool
 * runs (exactly-once), and its results with the next model call's reservation before the model
 * reads them (money reserved durably before the call). Each floor writes a step as its commits and
 * yields one tick per step (as the store's group commit does), and is timed in CPU and wall µs per
 * step; its WAL frames per step are counted in a separate short pass (autocheckpoint off, WAL size).
 *
 * Layouts, from the least a step can write to what the SQLite store writes:
 * - `bare`: one 8-byte row per commit in a one-tree table: the price of a WAL commit itself.
 * - `log`: the step's events as the loop wrote them, one row per commit, in a rowid table keyed by a
 *   session number and the seq (no index): the least the history of record can cost.
 * - `log+ledger`: `log`, plus the reservation (inserted in the results commit, deleted in the
 *   journal commit) and the two accounts it moves (session, tenant), all in one WITHOUT ROWID tree.
 * - `log+ledger+JSON`: `log+ledger`, serialising the step's events (`JSON.stringify` of each) as any
 *   store written in JavaScript must: the least a durable store's step can cost here.
 * - `store`: the SQLite store's own tables and statements (its migrations): the events table and
 *   its key index, the reservations tree, the accounts tree.
 * Settings: `page_size` (the store's, 2048, unless named: 1024, SQLite's default 4096, 16384) and `locking_mode = EXCLUSIVE` (the
 * connection keeps its locks and WAL index to itself: no lock syscalls per transaction). Whether
 * another connection can still read and write the file while a floor's connection is open is
 * tested on each, with a second connection that does not wait: what approvals decided from
 * another process and processes sharing one budget need.
 */
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS } from "../dist/state/sqlite-schema.js";
import { PAGE_SIZE } from "../dist/state/sqlite-store.js";

type Db = import("node:sqlite").DatabaseSync;
type Stmt = import("node:sqlite").StatementSync;

export interface FloorVariant {
  readonly name: string;
  readonly layout: "bare" | "log" | "log+ledger" | "store";
  readonly commits: 1 | 2;
  readonly pageSize: number;
  readonly exclusive: boolean;
  /** Each step serialises its events (JSON.stringify of each, joined per row) before writing them. */
  readonly serialise: boolean;
}

export interface FloorResult {
  readonly variant: FloorVariant;
  readonly cpuUs: number[];
  readonly wallUs: number[];
  readonly framesPerStep: number;
  /** A second connection could read and write the file while this one was open. */
  readonly shared: boolean;
}

/** One step's two rows as the loop wrote them: the results commit's, then the journal commit's. */
export interface StepRows {
  /** `tool_call_finished` (the row the reserve transaction writes). */
  readonly results: { readonly first: number; readonly last: number; readonly body: string };
  /** The 5 events from `model_call_started` to `tool_call_started` (the journal barrier's row). */
  readonly journal: { readonly first: number; readonly last: number; readonly body: string };
}

const v = (
  name: string,
  layout: FloorVariant["layout"],
  commits: 1 | 2,
  pageSize = PAGE_SIZE,
  exclusive = false,
  serialise = false,
): FloorVariant => ({ name, layout, commits, pageSize, exclusive, serialise });

/** The variants the state benchmark measures (see the module comment). */
export const FLOOR_VARIANTS: readonly FloorVariant[] = [
  v("bare, 2 commits", "bare", 2),
  v("bare, 1 commit", "bare", 1),
  v("log, 2 commits", "log", 2),
  v("log+ledger, 2 commits", "log+ledger", 2),
  v("log+ledger+JSON, 2 commits", "log+ledger", 2, PAGE_SIZE, false, true),
  v("store rows, 2 commits", "store", 2),
  v("store rows, 1 commit", "store", 1),
  v("log, 2 commits, EXCLUSIVE", "log", 2, PAGE_SIZE, true),
  v("store rows, 2 commits, EXCLUSIVE", "store", 2, PAGE_SIZE, true),
  v("log, 2 commits, page 1024", "log", 2, 1024),
  v("log, 2 commits, page 4096", "log", 2, 4096),
  v("log, 2 commits, page 16384", "log", 2, 16384),
  v("store rows, 2 commits, page 1024", "store", 2, 1024),
  v("store rows, 2 commits, page 4096", "store", 2, 4096),
  v("store rows, 2 commits, page 16384", "store", 2, 16384),
];

const T = "bench";
const S = "ses_a";
/** `log` rows' rowid: a session number in the high bits, the row's last seq in the low 32. */
const SESSION_BASE = 7 * 2 ** 32;

async function openRaw(file: string, variant: FloorVariant, autocheckpoint: number): Promise<Db> {
  const { DatabaseSync } = await import("node:sqlite");
  for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
  const db = new DatabaseSync(file);
  // page_size before the file has a page; the store's own pragmas after it.
  db.exec(`PRAGMA page_size = ${variant.pageSize}`);
  db.exec(
    `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = ${autocheckpoint}; PRAGMA journal_size_limit = 33554432`,
  );
  if (variant.exclusive) db.exec("PRAGMA locking_mode = EXCLUSIVE");
  if (variant.layout === "store") for (const m of MIGRATIONS) db.exec(m);
  else
    db.exec(`
      CREATE TABLE bare (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
      CREATE TABLE log (id INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE ledger (
        key TEXT PRIMARY KEY, cost REAL NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
        reserved_usd REAL NOT NULL DEFAULT 0, open INTEGER NOT NULL DEFAULT 0, model TEXT, opened INTEGER
      ) WITHOUT ROWID;`);
  return db;
}

/** The writes of one step of `variant`, as a function of the step's index. */
function stepWriter(db: Db, variant: FloorVariant, rows: StepRows): (s: number) => void {
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const seqs = rows.journal.last - rows.results.first + 1;
  const seq = (s: number, of: number) => s * seqs + of - rows.results.first + 1;
  const split = (a: () => void, b: () => void) =>
    variant.commits === 2
      ? () => {
          begin.run();
          a();
          commit.run();
          begin.run();
          b();
          commit.run();
        }
      : () => {
          begin.run();
          a();
          b();
          commit.run();
        };
  let step = 0;
  // Serialising: the events as objects, stringified again every step (as the store does on append).
  const parsed = variant.serialise
    ? {
        results: JSON.parse(rows.results.body) as unknown[],
        journal: JSON.parse(rows.journal.body) as unknown[],
      }
    : undefined;
  const body = (which: "results" | "journal") =>
    parsed ? `[${parsed[which].map((e) => JSON.stringify(e)).join(",")}]` : rows[which].body;
  if (variant.layout === "bare") {
    const insert = db.prepare("INSERT INTO bare (v) VALUES (?)");
    const w = split(
      () => insert.run(step),
      () => insert.run(step),
    );
    return (s) => {
      step = s;
      w();
    };
  }
  if (variant.layout === "log" || variant.layout === "log+ledger") {
    const insert = db.prepare("INSERT INTO log (id, first_seq, body) VALUES (?, ?, ?)");
    const ledger = variant.layout === "log+ledger";
    const reserve = db.prepare(
      "INSERT INTO ledger (key, reserved_usd, model, opened) VALUES (?, 0.01, 'bench:model', ?)",
    );
    const settle = db.prepare("DELETE FROM ledger WHERE key = ?");
    const account = db.prepare(
      "UPDATE ledger SET cost = cost + ?, tokens = tokens + ?, reserved_usd = reserved_usd + ?, open = open + ? WHERE key = ?",
    );
    // Clustered keys: the session's account and its reservations sort together.
    const accounts = [JSON.stringify(["s", T, S]), JSON.stringify(["t", T])];
    if (ledger) for (const k of accounts) db.prepare("INSERT INTO ledger (key) VALUES (?)").run(k);
    const resKey = (s: number) => JSON.stringify(["s", T, S, `run_bench:${s}`]);
    const w = split(
      () => {
        const first = seq(step, rows.results.first);
        insert.run(SESSION_BASE + first, first, body("results"));
        if (!ledger) return;
        reserve.run(resKey(step), step);
        for (const k of accounts) account.run(0, 0, 0.01, 1, k);
      },
      () => {
        insert.run(
          SESSION_BASE + seq(step, rows.journal.last),
          seq(step, rows.journal.first),
          body("journal"),
        );
        if (!ledger) return;
        settle.run(resKey(step));
        for (const k of accounts) account.run(0.001, 2, -0.01, -1, k);
      },
    );
    return (s) => {
      step = s;
      w();
    };
  }
  // The store's tables, as its statements write them (the insert's two-writer check included).
  const insert: Stmt = db.prepare(
    `INSERT INTO events (tenant, session, first_seq, last_seq, body) SELECT ?1, ?2, ?3, ?4, ?5
     WHERE NOT EXISTS (SELECT 1 FROM events WHERE tenant = ?1 AND session = ?2 AND last_seq >= ?3)`,
  );
  const reserve = db.prepare(
    "INSERT INTO reservations (tenant, session, key, model, est_usd, est_tokens, budgets, opened) VALUES (?, ?, ?, 'bench:model', 0.01, 100, '[]', ?)",
  );
  const settle = db.prepare("DELETE FROM reservations WHERE tenant = ? AND session = ? AND key = ?");
  const account = db.prepare(
    "UPDATE accounts SET cost = cost + ?, tokens = tokens + ?, reserved_usd = reserved_usd + ?, open = open + ? WHERE id = ?",
  );
  const accounts = [JSON.stringify(["s", T, S]), JSON.stringify(["t", T])];
  for (const id of accounts) db.prepare("INSERT INTO accounts (id) VALUES (?)").run(id);
  const w = split(
    () => {
      const first = seq(step, rows.results.first);
      insert.run(T, S, first, first, rows.results.body);
      reserve.run(T, S, `run_bench:${step}`, step);
      for (const id of accounts) account.run(0, 0, 0.01, 1, id);
    },
    () => {
      insert.run(T, S, seq(step, rows.journal.first), seq(step, rows.journal.last), rows.journal.body);
      settle.run(T, S, `run_bench:${step}`);
      for (const id of accounts) account.run(0.001, 2, -0.01, -1, id);
    },
  );
  return (s) => {
    step = s;
    w();
  };
}

const tick = () => new Promise((r) => setImmediate(r));

/** One timed run of `steps` steps of `variant` on a fresh file: CPU and wall µs per step. */
async function timed(file: string, variant: FloorVariant, rows: StepRows, steps: number) {
  const db = await openRaw(file, variant, 4000);
  try {
    const step = stepWriter(db, variant, rows);
    const c = process.cpuUsage();
    const t = performance.now();
    for (let s = 0; s < steps; s++) {
      step(s);
      await tick();
    }
    const wall = ((performance.now() - t) * 1000) / steps;
    const d = process.cpuUsage(c);
    return { cpu: (d.user + d.system) / steps, wall };
  } finally {
    db.close();
  }
}

/** WAL frames one step writes (autocheckpoint off; counted from the WAL's size after `steps` steps). */
async function frames(file: string, variant: FloorVariant, rows: StepRows, steps: number) {
  const db = await openRaw(file, variant, 0);
  try {
    const step = stepWriter(db, variant, rows);
    for (let s = 0; s < 20; s++) step(s);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    for (let s = 20; s < 20 + steps; s++) step(s);
    return (statSync(`${file}-wal`).size - 32) / (24 + variant.pageSize) / steps;
  } finally {
    db.close();
  }
}

/** Whether a second connection (not waiting) can read and write while `variant`'s is open. */
async function sharedAccess(file: string, variant: FloorVariant, rows: StepRows): Promise<boolean> {
  const { DatabaseSync } = await import("node:sqlite");
  const db = await openRaw(file, variant, 4000);
  try {
    const step = stepWriter(db, variant, rows);
    step(0);
    const other = new DatabaseSync(file, { timeout: 0 });
    try {
      other.exec("CREATE TABLE IF NOT EXISTS probe (x INTEGER)");
      other.prepare("INSERT INTO probe (x) VALUES (1)").run();
      other.prepare("SELECT count(*) AS n FROM probe").get();
      return true;
    } catch {
      return false;
    } finally {
      other.close();
    }
  } finally {
    db.close();
  }
}

/** Times every variant `reps` times, alternating (so a load drift hits all alike), on files in `dir`. */
export async function measureFloors(
  dir: string,
  rows: StepRows,
  steps: number,
  reps: number,
  variants: readonly FloorVariant[] = FLOOR_VARIANTS,
): Promise<FloorResult[]> {
  const out = variants.map((variant) => ({ variant, cpuUs: [] as number[], wallUs: [] as number[] }));
  const file = join(dir, "floor.db");
  for (const o of out) await timed(file, o.variant, rows, Math.min(steps, 200));
  for (let r = 0; r < reps; r++)
    for (const o of out) {
      const t = await timed(file, o.variant, rows, steps);
      o.cpuUs.push(t.cpu);
      o.wallUs.push(t.wall);
    }
  const results: FloorResult[] = [];
  for (const o of out)
    results.push({
      ...o,
      framesPerStep: await frames(file, o.variant, rows, 300),
      shared: await sharedAccess(file, o.variant, rows),
    });
  for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
  return results;
}
