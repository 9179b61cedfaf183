import { ApprovalError } from "../protocol/errors.js";
import type { ApprovalRecord, ApprovalVerdict } from "./store.js";

/**
 * The one rule both stores apply to a decision, given the record as stored now (inside the
 * store's transaction). Returns the record to store, or `undefined` when nothing changes (the same
 * decision again). Throws `ApprovalError` for a conflict, an expired approval, other arguments.
 */
export function applyVerdict(
  record: ApprovalRecord | undefined,
  id: string,
  verdict: ApprovalVerdict,
  options: { readonly by: string; readonly argsHash?: string; readonly now?: number },
): ApprovalRecord | undefined {
  if (!record)
    throw new ApprovalError("REIN_APPROVAL_NOT_FOUND", `No approval ${JSON.stringify(id)} in this store.`, {
      id,
    });
  if (options.argsHash !== undefined && options.argsHash !== record.argsHash) {
    throw new ApprovalError(
      "REIN_APPROVAL_ARGS_MISMATCH",
      `Approval ${id} is for arguments with hash ${record.argsHash}, not ${options.argsHash}; a decision applies to the exact arguments it was shown. Nothing was decided.`,
      { id, argsHash: record.argsHash, given: options.argsHash },
    );
  }
  const now = options.now ?? Date.now();
  if (record.status === "expired" || (record.status === "pending" && now > record.expiresAt)) {
    throw new ApprovalError(
      "REIN_APPROVAL_EXPIRED",
      `Approval ${id} expired at ${new Date(record.expiresAt).toISOString()}; its onTimeout rule (${record.onTimeout}) applies and no later decision is taken.`,
      { id, expiresAt: record.expiresAt, onTimeout: record.onTimeout },
    );
  }
  if (verdict.outcome !== "approved" && verdict.outcome !== "denied")
    throw new ApprovalError(
      "REIN_APPROVAL_CONFLICT",
      `Approval ${id}: a verdict is "approved" or "denied".`,
      {
        id,
      },
    );
  if (verdict.outcome === "approved" && verdict.scope !== "once" && verdict.scope !== "session")
    throw new ApprovalError("REIN_APPROVAL_CONFLICT", `Approval ${id}: scope must be "once" or "session".`, {
      id,
    });
  if (record.status !== "pending") {
    const d = record.decision;
    const same =
      d !== null &&
      d.outcome === verdict.outcome &&
      (verdict.outcome !== "approved" || (d.outcome === "approved" && d.scope === verdict.scope));
    if (same) return undefined;
    throw new ApprovalError(
      "REIN_APPROVAL_CONFLICT",
      `Approval ${id} was already ${record.status}${d?.outcome === "approved" ? ` (scope ${d.scope})` : ""} by ${d?.by ?? "?"}; the first decision stands.`,
      { id, status: record.status },
    );
  }
  const decision =
    verdict.outcome === "approved"
      ? ({ outcome: "approved", by: options.by, scope: verdict.scope } as const)
      : ({ outcome: "denied", by: options.by, reason: String(verdict.reason) } as const);
  return { ...record, status: verdict.outcome, decision, decidedAt: now };
}

/** The record after its expiry: the `onTimeout` rule as the decision. */
export function expiredRecord(record: ApprovalRecord, now: number): ApprovalRecord {
  const decision =
    record.onTimeout === "approve"
      ? ({ outcome: "approved", by: "timeout", scope: "once" } as const)
      : ({ outcome: "timeout", by: "timeout", resolution: "denied" } as const);
  return { ...record, status: "expired", decision, decidedAt: now };
}
