import { StoreError } from "../protocol/errors.js";
import { applyVerdict, expiredRecord } from "./approval-decision.js";
import type { LogScope } from "./event-log.js";
import type { RedisBridge, RedisCommand } from "./redis-bridge.js";
import { sessionBase, tenantBase } from "./redis-scripts.js";
import type { ApprovalRecord, ApprovalStore, ApprovalVerdict } from "./store.js";

/** Tries of a compare-and-set before giving up (each lost try means another process decided). */
const CAS_TRIES = 20;

/**
 * Durable approvals in Redis: one JSON record per approval under its tenant, an index of ids (an id
 * is looked up alone) and each session's list. A record expires with its finished session; its index
 * entries go when a lookup or a listing finds it gone. A decision is a compare-and-set of the record: of two
 * processes deciding at once, one wins and the other re-reads it (the same decision again is
 * accepted, a conflicting one refused), with the one rule both other stores apply (`applyVerdict`).
 */
export class RedisApprovals implements ApprovalStore {
  readonly #bridge: RedisBridge;
  readonly #prefix: string;
  constructor(bridge: RedisBridge, prefix: string) {
    this.#bridge = bridge;
    this.#prefix = prefix;
  }

  #key(tenantId: string, id: string): string {
    return `${tenantBase(this.#prefix, tenantId)}:apr:${encodeURIComponent(id)}`;
  }

  create(record: Omit<ApprovalRecord, "status" | "decision" | "decidedAt">): void {
    const full: ApprovalRecord = { ...record, status: "pending", decision: null, decidedAt: null };
    const claimed = this.#bridge.one(["hsetnx", `${this.#prefix}:approvals`, full.id, full.tenantId]);
    if (claimed !== 1)
      throw new StoreError(
        "REIN_STORE_FAILED",
        `An approval with id ${JSON.stringify(full.id)} already exists.`,
        {
          id: full.id,
        },
      );
    const [created] = this.#bridge.call([
      [
        "reinCreateApproval",
        this.#key(full.tenantId, full.id),
        JSON.stringify(full),
        `${sessionBase(this.#prefix, full.tenantId, full.sessionId)}:aprs`,
        full.id,
      ],
      ["rpush", `${this.#prefix}:approval-order`, full.id],
    ]);
    if (!created?.ok || created.value !== 1)
      throw this.#bridge.storeError(
        `approval ${full.id} could not be created: ${created?.ok ? "it exists" : created?.error}`,
      );
  }

  /** The stored JSON of an approval (undefined when there is none), for a compare-and-set. */
  #raw(id: string): { key: string; raw: string } | undefined {
    const tenant = this.#bridge.one(["hget", `${this.#prefix}:approvals`, id]);
    if (typeof tenant !== "string") return undefined;
    const key = this.#key(tenant, id);
    const raw = this.#bridge.one(["get", key]);
    if (typeof raw === "string") return { key, raw };
    this.#forget([id]);
    return undefined;
  }

  /**
   * Drops ids whose record is gone (it expired with its finished session) from the global index and
   * order, which live outside any tenant's keys and so expire with none: whoever finds one gone (a
   * lookup, a listing) removes it, so the index holds the approvals that exist, plus those expired
   * since the last listing.
   */
  #forget(ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.#bridge.call([
      ["hdel", `${this.#prefix}:approvals`, ...ids],
      ...ids.map((id): RedisCommand => ["lrem", `${this.#prefix}:approval-order`, 0, id]),
    ]);
  }

  get(id: string): ApprovalRecord | undefined {
    if (typeof id !== "string") return undefined;
    const r = this.#raw(id);
    return r ? (JSON.parse(r.raw) as ApprovalRecord) : undefined;
  }

  #ofSession(scope: LogScope): ApprovalRecord[] {
    const ids = this.#bridge.one([
      "lrange",
      `${sessionBase(this.#prefix, scope.tenantId, scope.sessionId)}:aprs`,
      0,
      -1,
    ]) as string[];
    if (ids.length === 0) return [];
    const raws = this.#bridge.one(["mget", ...ids.map((id) => this.#key(scope.tenantId, id))]) as (
      | string
      | null
    )[];
    return raws.filter((r): r is string => typeof r === "string").map((r) => JSON.parse(r) as ApprovalRecord);
  }

  findCall(scope: LogScope, turn: number, callId: string, argsHash: string): ApprovalRecord | undefined {
    return this.#ofSession(scope).findLast(
      (r) => r.turn === turn && r.callId === callId && r.argsHash === argsHash,
    );
  }

  approvedForSession(scope: LogScope, argsHash: string): boolean {
    return this.#ofSession(scope).some(
      (r) =>
        r.argsHash === argsHash &&
        r.status === "approved" &&
        r.decision?.outcome === "approved" &&
        r.decision.scope === "session",
    );
  }

  list(filter: { tenantId?: string; status?: ApprovalRecord["status"] } = {}): readonly ApprovalRecord[] {
    const ids = this.#bridge.one(["lrange", `${this.#prefix}:approval-order`, 0, -1]) as string[];
    if (ids.length === 0) return [];
    const tenants = this.#bridge.one(["hmget", `${this.#prefix}:approvals`, ...ids]) as (string | null)[];
    const wanted = ids.flatMap((id, i) => {
      const t = tenants[i];
      return typeof t === "string" && (filter.tenantId === undefined || t === filter.tenantId)
        ? [{ id, key: this.#key(t, id) }]
        : [];
    });
    const records: ApprovalRecord[] = [];
    const gone = ids.filter((_, i) => typeof tenants[i] !== "string");
    if (wanted.length > 0) {
      const raws = this.#bridge.call(wanted.map(({ key }) => ["get", key]));
      for (let i = 0; i < raws.length; i++) {
        const r = raws[i]!;
        if (r.ok && typeof r.value === "string") records.push(JSON.parse(r.value) as ApprovalRecord);
        else if (r.ok) gone.push(wanted[i]!.id);
      }
    }
    this.#forget(gone);
    return records.filter((r) => filter.status === undefined || r.status === filter.status);
  }

  decide(
    id: string,
    verdict: ApprovalVerdict,
    options: { by: string; argsHash?: string; now?: number },
  ): ApprovalRecord {
    return this.#update(id, (current) => applyVerdict(current, id, verdict, options));
  }

  expire(id: string, now = Date.now()): ApprovalRecord {
    return this.#update(id, (current) => {
      if (!current) return applyVerdict(current, id, { outcome: "denied", reason: "" }, { by: "" });
      if (current.status !== "pending" || now <= current.expiresAt) return undefined;
      return expiredRecord(current, now);
    });
  }

  /** Reads, decides with `next` (undefined: unchanged), and stores only if nobody changed it meanwhile. */
  #update(
    id: string,
    next: (current: ApprovalRecord | undefined) => ApprovalRecord | undefined,
  ): ApprovalRecord {
    for (let i = 0; i < CAS_TRIES; i++) {
      const r = typeof id === "string" ? this.#raw(id) : undefined;
      const current = r ? (JSON.parse(r.raw) as ApprovalRecord) : undefined;
      const updated = next(current);
      if (!updated || !r) return current as ApprovalRecord;
      const json = JSON.stringify(updated);
      if (this.#bridge.one(["reinCas", r.key, r.raw, json]) === 1) return updated;
    }
    throw this.#bridge.storeError(
      `approval ${id} kept changing under ${CAS_TRIES} decisions; nothing was decided`,
    );
  }
}
