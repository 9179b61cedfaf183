import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { errorMessage, StoreError } from "../protocol/errors.js";
import type { ReinEvent } from "../protocol/events.js";
import { applyVerdict, expiredRecord } from "./approval-decision.js";
import type { EventLog, LogScope } from "./event-log.js";
import {
  checkNextSeq,
  checkReadBounds,
  checkScope,
  SessionListeners,
  sessionKey,
  withUnsent,
} from "./log-checks.js";
import { type Database, openDatabase, type Statement } from "./sqlite-driver.js";
import { SqliteLedger } from "./sqlite-ledger.js";
import { migrate } from "./sqlite-schema.js";
import {
  type ApprovalRecord,
  type ApprovalStore,
  type ApprovalVerdict,
  nextSessionRecord,
  type SessionIndex,
  type SessionRecord,
  type Store,
} from "./store.js";

export interface SqliteStoreOptions {
  /** How long a write waits for another process's transaction (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /**
   * `process` (default): a committed batch survives a crash of the process (WAL, synchronous=NORMAL).
   * `power`: it also survives a power loss (synchronous=FULL: an fsync per batch).
   */
  readonly durability?: "process" | "power";
}

interface Batch {
  readonly ops: (() => void)[];
  readonly events: ReinEvent[];
  /** Each session's events of the batch (serialised once, when appended): one row at commit. */
  readonly rows: Map<string, SessionRow>;
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

interface SessionRow {
  readonly tenant: string;
  readonly session: string;
  readonly first: number;
  last: number;
  /** The events' JSON, joined by commas: the row's body is this in brackets. */
  json: string;
}

const skey = sessionKey;

/**
 * The page size of a file the store creates (a file keeps the size it was created with: older files
 * keep SQLite's 4096). A step's two commits rewrite each page they touch into the WAL, whole: at
 * 2048 bytes they write 12 KB each instead of 21 KB, for about 10 % less CPU per step in the state
 * benchmark's loop (its floors measure 1024, 4096 and 16384 too). Every connection reads the size
 * from the file, so processes sharing it are unaffected.
 */
export const PAGE_SIZE = 2048;
const RESOLVED = Promise.resolve();

/**
 * The embedded durable store: one SQLite file (WAL) holding the event log, session records, the
 * ledger and pending approvals, shared by every session of the process through one connection and
 * by the processes of one machine through the file.
 *
 * Group commit: `append` never touches the disk; it queues the event, and one transaction per
 * event-loop tick writes every queued event of every session. `eventLog.sync()` resolves when the
 * batch holding the caller's events has committed (the loop awaits it before a tool runs), and
 * rejects (`REIN_STORE_FAILED`) when it could not: from then on the store refuses writes.
 *
 * @example
 * const store = await SqliteStore.open(".rein/rein.db");
 * const harness = createHarness({ model, store, approvals: { gate: durableGate(store) } });
 */
export class SqliteStore implements Store {
  readonly name = "sqlite";
  readonly file: string;
  readonly eventLog: EventLog;
  readonly ledger: SqliteLedger;
  readonly approvals: ApprovalStore;
  readonly sessions: SessionIndex;
  readonly #db: Database;
  #batch: Batch | undefined;
  #failure: StoreError | undefined;
  #closed = false;
  /** Last seq per session this process appended to or read (dropped when the session ends). */
  readonly #lastSeq = new Map<string, number>();
  /**
   * Session records whose status, model, workspace or task changed in queued events, written once per
   * batch. `lastSeq` and `updatedAt` change with every event: they are read from the last event
   * instead of being rewritten with each commit (one page less per commit).
   */
  readonly #dirty = new Map<string, SessionRecord>();
  readonly #records = new Map<string, SessionRecord>();
  readonly #ended = new Set<string>();
  readonly #listeners = new SessionListeners();
  readonly #stmt: {
    insertEvent: Statement;
    readEvents: Statement;
    maxSeq: Statement;
    upsertSession: Statement;
    getSession: Statement;
    lastEvent: Statement;
    listSessions: Statement;
    listTenantSessions: Statement;
  };

  private constructor(file: string, db: Database) {
    this.file = file;
    this.#db = db;
    this.#stmt = {
      // Inserts nothing (`changes` 0) when the file already holds a seq at or after the row's first:
      // another writer appended to the session; the batch fails rather than store a seq twice.
      insertEvent: db.prepare(
        `INSERT INTO events (tenant, session, first_seq, last_seq, body) SELECT ?1, ?2, ?3, ?4, ?5
         WHERE NOT EXISTS (SELECT 1 FROM events WHERE tenant = ?1 AND session = ?2 AND last_seq >= ?3)`,
      ),
      // A row ending after `afterSeq` holds at least one event after it: `limit` rows hold `limit` events.
      readEvents: db.prepare(
        "SELECT body FROM events WHERE tenant = ? AND session = ? AND last_seq > ? ORDER BY last_seq LIMIT ?",
      ),
      maxSeq: db.prepare("SELECT max(last_seq) AS s FROM events WHERE tenant = ? AND session = ?"),
      upsertSession: db.prepare(
        "INSERT INTO sessions (tenant, session, record, updated) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, session) DO UPDATE SET record = excluded.record, updated = excluded.updated",
      ),
      getSession: db.prepare("SELECT record FROM sessions WHERE tenant = ? AND session = ?"),
      lastEvent: db.prepare(
        "SELECT json_extract(body, '$[#-1]') AS body FROM events WHERE tenant = ? AND session = ? ORDER BY last_seq DESC LIMIT 1",
      ),
      listSessions: db.prepare(`SELECT record, ${LAST_EVENT} FROM sessions s`),
      listTenantSessions: db.prepare(`SELECT record, ${LAST_EVENT} FROM sessions s WHERE tenant = ?`),
    };
    this.eventLog = this.#makeEventLog();
    this.ledger = new SqliteLedger(db, this);
    this.approvals = new SqliteApprovals(db);
    this.sessions = {
      get: (scope) => this.#record(scope),
      list: (filter = {}) => {
        const rows = (
          filter.tenantId === undefined
            ? this.#stmt.listSessions.all()
            : this.#stmt.listTenantSessions.all(filter.tenantId)
        ) as { record: string; last: string | null }[];
        const byKey = new Map<string, SessionRecord>();
        for (const r of rows) {
          const rec = withLastEvent(JSON.parse(r.record) as SessionRecord, r.last);
          byKey.set(skey(rec), rec);
        }
        // This process's sessions with queued events: their records are ahead of the file.
        for (const [k, rec] of this.#records)
          if (filter.tenantId === undefined || rec.tenantId === filter.tenantId) byKey.set(k, rec);
        const sorted = [...byKey.values()].sort((a, b) => b.updatedAt - a.updatedAt);
        return filter.limit === undefined ? sorted : sorted.slice(0, filter.limit);
      },
    };
  }

  /** Opens (creating it and its directory if needed) and migrates the database at `file`. */
  static async open(file: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const path = file === ":memory:" ? file : resolve(file);
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = openDatabase(path, options.busyTimeoutMs ?? 5000);
    try {
      // Before the first write (switching to WAL is one): ignored by a file that already exists.
      db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${options.durability === "power" ? "FULL" : "NORMAL"}`);
      // A checkpoint fsyncs: every 4,000 WAL pages (8 MB of the 2 KiB pages of a file the store
      // created, 16 MB of an older file's 4 KiB; a few hundred steps) instead of SQLite's 1,000. The WAL is never cut back below that size (the limit is above it), so after the first
      // checkpoint each commit overwrites blocks the file already has: on ext4, a write that grows
      // the file (block allocation, a journalled size change) costs measurably more CPU per page.
      db.exec("PRAGMA wal_autocheckpoint = 4000");
      db.exec("PRAGMA journal_size_limit = 33554432");
      migrate(db, path);
    } catch (err) {
      db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        "REIN_STORE_FAILED",
        `Cannot open the SQLite store ${path}: ${errorMessage(err)}`,
        {
          file: path,
        },
      );
    }
    return new SqliteStore(path, db);
  }

  /** Queues a write for the next batch (the ledger's settle and release go here too). */
  enqueue(op: () => void): void {
    this.#writable();
    this.#current().ops.push(op);
  }

  /**
   * Runs `fn` in an immediate transaction that first commits everything queued, so what `fn`
   * reads is this process's whole state and what it writes lands after it (the ledger's reserve).
   */
  transact<R>(fn: () => R): R {
    this.#writable();
    const batch = this.#batch;
    this.#batch = undefined;
    let result: R;
    try {
      result = this.#db.immediate(() => {
        if (batch) this.#apply(batch);
        return fn();
      });
    } catch (err) {
      if (batch) this.#fail(batch, err);
      throw err instanceof StoreError ? err : (this.#failure ?? err);
    }
    if (batch) this.#committed(batch);
    return result;
  }

  /** Resolves when everything queued so far is committed. */
  sync(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#batch?.done ?? RESOLVED;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#commit();
    this.#closed = true;
    this.#db.close();
    if (this.#failure) throw this.#failure;
  }

  #writable(): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new StoreError("REIN_STORE_FAILED", `The SQLite store ${this.file} is closed.`);
  }

  #current(): Batch {
    if (this.#batch) return this.#batch;
    let resolveFn = () => {};
    let rejectFn: (err: unknown) => void = () => {};
    const done = new Promise<void>((res, rej) => {
      resolveFn = res;
      rejectFn = rej;
    });
    // A batch nobody waits for must not become an unhandled rejection; sync() callers still see it.
    done.catch(() => {});
    const batch: Batch = { ops: [], events: [], rows: new Map(), done, resolve: resolveFn, reject: rejectFn };
    this.#batch = batch;
    setImmediate(() => this.#commit());
    return batch;
  }

  #commit(): void {
    const batch = this.#batch;
    if (!batch || this.#closed) return;
    this.#batch = undefined;
    try {
      this.#db.immediate(() => this.#apply(batch));
    } catch (err) {
      this.#fail(batch, err);
      return;
    }
    this.#committed(batch);
  }

  #apply(batch: Batch): void {
    const insert = this.#stmt.insertEvent;
    for (const r of batch.rows.values()) {
      const { changes } = insert.run(r.tenant, r.session, r.first, r.last, `[${r.json}]`);
      if (Number(changes) === 0)
        throw new Error(
          `session ${r.session} (tenant ${r.tenant}) already holds an event at seq ${r.first} or later: another writer appended to it`,
        );
    }
    for (const op of batch.ops) op();
    for (const [k, rec] of this.#dirty) {
      this.#stmt.upsertSession.run(rec.tenantId, rec.sessionId, JSON.stringify(rec), rec.updatedAt);
      this.#dirty.delete(k);
    }
  }

  #committed(batch: Batch): void {
    this.ledger.committed();
    // A session that ended keeps nothing in memory: its record and last seq are read back if needed.
    for (const k of this.#ended) {
      this.#lastSeq.delete(k);
      this.#records.delete(k);
    }
    this.#ended.clear();
    batch.resolve();
  }

  #fail(batch: Batch, err: unknown): void {
    this.#failure ??= new StoreError(
      "REIN_STORE_FAILED",
      `The SQLite store ${this.file} could not commit: ${errorMessage(err)}`,
      { file: this.file },
    );
    batch.reject(this.#failure);
  }

  #record(scope: LogScope, k = skey(scope)): SessionRecord | undefined {
    const cached = this.#records.get(k);
    if (cached) return cached;
    const row = this.#stmt.getSession.get(scope.tenantId, scope.sessionId) as { record: string } | undefined;
    if (!row) return undefined;
    const last = this.#stmt.lastEvent.get(scope.tenantId, scope.sessionId) as { body: string } | undefined;
    return withLastEvent(JSON.parse(row.record) as SessionRecord, last?.body ?? null);
  }

  #last(scope: LogScope, k = skey(scope)): number {
    let last = this.#lastSeq.get(k);
    if (last === undefined) {
      const row = this.#stmt.maxSeq.get(scope.tenantId, scope.sessionId) as { s: number | null };
      last = row.s ?? 0;
    }
    return last;
  }

  #makeEventLog(): EventLog {
    return {
      append: (event) => {
        checkScope(event, "append");
        const k = skey(event);
        const lastSeq = this.#last(event, k);
        const seq = event.seq;
        checkNextSeq(event, lastSeq);
        const body = JSON.stringify(event);
        this.#writable();
        const batch = this.#current();
        batch.events.push(event);
        const row = batch.rows.get(k);
        if (row) {
          row.last = seq;
          row.json += `,${body}`;
        } else
          batch.rows.set(k, {
            tenant: event.tenantId,
            session: event.sessionId,
            first: seq,
            last: seq,
            json: body,
          });
        this.#lastSeq.set(k, seq);
        const before = this.#record(event, k);
        const record = nextSessionRecord(before, event);
        this.#records.set(k, record);
        if (
          before === undefined ||
          record.status !== before.status ||
          record.model !== before.model ||
          record.workspace !== before.workspace ||
          record.task !== before.task
        )
          this.#dirty.set(k, record);
        if (event.type === "session_ended") this.#ended.add(k);
        else this.#ended.delete(k);
        this.#listeners.notify(k, event);
      },
      read: (scope, afterSeq, limit = Number.POSITIVE_INFINITY) => {
        checkScope(scope, "read");
        checkReadBounds(afterSeq, limit);
        const max = Number.isFinite(limit) ? limit : -1;
        const rows = this.#stmt.readEvents.all(scope.tenantId, scope.sessionId, afterSeq, max) as {
          body: string;
        }[];
        const events: ReinEvent[] = [];
        for (const r of rows)
          for (const e of JSON.parse(r.body) as ReinEvent[])
            if (e.seq > afterSeq && events.length < limit) events.push(e);
        return withUnsent(events, this.#batch?.events, scope, afterSeq, limit);
      },
      lastSeq: (scope) => {
        checkScope(scope, "lastSeq");
        return this.#last(scope);
      },
      subscribe: (scope, listener) => {
        checkScope(scope, "subscribe");
        return this.#listeners.add(scope, listener);
      },
      flush: () => {
        this.#commit();
        return this.sync();
      },
      sync: () => this.sync(),
    };
  }
}

class SqliteApprovals implements ApprovalStore {
  readonly #db: Database;
  readonly #s: Record<"insert" | "get" | "byCall" | "update" | "list" | "bySession", Statement>;
  constructor(db: Database) {
    this.#db = db;
    this.#s = {
      insert: db.prepare(
        "INSERT INTO approvals (id, tenant, session, turn, call_id, args_hash, status, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      get: db.prepare("SELECT record FROM approvals WHERE id = ?"),
      byCall: db.prepare(
        "SELECT record FROM approvals WHERE tenant = ? AND session = ? AND call_id = ? AND args_hash = ? AND turn IS ? ORDER BY rowid DESC LIMIT 1",
      ),
      bySession: db.prepare(
        "SELECT record FROM approvals WHERE tenant = ? AND session = ? AND args_hash = ? AND status = 'approved'",
      ),
      update: db.prepare("UPDATE approvals SET status = ?, record = ? WHERE id = ?"),
      list: db.prepare("SELECT record FROM approvals ORDER BY rowid"),
    };
  }
  create(record: Omit<ApprovalRecord, "status" | "decision" | "decidedAt">): void {
    const full: ApprovalRecord = { ...record, status: "pending", decision: null, decidedAt: null };
    this.#s.insert.run(
      full.id,
      full.tenantId,
      full.sessionId,
      full.turn ?? null,
      full.callId,
      full.argsHash,
      full.status,
      JSON.stringify(full),
    );
  }
  get(id: string): ApprovalRecord | undefined {
    const row = this.#s.get.get(id) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as ApprovalRecord) : undefined;
  }
  findCall(scope: LogScope, turn: number, callId: string, argsHash: string): ApprovalRecord | undefined {
    const row = this.#s.byCall.get(scope.tenantId, scope.sessionId, callId, argsHash, turn) as
      | { record: string }
      | undefined;
    return row ? (JSON.parse(row.record) as ApprovalRecord) : undefined;
  }
  approvedForSession(scope: LogScope, argsHash: string): boolean {
    const rows = this.#s.bySession.all(scope.tenantId, scope.sessionId, argsHash) as { record: string }[];
    return rows.some((r) => {
      const d = (JSON.parse(r.record) as ApprovalRecord).decision;
      return d?.outcome === "approved" && d.scope === "session";
    });
  }
  list(filter: { tenantId?: string; status?: ApprovalRecord["status"] } = {}): readonly ApprovalRecord[] {
    return (this.#s.list.all() as { record: string }[])
      .map((r) => JSON.parse(r.record) as ApprovalRecord)
      .filter(
        (r) =>
          (filter.tenantId === undefined || r.tenantId === filter.tenantId) &&
          (filter.status === undefined || r.status === filter.status),
      );
  }
  decide(
    id: string,
    verdict: ApprovalVerdict,
    options: { by: string; argsHash?: string; now?: number },
  ): ApprovalRecord {
    // Immediate: two processes deciding at once are serialised; the second sees the first's decision.
    return this.#db.immediate(() => {
      const current = this.get(id);
      const next = applyVerdict(current, id, verdict, options);
      if (!next) return current as ApprovalRecord;
      this.#s.update.run(next.status, JSON.stringify(next), id);
      return next;
    });
  }
  expire(id: string, now = Date.now()): ApprovalRecord {
    return this.#db.immediate(() => {
      const current = this.get(id);
      if (!current) return applyVerdict(current, id, { outcome: "denied", reason: "" }, { by: "" }) as never;
      if (current.status !== "pending" || now <= current.expiresAt) return current;
      const next = expiredRecord(current, now);
      this.#s.update.run(next.status, JSON.stringify(next), id);
      return next;
    });
  }
}

/** The body of the session's last committed event, as a column named `last`. */
const LAST_EVENT =
  "(SELECT json_extract(body, '$[#-1]') FROM events e WHERE e.tenant = s.tenant AND e.session = s.session ORDER BY last_seq DESC LIMIT 1) AS last";

/** A stored record with `lastSeq` and `updatedAt` from the session's last committed event. */
function withLastEvent(record: SessionRecord, lastBody: string | null): SessionRecord {
  if (lastBody === null) return record;
  const last = JSON.parse(lastBody) as ReinEvent;
  return last.seq > record.lastSeq ? { ...record, lastSeq: last.seq, updatedAt: last.ts } : record;
}
