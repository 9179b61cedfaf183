import type { LedgerScope } from "../guards/ledger.js";
import { MemoryLedger } from "../guards/memory-ledger.js";
import type { ReinEvent } from "../protocol/events.js";
import { applyVerdict, expiredRecord } from "./approval-decision.js";
import type { LogScope } from "./event-log.js";
import { MemoryEventLog } from "./memory-event-log.js";
import {
  type ApprovalRecord,
  type ApprovalStore,
  nextSessionRecord,
  type OpenReservation,
  type SessionIndex,
  type SessionRecord,
  type Store,
} from "./store.js";

/** Approvals in a Map: decided from this process only. */
export class MemoryApprovals implements ApprovalStore {
  readonly #records = new Map<string, ApprovalRecord>();

  create(record: Omit<ApprovalRecord, "status" | "decision" | "decidedAt">): void {
    this.#records.set(record.id, { ...record, status: "pending", decision: null, decidedAt: null });
  }
  get(id: string): ApprovalRecord | undefined {
    return this.#records.get(id);
  }
  findCall(scope: LogScope, turn: number, callId: string, argsHash: string): ApprovalRecord | undefined {
    let found: ApprovalRecord | undefined;
    for (const r of this.#records.values())
      if (
        r.tenantId === scope.tenantId &&
        r.sessionId === scope.sessionId &&
        r.turn === turn &&
        r.callId === callId &&
        r.argsHash === argsHash
      )
        found = r;
    return found;
  }
  approvedForSession(scope: LogScope, argsHash: string): boolean {
    for (const r of this.#records.values())
      if (
        r.tenantId === scope.tenantId &&
        r.sessionId === scope.sessionId &&
        r.argsHash === argsHash &&
        r.decision?.outcome === "approved" &&
        r.decision.scope === "session"
      )
        return true;
    return false;
  }
  list(filter: { tenantId?: string; status?: ApprovalRecord["status"] } = {}): readonly ApprovalRecord[] {
    return [...this.#records.values()].filter(
      (r) =>
        (filter.tenantId === undefined || r.tenantId === filter.tenantId) &&
        (filter.status === undefined || r.status === filter.status),
    );
  }
  decide(
    id: string,
    verdict: Parameters<ApprovalStore["decide"]>[1],
    options: Parameters<ApprovalStore["decide"]>[2],
  ): ApprovalRecord {
    const current = this.#records.get(id);
    const next = applyVerdict(current, id, verdict, options);
    if (next) this.#records.set(id, next);
    return next ?? (current as ApprovalRecord);
  }
  expire(id: string, now = Date.now()): ApprovalRecord {
    const r = this.#records.get(id);
    if (!r) return applyVerdict(r, id, { outcome: "denied", reason: "" }, { by: "" }) as never; // throws NOT_FOUND
    if (r.status !== "pending" || now <= r.expiresAt) return r;
    const next = expiredRecord(r, now);
    this.#records.set(id, next);
    return next;
  }
}

/**
 * Session records kept current from the log's appends, by tenant then session (no key string built
 * per event).
 */
class MemorySessions implements SessionIndex {
  readonly #tenants = new Map<string, Map<string, SessionRecord>>();
  apply(event: ReinEvent): void {
    let records = this.#tenants.get(event.tenantId);
    if (records === undefined) {
      records = new Map();
      this.#tenants.set(event.tenantId, records);
    }
    records.set(event.sessionId, nextSessionRecord(records.get(event.sessionId), event));
  }
  get(scope: LogScope): SessionRecord | undefined {
    return this.#tenants.get(scope.tenantId)?.get(scope.sessionId);
  }
  list(filter: { tenantId?: string; limit?: number } = {}): readonly SessionRecord[] {
    const all: SessionRecord[] = [];
    for (const [tenantId, records] of this.#tenants)
      if (filter.tenantId === undefined || tenantId === filter.tenantId) all.push(...records.values());
    return all.sort((a, b) => b.updatedAt - a.updatedAt).slice(0, filter.limit ?? Number.POSITIVE_INFINITY);
  }
}

/** A log that also keeps the session records. */
class IndexedMemoryEventLog extends MemoryEventLog {
  readonly #sessions: MemorySessions;
  constructor(sessions: MemorySessions) {
    super();
    this.#sessions = sessions;
  }
  override append(event: ReinEvent): void {
    super.append(event);
    this.#sessions.apply(event);
  }
}

/**
 * Everything in this process's memory: the default. Lost when the process exits; use `SqliteStore`
 * for sessions that survive a crash.
 */
export class MemoryStore implements Store {
  readonly name = "memory";
  readonly sessions: SessionIndex;
  readonly eventLog: MemoryEventLog;
  readonly ledger: MemoryLedger & { openReservations(scope: LedgerScope): readonly OpenReservation[] };
  readonly approvals = new MemoryApprovals();

  constructor() {
    const sessions = new MemorySessions();
    this.sessions = sessions;
    this.eventLog = new IndexedMemoryEventLog(sessions);
    this.ledger = new MemoryLedger();
  }

  async close(): Promise<void> {}
}
