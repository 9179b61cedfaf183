import type { ResumePlan } from "../protocol/resume.js";
import { resumedGuards } from "./pipeline/guards.js";
import { resumeToolCalls } from "./pipeline/tool-call.js";
import type { RunContext } from "./run-context.js";
import { afterResults, type StepOutcome } from "./step.js";

/**
 * The start of a resumed run: reservations the crash left open are settled at their worst-case
 * estimate (their outcome is unknown; the budget never under-counts), `run_resumed` records that
 * and what happens to each unfinished call, then the pending turn's calls are completed.
 */
export async function resumeRun(ctx: RunContext, plan: ResumePlan): Promise<StepOutcome | undefined> {
  const { deps } = ctx;
  const scope = { tenantId: deps.tenantId, sessionId: deps.sessionId };
  const recovered = plan.openReservations.map((r) => {
    deps.ledger.settle(scope, r.key, {
      usage: { inputTokens: r.estimateTokens, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: r.estimateUsd,
    });
    return { key: r.key, model: r.model, costUsd: r.estimateUsd, tokens: r.estimateTokens };
  });
  ctx.turn = plan.turn;
  const pending = plan.pendingTurn;
  const calls = pending
    ? pending.calls
        .filter((c) => !pending.finished.has(c.id))
        .map((c) => ({
          callId: c.id,
          tool: c.name,
          resolution: !pending.started.has(c.id)
            ? ("decide" as const)
            : deps.tools.get(c.name)?.idempotent === true
              ? ("rerun" as const)
              : ("outcome_unknown" as const),
        }))
    : [];
  ctx.emit("run_resumed", { turn: plan.turn, recoveredReservations: recovered, calls });
  // Guards rebuild their state for the run (a taint before the crash or the pause still holds).
  const refused = resumedGuards(ctx, plan.runEvents ?? []);
  if (refused) return { type: "stop", reason: refused };
  if (!pending) {
    // The model's last answer asked for no tool: the run had finished, only its end was not recorded.
    const last = deps.history.at(-1);
    if (last?.role === "assistant" && !last.content.some((b) => b.type === "tool_use"))
      return { type: "stop", reason: { type: "completed" } };
    return undefined;
  }
  const results = await resumeToolCalls(ctx, pending);
  if (results === undefined) return { type: "stop", reason: ctx.pendingStop ?? { type: "completed" } };
  // An exact copy (built by push): the history keeps it.
  return afterResults(ctx, results.slice());
}
