import type { GuardContext } from "../../guards/guard.js";
import { errorMessage } from "../../protocol/errors.js";
import type { StageRecord } from "../../protocol/events.js";
import type { RiskAssessment, RiskLevel } from "../../protocol/risk.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";

const UNFILLED: StageRecord = Object.freeze({
  stage: "guards",
  outcome: "skipped",
  by: "slot:unfilled",
  note: "no guards configured (budget, stall and circuit guards plug in here)",
});

const RANK: Readonly<Record<RiskLevel, number>> = { LOW: 0, MEDIUM: 1, HIGH: 2, BLOCK: 3 };
const maxRisk = (a: RiskLevel, b: RiskLevel): RiskLevel => (RANK[a] >= RANK[b] ? a : b);

export type GuardResult =
  | { readonly ok: true; readonly risk: RiskAssessment; readonly records: readonly StageRecord[] }
  | { readonly ok: false; readonly reason: string; readonly records: readonly StageRecord[] };

const UNFILLED_RECORDS: readonly StageRecord[] = Object.freeze([UNFILLED]);

/** Stage 3: runtime guards may deny the call, raise its level, or stop the run after this step. */
export function guardCall(
  ctx: RunContext,
  tool: Tool,
  callId: string,
  input: unknown,
  risk: RiskAssessment,
): GuardResult | Promise<GuardResult> {
  if (ctx.deps.guards.length === 0) return { ok: true, risk, records: UNFILLED_RECORDS };
  return runGuards(ctx, tool, callId, input, risk);
}

async function runGuards(
  ctx: RunContext,
  tool: Tool,
  callId: string,
  input: unknown,
  risk: RiskAssessment,
): Promise<GuardResult> {
  const guards = ctx.deps.guards;
  const gctx: GuardContext = {
    tenantId: ctx.deps.tenantId,
    sessionId: ctx.deps.sessionId,
    runId: ctx.runId,
    turn: ctx.turn,
  };
  const records: StageRecord[] = [];
  let current = risk;
  for (const guard of guards) {
    if (!guard.beforeToolCall) continue;
    const by = `guard:${guard.name}`;
    let verdict: Awaited<ReturnType<NonNullable<typeof guard.beforeToolCall>>>;
    try {
      verdict = await guard.beforeToolCall({ tool, callId, input }, gctx);
    } catch (err) {
      const reason = `guard "${guard.name}" failed: ${errorMessage(err)}`;
      records.push({ stage: "guards", outcome: "deny", by, note: reason });
      return { ok: false, reason, records };
    }
    switch (verdict.action) {
      case "allow":
        records.push({ stage: "guards", outcome: "pass", by });
        break;
      case "raise": {
        const level = maxRisk(current.level, verdict.level);
        current = {
          level,
          reason: `${current.reason}; raised by ${guard.name}: ${verdict.reason}`,
          rule: current.rule,
        };
        records.push({ stage: "guards", outcome: "raise", by, note: verdict.reason });
        break;
      }
      case "deny":
        records.push({ stage: "guards", outcome: "deny", by, note: verdict.reason });
        return { ok: false, reason: verdict.reason, records };
      case "stop":
        ctx.pendingStop ??= verdict.stop;
        records.push({ stage: "guards", outcome: "deny", by, note: `run stops: ${verdict.stop.type}` });
        return { ok: false, reason: `the run is stopping (${verdict.stop.type})`, records };
    }
  }
  return { ok: true, risk: current, records };
}
