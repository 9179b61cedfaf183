import type { ApprovalDecision, ApprovalRequest } from "../protocol/approval.js";
import type { ApprovalStore } from "../state/store.js";
import type { ApprovalGate } from "./approval-gate.js";

export interface DurableGateOptions {
  /** How long a pending approval waits for a decision (default 24 h); then `onTimeout` decides. */
  readonly expiresInMs?: number;
  /** What an approval nobody decided in time resolves to (default "deny"). */
  readonly onTimeout?: "deny" | "approve";
  /** The clock (tests). */
  readonly now?: () => number;
}

/**
 * An approval gate that never waits: it stores the request as a pending approval and answers
 * `pending`, so the run ends `requires_action` and the process may exit. A person decides later,
 * from any process (`rein approve <id>`, `store.approvals.decide`), and `harness.resume(id)` asks
 * the gate again: it then answers the stored decision, for that exact call and arguments only.
 *
 * @example
 * const store = await SqliteStore.open(".rein/rein.db");
 * const harness = createHarness({ model, store, approvals: { gate: durableGate(store) } });
 */
export function durableGate(
  store: { readonly approvals: ApprovalStore },
  options: DurableGateOptions = {},
): ApprovalGate {
  const expiresInMs = options.expiresInMs ?? 24 * 60 * 60_000;
  const onTimeout = options.onTimeout ?? "deny";
  const clock = options.now ?? Date.now;
  const by = "gate:durable";
  return {
    name: "durable",
    async decide(request: ApprovalRequest): Promise<ApprovalDecision> {
      const approvals = store.approvals;
      const now = clock();
      const scope = { tenantId: request.tenantId, sessionId: request.sessionId };
      const turn = request.turn ?? 0;
      let record = approvals.findCall(scope, turn, request.callId, request.argsHash);
      if (!record) {
        if (approvals.approvedForSession(scope, request.argsHash))
          return { outcome: "approved", by, scope: "session" };
        const expiresAt = now + expiresInMs;
        approvals.create({ ...request, turn, expiresAt, onTimeout });
        return { outcome: "pending", by, approvalId: request.id, expiresAt };
      }
      if (record.status === "pending" && now > record.expiresAt) record = approvals.expire(record.id, now);
      if (record.status === "pending")
        return { outcome: "pending", by, approvalId: record.id, expiresAt: record.expiresAt };
      // Decided (or expired): the stored decision, which names who decided.
      return record.decision ?? { outcome: "denied", by, reason: "the approval record has no decision" };
    },
  };
}
