import { createHash } from "node:crypto";
import type { ApprovalDecision, ApprovalRequest } from "../../approvals/approval-gate.js";
import { scopedSignal } from "../../protocol/abort.js";
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
const UNFILLED: StageRecord = Object.freeze({
  stage: "approve",
  outcome: "skipped",
  by: "slot:unfilled",
  note: "no approval gate configured; the call runs (trust modes and gates arrive with the policy issue)",
});

export interface ApproveResult {
  readonly allowed: boolean;
  readonly decision: ApprovalDecision | null;
  readonly reason: string;
  readonly record: StageRecord;
}

/** sha256 of the tool name and canonical (key-sorted) JSON of the input: a decision binds to these exact arguments. */
export function argsHash(tool: string, input: unknown): string {
  return createHash("sha256").update(tool).update("\u0000").update(canonicalJson(input)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

const PASS_NOT_REQUIRED: ApproveResult = Object.freeze({
  allowed: true,
  decision: null,
  reason: "",
  record: NOT_REQUIRED,
});
const PASS_UNFILLED: ApproveResult = Object.freeze({
  allowed: true,
  decision: null,
  reason: "",
  record: UNFILLED,
});
const NO_GATE_REASON = "approval was required but no approval gate is configured";
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
 * Stage 4: ask the approval gate when the level (or a hook) requires it. A gate that throws or times
 * out denies. Synchronous when no gate has to be asked.
 */
export function approveCall(
  ctx: RunContext,
  call: { callId: string; tool: string; input: unknown },
  risk: RiskAssessment,
  forced: boolean,
): ApproveResult | Promise<ApproveResult> {
  const slot = ctx.deps.approvals;
  if (!slot) return forced ? DENY_NO_GATE : risk.level === "HIGH" ? PASS_UNFILLED : PASS_NOT_REQUIRED;
  if (!forced && !slot.requireFor.has(risk.level)) return PASS_NOT_REQUIRED;
  return askGate(ctx, slot, call, risk);
}

async function askGate(
  ctx: RunContext,
  slot: ApprovalSlot,
  call: { callId: string; tool: string; input: unknown },
  risk: RiskAssessment,
): Promise<ApproveResult> {
  const request: ApprovalRequest = {
    id: ctx.deps.newId("apr"),
    tenantId: ctx.deps.tenantId,
    sessionId: ctx.deps.sessionId,
    runId: ctx.runId,
    callId: call.callId,
    tool: call.tool,
    input: call.input,
    argsHash: argsHash(call.tool, call.input),
    risk,
    requestedAt: Date.now(),
  };
  const by = `gate:${slot.gate.name}`;
  const scope = scopedSignal(ctx.signal, slot.timeoutMs, () => ({
    kind: "timeout",
    scope: "tool",
    limitMs: slot.timeoutMs,
  }));
  let decision: ApprovalDecision;
  try {
    decision = await new Promise<ApprovalDecision>((resolve, reject) => {
      scope.signal.addEventListener("abort", () => reject(scope.signal.reason), { once: true });
      slot.gate.decide(request, scope.signal).then(resolve, reject);
    });
  } catch (err) {
    const timedOut = scope.signal.aborted && !ctx.signal.aborted;
    decision = timedOut
      ? { outcome: "timeout", by, resolution: "denied" }
      : {
          outcome: "denied",
          by,
          reason: ctx.signal.aborted
            ? "the run was stopped"
            : `gate failed: ${errorMessage(err)} (fail closed)`,
        };
  } finally {
    scope.dispose();
  }
  if (decision.outcome === "approved") {
    return { allowed: true, decision, reason: "", record: { stage: "approve", outcome: "pass", by } };
  }
  const reason =
    decision.outcome === "denied" ? decision.reason : `no decision within ${slot.timeoutMs} ms; denied`;
  return {
    allowed: false,
    decision,
    reason,
    record: { stage: "approve", outcome: "deny", by, note: reason },
  };
}
