/**
 * The Store contract (src/state/store.ts): the event log and ledger contracts on the store's parts,
 * plus session records, durable approvals and open reservations. Run it on every store:
 *
 * ```ts
 * import { storeContract } from "rein/testing";
 * storeContract({ name: "SqliteStore", create: () => SqliteStore.open(tempFile()) });
 * ```
 */
import { describe, expect } from "vitest";
import { EVENT_VERSION, type ReinEvent } from "../protocol/events.js";
import type { ApprovalRecord, Store } from "../state/store.js";
import { type ContractCheck, type Factory, registerContract } from "./contract.js";
import { eventLogChecks } from "./event-log-contract.js";
import { ledgerChecks } from "./ledger-contract.js";

export interface StoreContractOptions {
  readonly name: string;
  /** A fresh, empty store; called once per check. */
  readonly create: Factory<Store>;
  /** Called after each check (the default closes the store). */
  readonly dispose?: (store: Store) => void | Promise<void>;
}

/** Registers the Store contract's checks (and the event log and ledger contracts on its parts). */
export function storeContract(options: StoreContractOptions): void {
  describe(`Store contract: ${options.name}`, () => {
    const owners = new Map<unknown, Store>();
    const part = <T>(pick: (s: Store) => T) => ({
      name: options.name,
      create: async () => {
        const store = await options.create();
        const p = pick(store);
        owners.set(p, store);
        return p;
      },
      dispose: async (p: unknown) => {
        const store = owners.get(p);
        owners.delete(p);
        if (store) await (options.dispose ?? ((s: Store) => s.close()))(store);
      },
    });
    registerContract("event log", eventLogChecks(part((s) => s.eventLog)));
    registerContract("ledger", ledgerChecks(part((s) => s.ledger)));
    registerContract("store", storeChecks(options));
  });
}

const SCOPE = { tenantId: "tenant-a", sessionId: "ses-1" };
const ev = (seq: number, type: string, data: unknown, ts = 1_700_000_000_000 + seq): ReinEvent =>
  ({ v: EVENT_VERSION, seq, ...SCOPE, runId: "run_1", ts, type, data }) as ReinEvent;

const pending = (id: string, over: Partial<ApprovalRecord> = {}) => ({
  id,
  ...SCOPE,
  runId: "run_1",
  callId: "call_1",
  turn: 1,
  tool: "append_line",
  input: { line: "x" },
  argsHash: "hash-1",
  risk: { level: "HIGH" as const, reason: "writes", rule: "test" },
  requestedAt: 1000,
  expiresAt: Date.now() + 60_000,
  onTimeout: "deny" as const,
  ...over,
});

/** The store-level checks. */
export function storeChecks(options: StoreContractOptions): ContractCheck[] {
  const check = (name: string, body: (store: Store) => void | Promise<void>): ContractCheck => ({
    name,
    async run() {
      const store = await options.create();
      try {
        await body(store);
      } finally {
        await (options.dispose ?? ((s: Store) => s.close()))(store);
      }
    },
  });
  return [
    check("session records follow the events: model, workspace, task, status, last seq", async (store) => {
      store.eventLog.append(ev(1, "session_started", { model: "m", tools: [], workspace: "/w" }));
      store.eventLog.append(ev(2, "run_started", { task: "do it", limits: {} }));
      expect(store.sessions.get(SCOPE)).toMatchObject({
        status: "running",
        lastSeq: 2,
        model: "m",
        task: "do it",
      });
      await store.eventLog.sync?.();
      store.eventLog.append(ev(3, "run_ended", { status: "requires_action" }));
      await store.eventLog.flush();
      expect(store.sessions.get(SCOPE)).toMatchObject({
        status: "requires_action",
        lastSeq: 3,
        workspace: "/w",
        createdAt: 1_700_000_000_001,
      });
      expect(store.sessions.list().map((r) => r.sessionId)).toEqual(["ses-1"]);
      expect(store.sessions.list({ tenantId: "other" })).toEqual([]);
      expect(store.sessions.get({ ...SCOPE, tenantId: "other" })).toBeUndefined();
    }),
    check("sync resolves once appended events are committed; read sees them in order", async (store) => {
      for (let s = 1; s <= 50; s++) store.eventLog.append(ev(s, "text_delta", { turn: 1, delta: `${s}` }));
      await store.eventLog.sync?.();
      expect(store.eventLog.read(SCOPE, 0).map((e) => e.seq)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      expect(store.eventLog.read(SCOPE, 45, 2).map((e) => e.seq)).toEqual([46, 47]);
    }),
    check("open reservations are listed until settled or released", async (store) => {
      store.ledger.reserve(SCOPE, { key: "k1", model: "m", estimateUsd: 0.5, estimateTokens: 10 });
      store.ledger.reserve(SCOPE, { key: "k2", model: "tool:t", estimateUsd: 0.25 });
      expect(store.ledger.openReservations(SCOPE)).toEqual([
        { key: "k1", model: "m", estimateUsd: 0.5, estimateTokens: 10 },
        { key: "k2", model: "tool:t", estimateUsd: 0.25, estimateTokens: 0 },
      ]);
      store.ledger.settle(SCOPE, "k1", {
        usage: { inputTokens: 1, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 },
        costUsd: 0.1,
      });
      store.ledger.release(SCOPE, "k2");
      expect(store.ledger.openReservations(SCOPE)).toEqual([]);
      await store.eventLog.flush();
      expect(store.ledger.openReservations(SCOPE)).toEqual([]);
      expect(store.ledger.totals(SCOPE)).toMatchObject({ costUsd: 0.1, reservedUsd: 0, calls: 1 });
    }),
    check(
      "an approval is decided once: the same decision again is accepted, a conflicting one refused",
      (store) => {
        store.approvals.create(pending("apr_1"));
        expect(store.approvals.get("apr_1")).toMatchObject({ status: "pending", decision: null });
        expect(store.approvals.list({ status: "pending" }).map((r) => r.id)).toEqual(["apr_1"]);
        const first = store.approvals.decide("apr_1", { outcome: "approved", scope: "once" }, { by: "ann" });
        expect(first).toMatchObject({
          status: "approved",
          decision: { outcome: "approved", by: "ann", scope: "once" },
        });
        const again = store.approvals.decide("apr_1", { outcome: "approved", scope: "once" }, { by: "bob" });
        expect(again.decision).toEqual(first.decision);
        expect(() =>
          store.approvals.decide("apr_1", { outcome: "denied", reason: "no" }, { by: "bob" }),
        ).toThrow(expect.objectContaining({ code: "REIN_APPROVAL_CONFLICT" }));
        expect(() =>
          store.approvals.decide("apr_1", { outcome: "approved", scope: "session" }, { by: "bob" }),
        ).toThrow(expect.objectContaining({ code: "REIN_APPROVAL_CONFLICT" }));
        expect(store.approvals.get("apr_1")?.decision).toEqual(first.decision);
      },
    ),
    check("a decision for other arguments, an unknown id or after expiry is refused", (store) => {
      store.approvals.create(pending("apr_2"));
      expect(() =>
        store.approvals.decide(
          "apr_2",
          { outcome: "approved", scope: "once" },
          { by: "a", argsHash: "hash-X" },
        ),
      ).toThrow(expect.objectContaining({ code: "REIN_APPROVAL_ARGS_MISMATCH" }));
      expect(store.approvals.get("apr_2")?.status).toBe("pending");
      expect(() => store.approvals.decide("nope", { outcome: "denied", reason: "r" }, { by: "a" })).toThrow(
        expect.objectContaining({ code: "REIN_APPROVAL_NOT_FOUND" }),
      );
      store.approvals.create(pending("apr_3", { expiresAt: 5000 }));
      expect(() =>
        store.approvals.decide("apr_3", { outcome: "approved", scope: "once" }, { by: "a", now: 5001 }),
      ).toThrow(expect.objectContaining({ code: "REIN_APPROVAL_EXPIRED" }));
      const expired = store.approvals.expire("apr_3", 5001);
      expect(expired).toMatchObject({
        status: "expired",
        decision: { outcome: "timeout", resolution: "denied" },
      });
    }),
    check("approvals are found by exact call and session scope", (store) => {
      store.approvals.create(pending("apr_4"));
      expect(store.approvals.findCall(SCOPE, 1, "call_1", "hash-1")?.id).toBe("apr_4");
      expect(store.approvals.findCall(SCOPE, 2, "call_1", "hash-1")).toBeUndefined();
      expect(store.approvals.findCall(SCOPE, 1, "call_1", "hash-2")).toBeUndefined();
      expect(store.approvals.findCall({ ...SCOPE, tenantId: "t2" }, 1, "call_1", "hash-1")).toBeUndefined();
      expect(store.approvals.approvedForSession(SCOPE, "hash-1")).toBe(false);
      store.approvals.decide("apr_4", { outcome: "approved", scope: "session" }, { by: "a" });
      expect(store.approvals.approvedForSession(SCOPE, "hash-1")).toBe(true);
      expect(store.approvals.approvedForSession({ ...SCOPE, sessionId: "ses-2" }, "hash-1")).toBe(false);
    }),
  ];
}
