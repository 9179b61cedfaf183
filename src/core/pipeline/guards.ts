import type {
  Guard,
  GuardAfterVerdict,
  GuardCallOutcome,
  GuardContext,
  GuardEventType,
  GuardToolCall,
  GuardVerdict,
} from "../../guards/guard.js";
import { checkGuardVerdict, isNativePromise } from "../../protocol/answers.js";
import { errorMessage } from "../../protocol/errors.js";
import type { ReinEvent, StageRecord } from "../../protocol/events.js";
import { maxRisk, type RiskAssessment } from "../../protocol/risk.js";
import type { StopReason } from "../../protocol/stop-reason.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";

const UNFILLED: StageRecord = Object.freeze({
  stage: "guards",
  outcome: "skipped",
  by: "slot:unfilled",
  note: "no guards configured (budget, stall, circuit and taint guards plug in here)",
});

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

const BEFORE_TOOL_CALL_ACTIONS: readonly GuardVerdict["action"][] = ["allow", "deny", "raise", "stop"];

/** What `ask` answers for a guard without the hook at this point. */
const SKIP: unique symbol = Symbol("skip");

/**
 * Asks each guard in turn (`ask` calls its hook, or answers SKIP) and lets `settle` judge each answer
 * (a boxed value ends the sequence). Synchronous while the guards answer synchronously; from the
 * first guard that answers with a native Promise on, asynchronous. A foreign thenable is never
 * awaited: it is judged as is (and refused). So a step with only synchronous guards costs no extra
 * turn of the event loop, and no allocation per guard.
 */
function drive<R>(
  guards: readonly Guard[],
  ask: (guard: Guard) => unknown,
  settle: (guard: Guard, threw: boolean, answer: unknown) => { readonly value: R } | undefined,
  done: () => R,
): R | Promise<R> {
  for (let i = 0; i < guards.length; i++) {
    const guard = guards[i]!;
    let answer: unknown;
    let threw = false;
    try {
      answer = ask(guard);
      if (answer === SKIP) continue;
      if (isNativePromise(answer)) return driveAsync(guards, i, answer, ask, settle, done);
    } catch (err) {
      answer = err;
      threw = true;
    }
    const r = settle(guard, threw, answer);
    if (r) return r.value;
  }
  return done();
}

async function driveAsync<R>(
  guards: readonly Guard[],
  from: number,
  pending: Promise<unknown>,
  ask: (guard: Guard) => unknown,
  settle: (guard: Guard, threw: boolean, answer: unknown) => { readonly value: R } | undefined,
  done: () => R,
): Promise<R> {
  for (let i = from; i < guards.length; i++) {
    const guard = guards[i]!;
    let answer: unknown;
    let threw = false;
    try {
      if (i === from) answer = await pending;
      else {
        answer = ask(guard);
        if (answer === SKIP) continue;
        if (isNativePromise(answer)) answer = await answer;
      }
    } catch (err) {
      answer = err;
      threw = true;
    }
    const r = settle(guard, threw, answer);
    if (r) return r.value;
  }
  return done();
}

/**
 * Raised assessments, per assessment raised and verdict reason: a guard that answers the same raise
 * for every call (taint does, for a whole run) yields the same assessment object, so no new strings
 * are built, redacted and hashed per call. Keyed weakly by the assessment; bounded per assessment.
 */
interface Raise {
  readonly guard: string;
  readonly next: RiskAssessment;
  /** The stage record of the raise (frozen, shared like the pass records). */
  readonly record: StageRecord;
}
const raisedMemo = new WeakMap<RiskAssessment, Map<string, Raise>>();

function raised(
  current: RiskAssessment,
  guardName: string,
  verdict: { readonly level: RiskAssessment["level"]; readonly reason: string },
): Raise {
  let byReason = raisedMemo.get(current);
  const known = byReason?.get(verdict.reason);
  if (
    known !== undefined &&
    known.guard === guardName &&
    known.next.level === maxRisk(current.level, verdict.level)
  )
    return known;
  const raise: Raise = {
    guard: guardName,
    next: Object.freeze({
      level: maxRisk(current.level, verdict.level),
      reason: `${current.reason}; raised by ${guardName}: ${verdict.reason}`,
      rule: current.rule,
    }),
    record: Object.freeze({
      stage: "guards",
      outcome: "raise",
      by: `guard:${guardName}`,
      note: verdict.reason,
    }),
  };
  if (byReason === undefined) {
    byReason = new Map();
    raisedMemo.set(current, byReason);
  } else if (byReason.size >= 16) byReason.clear();
  byReason.set(verdict.reason, raise);
  return raise;
}

function runGuards(
  ctx: RunContext,
  tool: Tool,
  callId: string,
  input: unknown,
  risk: RiskAssessment,
): GuardResult | Promise<GuardResult> {
  const gctx = guardContext(ctx);
  const records: StageRecord[] = [];
  let current = risk;
  // One view of the call for every guard; a new one only after a guard raised the level.
  let view: GuardToolCall = { tool, callId, input, risk };
  return drive<GuardResult>(
    ctx.deps.guards,
    (guard) => {
      if (!guard.beforeToolCall) return SKIP;
      if (view.risk !== current) view = { tool, callId, input, risk: current };
      return guard.beforeToolCall(view, gctx);
    },
    (guard, threw, answer) => {
      if (threw) {
        const reason = `guard "${guard.name}" failed: ${errorMessage(answer)} (fail closed)`;
        records.push({ stage: "guards", outcome: "deny", by: `guard:${guard.name}`, note: reason });
        return { value: { ok: false, reason, records } };
      }
      const checked = checkGuardVerdict<GuardVerdict>(answer, BEFORE_TOOL_CALL_ACTIONS);
      if (!checked.ok) {
        const reason = `guard "${guard.name}" answered a malformed verdict: ${checked.problem} (fail closed)`;
        records.push({ stage: "guards", outcome: "deny", by: `guard:${guard.name}`, note: reason });
        return { value: { ok: false, reason, records } };
      }
      const verdict = checked.value;
      switch (verdict.action) {
        case "allow":
          records.push(passRecord(guard.name));
          return undefined;
        case "raise": {
          const raise = raised(current, guard.name, verdict);
          current = raise.next;
          records.push(raise.record);
          return undefined;
        }
        case "deny":
          records.push({ stage: "guards", outcome: "deny", by: `guard:${guard.name}`, note: verdict.reason });
          return {
            value: verdict.details
              ? { ok: false, reason: verdict.reason, details: verdict.details, records }
              : { ok: false, reason: verdict.reason, records },
          };
        case "stop":
          ctx.pendingStop ??= verdict.stop;
          records.push({
            stage: "guards",
            outcome: "deny",
            by: `guard:${guard.name}`,
            note: `run stops: ${verdict.stop.type}`,
          });
          return { value: { ok: false, reason: `the run is stopping (${verdict.stop.type})`, records } };
      }
    },
    () => ({ ok: true, risk: current, records }),
  );
}

/** The events a guard may append; anything else it asks for is ignored (it cannot forge a call's record). */
const GUARD_EVENTS: ReadonlySet<string> = new Set<GuardEventType>([
  "budget_warning",
  "stall_warning",
  "circuit_changed",
]);

/** One frozen context per run and turn: every guard call of a turn shares it (no allocation per call). */
const contexts = new WeakMap<RunContext, GuardContext>();

function guardContext(ctx: RunContext): GuardContext {
  const known = contexts.get(ctx);
  if (known && known.turn === ctx.turn) return known;
  const notify: GuardContext["notify"] = (type, data) => {
    if (GUARD_EVENTS.has(type)) ctx.emit(type, data);
  };
  const gctx: GuardContext = Object.freeze({
    tenantId: ctx.deps.tenantId,
    sessionId: ctx.deps.sessionId,
    runId: ctx.runId,
    turn: ctx.turn,
    notify,
  });
  contexts.set(ctx, gctx);
  return gctx;
}

/** A guard's "pass" record, built once per guard name. */
const passRecords = new Map<string, StageRecord>();
function passRecord(name: string): StageRecord {
  let r = passRecords.get(name);
  if (!r) {
    r = Object.freeze({ stage: "guards", outcome: "pass", by: `guard:${name}` });
    if (passRecords.size < 1_000) passRecords.set(name, r);
  }
  return r;
}

const STOP_ACTIONS: readonly GuardVerdict["action"][] = ["allow", "stop"];
const AFTER_ACTIONS: readonly GuardAfterVerdict["action"][] = ["allow", "stop", "warn"];

/**
 * After a call executed (`afterToolCall`), or was denied before it ran (`afterDeniedCall`), guards may stop the run (a budget spent, a stall seen) or add a note for the
 * model (a stall warning); the notes are returned, to be appended to the result. A guard that throws
 * or answers anything but nothing, `allow`, `warn` or `stop` stops the run with `REIN_GUARD_FAILED`:
 * the call's result still reaches the model and the audit, and no further call runs.
 */
export function afterToolCallGuards(
  ctx: RunContext,
  call: GuardToolCall,
  outcome: GuardCallOutcome,
  hook: "afterToolCall" | "afterDeniedCall" = "afterToolCall",
): string[] | Promise<string[]> {
  const gctx = guardContext(ctx);
  const notes: string[] = [];
  return drive<string[]>(
    ctx.deps.guards,
    (guard) => {
      const after = guard[hook];
      return after ? after.call(guard, call, outcome, gctx) : SKIP;
    },
    (guard, threw, answer) => {
      if (threw) {
        ctx.pendingStop ??= guardFailed(guard.name, hook, `threw: ${errorMessage(answer)}`);
        return { value: notes };
      }
      if (answer === undefined) return undefined;
      const checked = checkGuardVerdict<GuardAfterVerdict>(answer, AFTER_ACTIONS);
      if (!checked.ok) {
        ctx.pendingStop ??= guardFailed(guard.name, hook, `answered a malformed verdict: ${checked.problem}`);
        return { value: notes };
      }
      if (checked.value.action === "stop") ctx.pendingStop ??= checked.value.stop;
      else if (checked.value.action === "warn") notes.push(`[${guard.name}] ${checked.value.note}`);
      return undefined;
    },
    () => notes,
  );
}

/**
 * Before each model call, guards may stop the run. Anything but `allow` or `stop` (including a
 * throw) stops it with `REIN_GUARD_FAILED` (fail closed). Resolves to the stop, or undefined.
 */
export function beforeModelCallGuards(
  ctx: RunContext,
): StopReason | undefined | Promise<StopReason | undefined> {
  const gctx = guardContext(ctx);
  return drive<StopReason | undefined>(
    ctx.deps.guards,
    (guard) => (guard.beforeModelCall ? guard.beforeModelCall(gctx) : SKIP),
    (guard, threw, answer) => {
      if (threw)
        return { value: guardFailed(guard.name, "beforeModelCall", `threw: ${errorMessage(answer)}`) };
      const checked = checkGuardVerdict<GuardVerdict>(answer, STOP_ACTIONS);
      if (!checked.ok)
        return {
          value: guardFailed(
            guard.name,
            "beforeModelCall",
            `answered a malformed verdict: ${checked.problem}`,
          ),
        };
      return checked.value.action === "stop" ? { value: checked.value.stop } : undefined;
    },
    () => undefined,
  );
}

/**
 * A resumed run hands each guard the run's events so far, so per-run state (taint) survives the
 * crash or the pause. A throw, or an answer other than `undefined`, stops the run (fail closed).
 */
export function resumedGuards(ctx: RunContext, events: readonly ReinEvent[]): StopReason | undefined {
  const gctx = guardContext(ctx);
  for (const guard of ctx.deps.guards) {
    const resumed = guard.resumed;
    if (typeof resumed !== "function") continue;
    let answer: unknown;
    try {
      answer = resumed.call(guard, events, gctx);
    } catch (err) {
      return guardFailed(guard.name, "resumed", `threw: ${errorMessage(err)}`);
    }
    if (answer !== undefined)
      return guardFailed(guard.name, "resumed", "answered something other than undefined");
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
