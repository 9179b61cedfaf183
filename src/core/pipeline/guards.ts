import type {
  GuardAfterVerdict,
  GuardCallOutcome,
  GuardContext,
  GuardEventType,
  GuardToolCall,
  GuardVerdict,
} from "../../guards/guard.js";
import { checkGuardVerdict, isNativePromise } from "../../protocol/answers.js";
import { errorMessage } from "../../protocol/errors.js";
import type { StageRecord } from "../../protocol/events.js";
import type { RiskAssessment, RiskLevel } from "../../protocol/risk.js";
import type { StopReason } from "../../protocol/stop-reason.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";

const UNFILLED: StageRecord = Object.freeze({
  stage: "guards",
  outcome: "skipped",
  by: "slot:unfilled",
  note: "no guards configured (budget, stall, circuit and taint guards plug in here)",
});

const RANK: Readonly<Record<RiskLevel, number>> = { LOW: 0, MEDIUM: 1, HIGH: 2, BLOCK: 3 };
const maxRisk = (a: RiskLevel, b: RiskLevel): RiskLevel => (RANK[a] >= RANK[b] ? a : b);

export type GuardResult =
  | { readonly ok: true; readonly risk: RiskAssessment; readonly records: readonly StageRecord[] }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly details?: Readonly<Record<string, unknown>>;
      readonly records: readonly StageRecord[];
    };

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

type BeforeToolCallVerdict = Exclude<GuardVerdict, never>;
const BEFORE_TOOL_CALL_ACTIONS: readonly GuardVerdict["action"][] = ["allow", "deny", "raise", "stop"];

/**
 * Awaits a guard's answer only if it is a native Promise; a foreign thenable is checked (and refused)
 * as is. Boxed, because an async function returning a thenable would adopt (run) it.
 */
async function answerOf(call: () => unknown): Promise<{ readonly answer: unknown }> {
  const answer = call();
  return { answer: isNativePromise(answer) ? await answer : answer };
}

async function runGuards(
  ctx: RunContext,
  tool: Tool,
  callId: string,
  input: unknown,
  risk: RiskAssessment,
): Promise<GuardResult> {
  const guards = ctx.deps.guards;
  const gctx = guardContext(ctx);
  const records: StageRecord[] = [];
  let current = risk;
  for (const guard of guards) {
    const beforeToolCall = guard.beforeToolCall;
    if (!beforeToolCall) continue;
    const by = `guard:${guard.name}`;
    let answer: unknown;
    try {
      ({ answer } = await answerOf(() =>
        beforeToolCall.call(guard, { tool, callId, input, risk: current }, gctx),
      ));
    } catch (err) {
      const reason = `guard "${guard.name}" failed: ${errorMessage(err)} (fail closed)`;
      records.push({ stage: "guards", outcome: "deny", by, note: reason });
      return { ok: false, reason, records };
    }
    const checked = checkGuardVerdict<BeforeToolCallVerdict>(answer, BEFORE_TOOL_CALL_ACTIONS);
    if (!checked.ok) {
      const reason = `guard "${guard.name}" answered a malformed verdict: ${checked.problem} (fail closed)`;
      records.push({ stage: "guards", outcome: "deny", by, note: reason });
      return { ok: false, reason, records };
    }
    const verdict = checked.value;
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
        return verdict.details
          ? { ok: false, reason: verdict.reason, details: verdict.details, records }
          : { ok: false, reason: verdict.reason, records };
      case "stop":
        ctx.pendingStop ??= verdict.stop;
        records.push({ stage: "guards", outcome: "deny", by, note: `run stops: ${verdict.stop.type}` });
        return { ok: false, reason: `the run is stopping (${verdict.stop.type})`, records };
    }
  }
  return { ok: true, risk: current, records };
}

/** The events a guard may append; anything else it asks for is ignored (it cannot forge a call's record). */
const GUARD_EVENTS: ReadonlySet<string> = new Set<GuardEventType>([
  "budget_warning",
  "stall_warning",
  "circuit_changed",
]);

function guardContext(ctx: RunContext): GuardContext {
  return {
    tenantId: ctx.deps.tenantId,
    sessionId: ctx.deps.sessionId,
    runId: ctx.runId,
    turn: ctx.turn,
    notify: (type, data) => {
      if (GUARD_EVENTS.has(type)) ctx.emit(type, data);
    },
  };
}

const STOP_ACTIONS: readonly GuardVerdict["action"][] = ["allow", "stop"];
const AFTER_ACTIONS: readonly GuardAfterVerdict["action"][] = ["allow", "stop", "warn"];

/**
 * After a call executed, guards may stop the run (a budget spent, a stall seen) or add a note for the
 * model (a stall warning); the notes are returned, to be appended to the result. A guard that throws
 * or answers anything but nothing, `allow`, `warn` or `stop` stops the run with `REIN_GUARD_FAILED`:
 * the call's result still reaches the model and the audit, and no further call runs.
 */
export async function afterToolCallGuards(
  ctx: RunContext,
  call: GuardToolCall,
  outcome: GuardCallOutcome,
): Promise<string[]> {
  const gctx = guardContext(ctx);
  const notes: string[] = [];
  for (const guard of ctx.deps.guards) {
    const afterToolCall = guard.afterToolCall;
    if (!afterToolCall) continue;
    let answer: unknown;
    try {
      ({ answer } = await answerOf(() => afterToolCall.call(guard, call, outcome, gctx)));
    } catch (err) {
      ctx.pendingStop ??= guardFailed(guard.name, "afterToolCall", `threw: ${errorMessage(err)}`);
      return notes;
    }
    if (answer === undefined) continue;
    const checked = checkGuardVerdict<GuardAfterVerdict>(answer, AFTER_ACTIONS);
    if (!checked.ok) {
      ctx.pendingStop ??= guardFailed(
        guard.name,
        "afterToolCall",
        `answered a malformed verdict: ${checked.problem}`,
      );
      return notes;
    }
    if (checked.value.action === "stop") ctx.pendingStop ??= checked.value.stop;
    else if (checked.value.action === "warn") notes.push(`[${guard.name}] ${checked.value.note}`);
  }
  return notes;
}

/**
 * Before each model call, guards may stop the run. Anything but `allow` or `stop` (including a
 * throw) stops it with `REIN_GUARD_FAILED` (fail closed). Resolves to the stop, or undefined.
 */
export async function beforeModelCallGuards(ctx: RunContext): Promise<StopReason | undefined> {
  const gctx = guardContext(ctx);
  for (const guard of ctx.deps.guards) {
    const beforeModelCall = guard.beforeModelCall;
    if (!beforeModelCall) continue;
    let answer: unknown;
    try {
      ({ answer } = await answerOf(() => beforeModelCall.call(guard, gctx)));
    } catch (err) {
      return guardFailed(guard.name, "beforeModelCall", `threw: ${errorMessage(err)}`);
    }
    const checked = checkGuardVerdict<GuardVerdict>(answer, STOP_ACTIONS);
    if (!checked.ok)
      return guardFailed(guard.name, "beforeModelCall", `answered a malformed verdict: ${checked.problem}`);
    if (checked.value.action === "stop") return checked.value.stop;
  }
  return undefined;
}

function guardFailed(name: string, hook: string, what: string): StopReason {
  return {
    type: "error",
    code: "REIN_GUARD_FAILED",
    message: `guard "${name}" ${hook} ${what} (fail closed: the run stops)`,
  };
}
