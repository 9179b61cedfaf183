import { createHash } from "node:crypto";
import type { ApprovalDecision, ApprovalRequest } from "../../approvals/approval-gate.js";
import { scopedSignal } from "../../protocol/abort.js";
import { checkApprovalDecision, isNativePromise } from "../../protocol/answers.js";
import { canonicalJson } from "../../protocol/canonical-json.js";
import { errorMessage } from "../../protocol/errors.js";
import type { StageRecord } from "../../protocol/events.js";
import type { RiskAssessment } from "../../protocol/risk.js";
import type { ApprovalSlot, RunContext } from "../run-context.js";

const NOT_REQUIRED: StageRecord = Object.freeze({
  stage: "approve",
  outcome: "pass",
  by: "approvals",
  note: "not required at this level",
});

export interface ApproveResult {
  readonly allowed: boolean;
  readonly decision: ApprovalDecision | null;
  readonly reason: string;
  /** Set when a gate approved: the hash of the exact arguments approved, re-checked before execution. */
  readonly argsHash?: string;
  /** Set when a durable gate stored the request: the run pauses (`requires_action`) before this call. */
  readonly pending?: { readonly approvalId: string; readonly expiresAt: number; readonly argsHash: string };
  readonly record: StageRecord;
}

/** sha256 of the tool name and canonical (key-sorted) JSON of the input: a decision binds to these exact arguments. */
export function argsHash(tool: string, input: unknown): string {
  return createHash("sha256").update(tool).update("\u0000").update(canonicalJson(input)).digest("hex");
}

const PASS_NOT_REQUIRED: ApproveResult = Object.freeze({
  allowed: true,
  decision: null,
  reason: "",
  record: NOT_REQUIRED,
});

/** Said to the model and recorded when a call needs a decision that nobody is configured to give. */
export const NO_GATE_REASON =
  "this call needs approval and no approval gate is configured, so it is denied (fail closed). " +
  "To allow such calls, configure a gate (createHarness({ approvals: { gate } }), e.g. callbackGate; " +
  "`rein run` asks in the terminal when it has one)";

const DENY_NO_GATE: ApproveResult = Object.freeze({
  allowed: false,
  decision: null,
  reason: NO_GATE_REASON,
  record: Object.freeze({
    stage: "approve",
    outcome: "deny",
    by: "approvals",
    note: NO_GATE_REASON,
  } as const),
});

/**
 * Stage 4: ask the approval gate when the level (or a hook) requires it. HIGH always requires it;
 * with no gate, that is a denial that says how to approve. A gate that throws, times out or answers
 * anything but a well-formed decision denies. Synchronous when no gate has to be asked.
 */
export function approveCall(
  ctx: RunContext,
  call: { callId: string; tool: string; input: unknown },
  risk: RiskAssessment,
  forced: boolean,
): ApproveResult | Promise<ApproveResult> {
  const slot = ctx.deps.approvals;
  const needed = forced || risk.level === "HIGH" || slot?.requireFor.has(risk.level) === true;
  if (!needed) return PASS_NOT_REQUIRED;
  if (!slot) return DENY_NO_GATE;
  const hash = argsHash(call.tool, call.input);
  if (ctx.deps.sessionApprovals.has(hash)) {
    return {
      allowed: true,
      decision: { outcome: "approved", by: `gate:${slot.gate.name}`, scope: "session" },
      reason: "",
      argsHash: hash,
      record: {
        stage: "approve",
        outcome: "pass",
        by: "approvals",
        note: "approved for this session earlier (same arguments)",
      },
    };
  }
  return askGate(ctx, slot, call, risk, hash);
}

async function askGate(
  ctx: RunContext,
  slot: ApprovalSlot,
  call: { callId: string; tool: string; input: unknown },
  risk: RiskAssessment,
  hash: string,
): Promise<ApproveResult> {
  const request: ApprovalRequest = Object.freeze({
    id: ctx.deps.newId("apr"),
    tenantId: ctx.deps.tenantId,
    sessionId: ctx.deps.sessionId,
    runId: ctx.runId,
    callId: call.callId,
    tool: call.tool,
    input: call.input,
    argsHash: hash,
    risk,
    requestedAt: Date.now(),
    turn: ctx.turn,
  });
  const by = `gate:${slot.gate.name}`;
  const scope = scopedSignal(ctx.signal, slot.timeoutMs, () => ({
    kind: "timeout",
    scope: "tool",
    limitMs: slot.timeoutMs,
  }));
  let decision: ApprovalDecision;
  let reason: string;
  // Before the gate is asked: the wait (pending approvals, approval wait) starts here.
  ctx.emit("approval_requested", {
    turn: ctx.turn,
    callId: call.callId,
    tool: call.tool,
    approvalId: request.id,
    risk,
    by,
    timeoutMs: slot.timeoutMs,
  });
  try {
    // Boxed: resolving a promise with a foreign thenable would adopt (run) it.
    const { answer } = await new Promise<{ answer: unknown }>((resolve, reject) => {
      scope.signal.addEventListener("abort", () => reject(scope.signal.reason), { once: true });
      const pending = slot.gate.decide(request, scope.signal) as unknown;
      if (isNativePromise(pending)) pending.then((answer) => resolve({ answer }), reject);
      else resolve({ answer: pending });
    });
    const checked = checkApprovalDecision(answer);
    if (checked.ok) {
      decision = checked.value;
      reason =
        decision.outcome === "denied" ? decision.reason : `the gate answered ${decision.outcome}; denied`;
    } else {
      reason = `gate "${slot.gate.name}" answered a malformed decision: ${checked.problem} (fail closed)`;
      decision = { outcome: "denied", by, reason };
    }
  } catch (err) {
    const timedOut = scope.signal.aborted && !ctx.signal.aborted;
    if (timedOut) {
      decision = { outcome: "timeout", by, resolution: "denied" };
      reason = `no decision within ${slot.timeoutMs} ms; denied`;
    } else {
      reason = ctx.signal.aborted ? "the run was stopped" : `gate failed: ${errorMessage(err)} (fail closed)`;
      decision = { outcome: "denied", by, reason };
    }
  } finally {
    scope.dispose();
  }
  if (decision.outcome === "pending") {
    return {
      allowed: false,
      decision,
      reason: `waiting for a decision on approval ${decision.approvalId}`,
      pending: { approvalId: decision.approvalId, expiresAt: decision.expiresAt, argsHash: hash },
      record: { stage: "approve", outcome: "raise", by, note: `pending approval ${decision.approvalId}` },
    };
  }
  if (decision.outcome === "approved") {
    if (decision.scope === "session") ctx.deps.sessionApprovals.add(hash);
    return {
      allowed: true,
      decision,
      reason: "",
      argsHash: hash,
      record: { stage: "approve", outcome: "pass", by },
    };
  }
  return {
    allowed: false,
    decision,
    reason,
    record: { stage: "approve", outcome: "deny", by, note: reason },
  };
}
