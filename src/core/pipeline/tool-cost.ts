import { errorMessage } from "../../protocol/errors.js";
import type { StageRecord } from "../../protocol/events.js";
import { emptyUsage } from "../../protocol/messages.js";
import { errorOutcome, type ToolOutcome } from "../../protocol/tool-result.js";
import type { Tool } from "../../tools/tool.js";
import { reservationStop } from "../budget-refusal.js";
import type { RunContext } from "../run-context.js";

export type ToolCostReservation =
  | { readonly ok: true; settle(): void; release(): void }
  | { readonly ok: false; readonly outcome: ToolOutcome; readonly record: StageRecord };

const FREE: ToolCostReservation = Object.freeze({ ok: true, settle: () => {}, release: () => {} });

/**
 * A tool that declares a cost draws it from the session's ledger like a model call: reserved before
 * the call (a refusal means the call is not made and the run stops with `cost_ceiling`), settled
 * with the declared cost once it ran. A cost that cannot be computed denies the call (fail closed).
 */
export function reserveToolCost(
  ctx: RunContext,
  tool: Tool,
  input: unknown,
  callId: string,
): ToolCostReservation {
  const declared = tool.costUsd;
  // Apart, so a call without a cost allocates nothing here (the closures below need a context).
  return declared === undefined ? FREE : reserveDeclared(ctx, tool, input, callId, declared);
}

function reserveDeclared(
  ctx: RunContext,
  tool: Tool,
  input: unknown,
  callId: string,
  declared: NonNullable<Tool["costUsd"]>,
): ToolCostReservation {
  const key = `${ctx.runId}:${ctx.turn}:${callId}`;
  const deny = (why: string): ToolCostReservation => ({
    ok: false,
    outcome: errorOutcome("guard_denied", `Not run: ${why}.`),
    record: { stage: "execute", outcome: "deny", by: "ledger", note: why },
  });
  let usd: unknown;
  try {
    usd = typeof declared === "function" ? declared(input) : declared;
  } catch (err) {
    return deny(`the cost of ${tool.name} could not be computed (${errorMessage(err)}; fail closed)`);
  }
  if (typeof usd !== "number" || !Number.isFinite(usd) || usd < 0)
    return deny(`the cost of ${tool.name} is not a non-negative number of USD (fail closed)`);
  const { ledger } = ctx.deps;
  const scope = ctx.scope;
  let answer: unknown;
  try {
    answer = ledger.reserve(scope, { key, model: `tool:${tool.name}`, estimateUsd: usd, runId: ctx.runId });
  } catch (err) {
    ctx.pendingStop ??= {
      type: "error",
      code: "REIN_LEDGER_FAILED",
      message: `the ledger failed: ${errorMessage(err)}`,
    };
    return deny("the ledger failed");
  }
  const stop = reservationStop(answer, `tool call ${tool.name} ($${usd})`);
  if (stop) {
    ctx.pendingStop ??= stop;
    return deny(stop.type === "cost_ceiling" ? (stop.diagnostic ?? "budget exhausted") : "the ledger failed");
  }
  return {
    ok: true,
    settle: () => ledger.settle(scope, key, { usage: emptyUsage(), costUsd: usd }),
    release: () => ledger.release(scope, key),
  };
}
