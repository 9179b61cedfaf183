import { StoreError } from "../protocol/errors.js";
import type { ReinEvent } from "../protocol/events.js";
import type { EventLog, LogScope } from "./event-log.js";
import {
  checkNextSeq,
  checkReadBounds,
  checkScope,
  SessionListeners,
  sessionKey,
  withUnsent,
} from "./log-checks.js";
import { RedisApprovals } from "./redis-approvals.js";
import { RedisBridge, type RedisCommand, type RedisReply, redactUrl } from "./redis-bridge.js";
import { type LedgerClose, RedisLedger } from "./redis-ledger.js";
import { REDIS_SCHEMA_VERSION, sessionBase, tenantBase } from "./redis-scripts.js";
import { nextSessionRecord, type SessionIndex, type SessionRecord, type Store } from "./store.js";

export interface RedisStoreOptions {
  /** The first part of every key (default `rein`): keys are `<prefix>:{<tenant>}:…`. */
  readonly prefix?: string;
  /**
   * How long a finished session (its last run completed, failed, cancelled or incomplete, or the
   * session closed) is kept, in seconds: its log, record, reservations, ledger account and approvals
   * expire then. Any later event keeps it again. Default 7 days; 0 keeps finished sessions forever.
   */
  readonly finishedSessionTtlSeconds?: number;
  /** How long one command may take before the store fails (default 10000 ms). */
  readonly commandTimeoutMs?: number;
  /** How long connecting may take (default 5000 ms). */
  readonly connectTimeoutMs?: number;
}

/**
 * Migrations of the key layout, one per version after the first: `REDIS_MIGRATIONS[i]` brings a
 * database from version i + 1 to i + 2. A released layout is never edited; a database written by
 * every released version must still open.
 */
export const REDIS_MIGRATIONS: readonly ((bridge: RedisBridge, prefix: string) => void)[] = [];

const FINISHED = new Set(["completed", "failed", "cancelled", "incomplete", "closed"]);
const skey = sessionKey;
const RESOLVED = Promise.resolve();

interface Group {
  readonly scope: LogScope;
  /** The session's last seq before this batch's events: the script refuses them if it moved. */
  expectedLast: number;
  readonly events: (string | number)[];
  record: SessionRecord | undefined;
  readonly closes: LedgerClose[];
}
interface Batch {
  readonly groups: Map<string, Group>;
  readonly events: ReinEvent[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The distributed store: the event log (a stream per session), session records, the ledger and
 * pending approvals in Redis, shared by every process that opens the same URL and prefix. Keys are
 * tenant-scoped (`rein:{tenant}:…`); a finished session expires after `finishedSessionTtlSeconds`.
 *
 * Group commit, as the SQLite store: `append` buffers; one script per session and event-loop tick
 * appends its events (only if the session's last seq is still the one this writer saw: two writers
 * cannot interleave a session) and closes the reservations settled in that tick, atomically.
 * `eventLog.sync()` resolves when that has happened. Reservations are one script each: the ceiling
 * check and the reservation are atomic across processes. ioredis runs in a worker thread (loaded
 * only when a store opens), and reads wait for it, so the store keeps the synchronous interfaces.
 *
 * @example
 * const store = await RedisStore.open("redis://127.0.0.1:6379/0");
 * const harness = createHarness({ model, store, approvals: { gate: durableGate(store) } });
 */
export class RedisStore implements Store {
  readonly name = "redis";
  readonly url: string;
  readonly prefix: string;
  readonly eventLog: EventLog;
  readonly ledger: RedisLedger;
  readonly approvals: RedisApprovals;
  readonly sessions: SessionIndex;
  readonly #bridge: RedisBridge;
  readonly #ttl: number;
  #batch: Batch | undefined;
  /** The last batch sent to Redis. */
  #posted: Promise<void> = RESOLVED;
  #failure: StoreError | undefined;
  #closed = false;
  readonly #lastSeq = new Map<string, number>();
  readonly #records = new Map<string, SessionRecord>();
  readonly #ended = new Set<string>();
  readonly #tenants = new Set<string>();
  readonly #listeners = new SessionListeners();

  private constructor(bridge: RedisBridge, prefix: string, ttl: number) {
    this.#bridge = bridge;
    this.url = redactUrl(bridge.url);
    this.prefix = prefix;
    this.#ttl = ttl;
    this.eventLog = this.#makeEventLog();
    this.ledger = new RedisLedger(bridge, prefix, this);
    this.approvals = new RedisApprovals(bridge, prefix);
    this.sessions = {
      get: (scope) => this.#record(scope),
      list: (filter = {}) => this.#list(filter),
    };
  }

  /**
   * Connects to `url` (`redis://[:password@]host:port/db`, `?prefix=` for the key prefix, so a URL
   * alone names a store) and checks the layout version. Fails at
   * once with `REIN_STORE_UNREACHABLE` when Redis does not answer, `REIN_STORE_SCHEMA_UNSUPPORTED`
   * when a newer Rein wrote it.
   */
  static async open(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const { connectUrl, urlPrefix } = splitUrl(url);
    const prefix = options.prefix ?? urlPrefix ?? "rein";
    if (!/^[A-Za-z0-9_.-]+$/.test(prefix))
      throw new StoreError(
        "REIN_STORE_FAILED",
        `Redis store prefix ${JSON.stringify(prefix)}: use letters, digits, _ . -`,
      );
    const ttl = options.finishedSessionTtlSeconds ?? 7 * 24 * 3600;
    if (!Number.isSafeInteger(ttl) || ttl < 0)
      throw new StoreError(
        "REIN_STORE_FAILED",
        `finishedSessionTtlSeconds must be an integer >= 0, got ${String(ttl)}`,
      );
    const bridge = await RedisBridge.open({
      url: connectUrl,
      commandTimeoutMs: options.commandTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    });
    try {
      migrate(bridge, prefix);
    } catch (err) {
      await bridge.close();
      throw err;
    }
    return new RedisStore(bridge, prefix, ttl);
  }

  /** Queues closing a reservation into the session's part of the current batch (the ledger's settle). */
  enqueueClose(scope: LogScope, close: LedgerClose): void {
    this.#writable();
    this.#group(this.#current(), scope).closes.push(close);
  }

  /** Sends the queued batch now: a read sent after it sees it. */
  flushPending(): void {
    this.#commit();
  }

  /** Resolves when everything appended so far is committed (batches commit in the order sent). */
  sync(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#batch?.done ?? this.#posted;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#commit();
    await this.#posted.catch(() => {});
    this.#closed = true;
    await this.#bridge.close();
    if (this.#failure) throw this.#failure;
  }

  #writable(): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new StoreError("REIN_STORE_FAILED", `The Redis store ${this.url} is closed.`);
  }

  #current(): Batch {
    if (this.#batch) return this.#batch;
    let resolveFn = () => {};
    let rejectFn: (err: unknown) => void = () => {};
    const done = new Promise<void>((res, rej) => {
      resolveFn = res;
      rejectFn = rej;
    });
    done.catch(() => {});
    const batch: Batch = { groups: new Map(), events: [], done, resolve: resolveFn, reject: rejectFn };
    this.#batch = batch;
    setImmediate(() => this.#commit());
    return batch;
  }

  #group(batch: Batch, scope: LogScope): Group {
    const k = skey(scope);
    let g = batch.groups.get(k);
    if (!g) {
      g = {
        scope: { tenantId: scope.tenantId, sessionId: scope.sessionId },
        expectedLast: 0,
        events: [],
        record: undefined,
        closes: [],
      };
      batch.groups.set(k, g);
    }
    return g;
  }

  #commit(): void {
    const batch = this.#batch;
    if (!batch || this.#closed) return;
    this.#batch = undefined;
    this.ledger.posted();
    const commands: RedisCommand[] = [];
    for (const g of batch.groups.values()) {
      const { tenantId, sessionId } = g.scope;
      const n = g.events.length / 2;
      if (n > 0 && !this.#tenants.has(tenantId)) commands.push(["sadd", `${this.prefix}:tenants`, tenantId]);
      const rec = g.record;
      commands.push([
        "reinCommit",
        tenantBase(this.prefix, tenantId),
        sessionBase(this.prefix, tenantId, sessionId),
        g.expectedLast,
        rec?.lastSeq ?? 0,
        rec ? JSON.stringify(rec) : "",
        rec?.updatedAt ?? 0,
        sessionId,
        this.#ttl,
        rec && FINISHED.has(rec.status) ? "1" : "0",
        n,
        ...g.events,
        JSON.stringify(g.closes),
      ]);
    }
    this.#posted = batch.done;
    const failed = (err: unknown) => {
      this.#failure ??= err instanceof StoreError ? err : this.#bridge.storeError(String(err));
      batch.reject(this.#failure);
    };
    let sent: Promise<RedisReply[]>;
    try {
      sent = this.#bridge.post(commands);
    } catch (err) {
      failed(err);
      return;
    }
    sent
      .then((replies) => {
        const bad = replies.find((r) => !r.ok);
        if (bad && !bad.ok) throw this.#bridge.storeError(`a batch could not commit: ${bad.error}`);
        for (const g of batch.groups.values()) if (g.events.length > 0) this.#tenants.add(g.scope.tenantId);
        for (const k of this.#ended) {
          this.#lastSeq.delete(k);
          this.#records.delete(k);
        }
        this.#ended.clear();
        batch.resolve();
      })
      .catch(failed);
  }

  /** The session's last seq and record, as this process (its writer) keeps them while it appends. */
  #state(scope: LogScope): { last: number; record: SessionRecord | undefined } {
    const k = skey(scope);
    const last = this.#lastSeq.get(k);
    if (last !== undefined) return { last, record: this.#records.get(k) };
    const [raw, lastRaw] = this.#bridge.one([
      "hmget",
      `${sessionBase(this.prefix, scope.tenantId, scope.sessionId)}:rec`,
      "record",
      "last",
    ]) as [string | null, string | null];
    return {
      last: lastRaw === null ? 0 : Number(lastRaw),
      record: raw ? (JSON.parse(raw) as SessionRecord) : undefined,
    };
  }

  #record(scope: LogScope): SessionRecord | undefined {
    // A session with events in the unsent batch is cached (this process is its writer).
    const cached = this.#records.get(skey(scope));
    if (cached) return cached;
    const raw = this.#bridge.one([
      "hget",
      `${sessionBase(this.prefix, scope.tenantId, scope.sessionId)}:rec`,
      "record",
    ]);
    return typeof raw === "string" && raw !== "" ? (JSON.parse(raw) as SessionRecord) : undefined;
  }

  #last(scope: LogScope): number {
    const k = skey(scope);
    const cached = this.#lastSeq.get(k);
    if (cached !== undefined) return cached;
    const raw = this.#bridge.one([
      "hget",
      `${sessionBase(this.prefix, scope.tenantId, scope.sessionId)}:rec`,
      "last",
    ]);
    return typeof raw === "string" ? Number(raw) : 0;
  }

  #list(filter: { readonly tenantId?: string; readonly limit?: number }): readonly SessionRecord[] {
    this.flushPending();
    const limit = filter.limit ?? -1;
    const tenants =
      filter.tenantId !== undefined
        ? [filter.tenantId]
        : (this.#bridge.one(["smembers", `${this.prefix}:tenants`]) as string[]);
    const ids: [string, string][] = [];
    const ranges = this.#bridge.call(
      tenants.map((t) => [
        "zrevrange",
        `${tenantBase(this.prefix, t)}:sessions`,
        0,
        limit < 0 ? -1 : limit - 1,
      ]),
    );
    tenants.forEach((t, i) => {
      const r = ranges[i];
      if (r?.ok) for (const s of r.value as string[]) ids.push([t, s]);
    });
    if (ids.length === 0) return [];
    const recs = this.#bridge.call(
      ids.map(([t, s]) => ["hget", `${sessionBase(this.prefix, t, s)}:rec`, "record"]),
    );
    const out: SessionRecord[] = [];
    for (const r of recs)
      if (r.ok && typeof r.value === "string") out.push(JSON.parse(r.value) as SessionRecord);
    out.sort((a, b) => b.updatedAt - a.updatedAt);
    return limit < 0 ? out : out.slice(0, limit);
  }

  #makeEventLog(): EventLog {
    return {
      append: (event) => {
        checkScope(event, "append");
        const k = skey(event);
        const { last: lastSeq, record: previous } = this.#state(event);
        const seq = event.seq;
        checkNextSeq(event, lastSeq);
        const body = JSON.stringify(event);
        this.#writable();
        const record = nextSessionRecord(previous, event);
        const batch = this.#current();
        const g = this.#group(batch, event);
        if (g.events.length === 0) g.expectedLast = lastSeq;
        g.events.push(seq, body);
        g.record = record;
        batch.events.push(event);
        this.#lastSeq.set(k, seq);
        this.#records.set(k, record);
        if (event.type === "session_ended") this.#ended.add(k);
        else this.#ended.delete(k);
        this.#listeners.notify(k, event);
      },
      read: (scope, afterSeq, limit = Number.POSITIVE_INFINITY) => {
        checkScope(scope, "read");
        checkReadBounds(afterSeq, limit);
        if (limit === 0) return [];
        const key = `${sessionBase(this.prefix, scope.tenantId, scope.sessionId)}:log`;
        const command: RedisCommand = Number.isFinite(limit)
          ? ["xrange", key, `${afterSeq + 1}-0`, "+", "COUNT", limit]
          : ["xrange", key, `${afterSeq + 1}-0`, "+"];
        const entries = this.#bridge.one(command) as [string, string[]][];
        const events = entries.map(([, fields]) => JSON.parse(fields[1] as string) as ReinEvent);
        // Batches already sent reached Redis before this read; the unsent one is read from here.
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

/** The URL ioredis connects to, and the `?prefix=` it carries (a store option, not ioredis's). */
function splitUrl(url: string): { connectUrl: string; urlPrefix: string | undefined } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StoreError(
      "REIN_STORE_FAILED",
      `Invalid Redis URL ${JSON.stringify(redactUrl(url))}: expected redis://host:port/db.`,
    );
  }
  const urlPrefix = u.searchParams.get("prefix") ?? undefined;
  u.searchParams.delete("prefix");
  return { connectUrl: u.toString(), urlPrefix };
}

/** Brings the key layout to REDIS_SCHEMA_VERSION; refuses one written by a newer Rein. */
function migrate(bridge: RedisBridge, prefix: string): void {
  const key = `${prefix}:schema`;
  bridge.one(["set", key, String(REDIS_SCHEMA_VERSION), "NX"]);
  const current = Number(bridge.one(["get", key]));
  if (!Number.isSafeInteger(current) || current > REDIS_SCHEMA_VERSION) {
    throw new StoreError(
      "REIN_STORE_SCHEMA_UNSUPPORTED",
      `Redis ${redactUrl(bridge.url)} (prefix ${prefix}) has layout version ${String(current)}; this Rein knows up to ${REDIS_SCHEMA_VERSION}. Upgrade Rein to open it.`,
      { url: redactUrl(bridge.url), prefix, version: current, supported: REDIS_SCHEMA_VERSION },
    );
  }
  for (let v = current; v < REDIS_SCHEMA_VERSION; v++) {
    REDIS_MIGRATIONS[v - 1]?.(bridge, prefix);
    bridge.one(["set", key, String(v + 1)]);
  }
}
