import type {
  Guard,
  GuardAfterVerdict,
  GuardCallOutcome,
  GuardContext,
  GuardEventType,
  GuardToolCall,
  GuardVerdict,
} from "../../guards/guard.js";
import { type Checked, checkGuardVerdict, isNativePromise } from "../../protocol/answers.js";
import { errorMessage } from "../../protocol/errors.js";
import type { EventDataMap, ReinEvent, StageRecord } from "../../protocol/events.js";
import { maxRisk, type RiskAssessment } from "../../protocol/risk.js";
import { keepShapes } from "../../protocol/shape-keeper.js";
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
  const gctx = guardContext(ctx);
  if (RunGuardContext.guardsOf(gctx).length === 0) return { ok: true, risk, records: UNFILLED_RECORDS };
  return runGuards(ctx, gctx, tool, callId, input, risk);
}

const BEFORE_TOOL_CALL_ACTIONS: readonly GuardVerdict["action"][] = ["allow", "deny", "raise", "stop"];

/** What `ask` answers for a guard without the hook at this point. */
const SKIP: unique symbol = Symbol("skip");

/** Calls one guard's hook with the stage's state, or answers SKIP. */
type Ask<S> = (state: S, guard: Guard) => unknown;
/**
 * Judges one answer; a boxed value ends the sequence. `known`: the answer's check, when the same
 * frozen verdict object was checked before (looked up once, where the answer was received).
 */
type Settle<S, R> = (
  state: S,
  guard: Guard,
  threw: boolean,
  answer: unknown,
  known: Known,
) => { readonly value: R } | undefined;

type Known = Checked<GuardVerdict | GuardAfterVerdict> | undefined;

/**
 * The rest of a stage once a guard answered with a native Promise (from guard `from` on): each answer
 * awaited in turn, judged by `settle` (a boxed value ends the sequence), `done` at the end. The
 * synchronous paths (`runGuards`, `afterToolCallGuards`, `beforeModelCallGuards`) hand over here with
 * what they gathered so far. A foreign thenable is never awaited: it is judged as is (and refused).
 */
async function driveAsync<S, R>(
  guards: readonly Guard[],
  from: number,
  pending: Promise<unknown>,
  state: S,
  ask: Ask<S>,
  settle: Settle<S, R>,
  done: (state: S) => R,
): Promise<R> {
  for (let i = from; i < guards.length; i++) {
    const guard = guards[i]!;
    let answer: unknown;
    let threw = false;
    try {
      if (i === from) answer = await pending;
      else {
        answer = ask(state, guard);
        if (answer === SKIP) continue;
        if (isNativePromise(answer)) answer = await answer;
      }
    } catch (err) {
      answer = err;
      threw = true;
    }
    const known =
      !threw && typeof answer === "object" && answer !== null ? checkedVerdicts.get(answer) : undefined;
    const r = settle(state, guard, threw, answer, known);
    if (r) return r.value;
  }
  return done(state);
}

/**
 * Verdicts already checked, by identity: a guard that answers one frozen verdict again and again
 * (an `allow` constant, the taint guard's raise for a run) is checked once. Only frozen objects whose
 * fields are plain data are kept (a getter could answer differently later); the hook's allowed
 * actions are still checked on every answer.
 */
const checkedVerdicts = new WeakMap<object, Checked<GuardVerdict | GuardAfterVerdict>>();

function cacheable(answer: object): boolean {
  if (!Object.isFrozen(answer) || Array.isArray(answer)) return false;
  for (const key of Reflect.ownKeys(answer)) {
    const d = Object.getOwnPropertyDescriptor(answer, key);
    if (!d || !("value" in d) || (typeof d.value === "object" && d.value !== null)) return false;
  }
  return true;
}

function checkedVerdict<T extends GuardVerdict | GuardAfterVerdict>(
  answer: unknown,
  allowed: readonly T["action"][],
  known: Known,
): Checked<T> {
  if (known?.ok && allowed.includes(known.value.action as T["action"])) return known as Checked<T>;
  const checked = checkGuardVerdict<T>(answer, allowed);
  if (checked.ok && typeof answer === "object" && answer !== null && cacheable(answer))
    checkedVerdicts.set(answer, checked);
  return checked;
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

/**
 * The last raise made, and what it was made from: a run raised by taint answers the same checked
 * verdict over the same assessment call after call, and finds it here without a lookup. The verdict
 * is matched by identity: a checked verdict is the copy `checkGuardVerdict` made, which only this
 * module holds (no guard can change it), so a hit is exactly the raise the lookup below would give.
 */
let lastRaise: { current: RiskAssessment; verdict: object; raise: Raise } | undefined;

function raised(
  current: RiskAssessment,
  guardName: string,
  verdict: { readonly level: RiskAssessment["level"]; readonly reason: string },
): Raise {
  const last = lastRaise;
  if (
    last !== undefined &&
    last.current === current &&
    last.verdict === verdict &&
    last.raise.guard === guardName
  )
    return last.raise;
  const raise = raisedSlow(current, guardName, verdict);
  lastRaise = { current, verdict, raise };
  return raise;
}

function raisedSlow(
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
    next: raisedRisk(
      maxRisk(current.level, verdict.level),
      `${current.reason}; raised by ${guardName}: ${verdict.reason}`,
      current.rule,
    ),
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

function raisedRisk(level: RiskAssessment["level"], reason: string, rule: string): RiskAssessment {
  return Object.freeze({ level, reason, rule });
}

/**
 * Objects kept for the process's life, one of each shape the guard stage and the guards read on
 * every call but build per harness or per run (a run's guard context, a raised assessment): V8 holds
 * object shapes weakly, and compiled code that depends on a shape no live object has any more is
 * thrown away. Without these, every harness's end (its last session's contexts collected) discarded
 * the compiled code of the guard stage, the guards and the ledger's lookups, for the next harness to
 * compile again. Filled below, where each shape is defined.
 */
keepShapes(raisedRisk("MEDIUM", "", ""));

/** What the guard stage of one call carries from guard to guard. */
interface CallState {
  readonly ctx: RunContext;
  readonly gctx: GuardContext;
  readonly tool: Tool;
  readonly callId: string;
  readonly input: unknown;
  current: RiskAssessment;
  /** One view of the call for every guard; a new one only after a guard raised the level. */
  view: GuardToolCall;
  readonly records: StageRecord[];
}

/**
 * The guard stage's records of the last call that passed every guard, as one frozen list: calls in a
 * row pass the same guards with the same shared records (pass records, a memoized raise), so they
 * share one list rather than each building its own (the event keeps it for the session's life).
 */
let lastRecords: readonly StageRecord[] = Object.freeze([]);
/** The last passing result, reused while the next call passes with the same level and records. */
let lastPassed: Extract<GuardResult, { ok: true }> | undefined;

/**
 * The stage, synchronously while every guard answers synchronously (no state object, no list made
 * for a call whose records are those of the call before); from the first native Promise on, the
 * generic asynchronous path (`driveAsync`) with what was gathered so far. Anything but `allow` or
 * `raise` (deny, stop, a throw, a malformed verdict) is judged by `settleBeforeToolCall`, once.
 */
function runGuards(
  ctx: RunContext,
  gctx: RunGuardContext,
  tool: Tool,
  callId: string,
  input: unknown,
  risk: RiskAssessment,
): GuardResult | Promise<GuardResult> {
  const guards = RunGuardContext.guardsOf(gctx);
  let current = risk;
  let view: GuardToolCall = { tool, callId, input, risk };
  const last = lastRecords;
  /** Records so far: while `own` is undefined, they are `last`'s first `n`. */
  let n = 0;
  let own: StageRecord[] | undefined;
  for (let i = 0; i < guards.length; i++) {
    const guard = guards[i]!;
    if (!guard.beforeToolCall) continue;
    if (view.risk !== current) view = { tool, callId, input, risk: current };
    let answer: unknown;
    let threw = false;
    let known: Known;
    try {
      answer = guard.beforeToolCall(view, gctx);
      if (typeof answer === "object" && answer !== null) {
        known = checkedVerdicts.get(answer);
        if (known === undefined && isNativePromise(answer)) {
          const state: CallState = {
            ctx,
            gctx,
            tool,
            callId,
            input,
            current,
            view,
            records: own ?? last.slice(0, n),
          };
          return driveAsync(guards, i, answer, state, askBeforeToolCall, settleBeforeToolCall, callDone);
        }
      }
    } catch (err) {
      answer = err;
      threw = true;
    }
    let record: StageRecord | undefined;
    const checked = threw ? undefined : checkedVerdict<GuardVerdict>(answer, BEFORE_TOOL_CALL_ACTIONS, known);
    if (checked?.ok) {
      const verdict = checked.value;
      if (verdict.action === "allow") record = passRecord(guard.name);
      else if (verdict.action === "raise") {
        const raise = raised(current, guard.name, verdict);
        current = raise.next;
        record = raise.record;
      }
    }
    if (record === undefined) {
      // Denied, stopped, failed or malformed: the call ends here (judged from the same check).
      const records = own ?? last.slice(0, n);
      return refusedCall(ctx, records, guard, threw, answer, checked);
    }
    if (own === undefined) {
      if (n < last.length && last[n] === record) {
        n++;
        continue;
      }
      own = last.slice(0, n);
    }
    own.push(record);
    n++;
  }
  let records: readonly StageRecord[];
  if (own === undefined) records = n === last.length ? last : last.slice(0, n);
  else records = own;
  if (records !== last && records.every(isFrozen)) {
    records = Object.freeze(records as StageRecord[]);
    lastRecords = records;
  }
  const prev = lastPassed;
  if (prev !== undefined && prev.risk === current && prev.records === records) return prev;
  const passed = Object.freeze({ ok: true as const, risk: current, records });
  if (records === lastRecords) lastPassed = passed;
  return passed;
}

function isFrozen(record: StageRecord): boolean {
  return Object.isFrozen(record);
}

function askBeforeToolCall(s: CallState, guard: Guard): unknown {
  if (!guard.beforeToolCall) return SKIP;
  if (s.view.risk !== s.current) s.view = { tool: s.tool, callId: s.callId, input: s.input, risk: s.current };
  return guard.beforeToolCall(s.view, s.gctx);
}

function settleBeforeToolCall(
  s: CallState,
  guard: Guard,
  threw: boolean,
  answer: unknown,
  known: Known,
): { readonly value: GuardResult } | undefined {
  const checked = threw ? undefined : checkedVerdict<GuardVerdict>(answer, BEFORE_TOOL_CALL_ACTIONS, known);
  if (checked?.ok) {
    const verdict = checked.value;
    if (verdict.action === "allow") {
      s.records.push(passRecord(guard.name));
      return undefined;
    }
    if (verdict.action === "raise") {
      const raise = raised(s.current, guard.name, verdict);
      s.current = raise.next;
      s.records.push(raise.record);
      return undefined;
    }
  }
  return { value: refusedCall(s.ctx, s.records, guard, threw, answer, checked) };
}

/**
 * A guard threw, answered a malformed verdict, denied the call or stopped the run: the call's result.
 * `checked` is the answer's one check (undefined when the guard threw).
 */
function refusedCall(
  ctx: RunContext,
  records: StageRecord[],
  guard: Guard,
  threw: boolean,
  answer: unknown,
  checked: Checked<GuardVerdict> | undefined,
): GuardResult {
  if (threw || checked === undefined) {
    const reason = `guard "${guard.name}" failed: ${errorMessage(answer)} (fail closed)`;
    records.push({ stage: "guards", outcome: "deny", by: `guard:${guard.name}`, note: reason });
    return { ok: false, reason, records };
  }
  if (!checked.ok) {
    const reason = `guard "${guard.name}" answered a malformed verdict: ${checked.problem} (fail closed)`;
    records.push({ stage: "guards", outcome: "deny", by: `guard:${guard.name}`, note: reason });
    return { ok: false, reason, records };
  }
  const verdict = checked.value;
  switch (verdict.action) {
    case "deny":
      records.push({ stage: "guards", outcome: "deny", by: `guard:${guard.name}`, note: verdict.reason });
      return verdict.details
        ? { ok: false, reason: verdict.reason, details: verdict.details, records }
        : { ok: false, reason: verdict.reason, records };
    case "stop":
      ctx.pendingStop ??= verdict.stop;
      records.push({
        stage: "guards",
        outcome: "deny",
        by: `guard:${guard.name}`,
        note: `run stops: ${verdict.stop.type}`,
      });
      return { ok: false, reason: `the run is stopping (${verdict.stop.type})`, records };
    default: {
      // allow and raise are handled by the callers; anything else is not a verdict of this hook.
      const reason = `guard "${guard.name}" answered an unexpected verdict (fail closed)`;
      records.push({ stage: "guards", outcome: "deny", by: `guard:${guard.name}`, note: reason });
      return { ok: false, reason, records };
    }
  }
}

function callDone(s: CallState): GuardResult {
  return { ok: true, risk: s.current, records: s.records };
}

/** The events a guard may append; anything else it asks for is ignored (it cannot forge a call's record). */
const GUARD_EVENTS: ReadonlySet<string> = new Set<GuardEventType>([
  "budget_warning",
  "stall_warning",
  "circuit_changed",
]);

/**
 * A run's guard context: what a guard may read of the run, and `notify`. One class for every run,
 * with the `turn` getter on its prototype, so every run's context has the same shape and the same
 * getter: the guards' code compiled for one run serves the next (a literal with a getter made per
 * run gave each run its own accessor, so the sites reading `turn` went megamorphic and compiled
 * code that had inlined an old run's getter was thrown away when that run was collected).
 * `notify` stays an own arrow, so a guard may pass it around detached (it is called only to warn).
 */
class RunGuardContext implements GuardContext {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly runId: string;
  readonly notify: GuardContext["notify"];
  readonly #ctx: RunContext;
  /** The session's guards, read from here by the stage (see `guardContext`). */
  readonly #guards: readonly Guard[];

  constructor(ctx: RunContext) {
    this.#guards = ctx.deps.guards;
    this.tenantId = ctx.deps.tenantId;
    this.sessionId = ctx.deps.sessionId;
    this.runId = ctx.runId;
    this.notify = <T extends GuardEventType>(type: T, data: EventDataMap[T]) => {
      if (GUARD_EVENTS.has(type)) ctx.emit(type, data);
    };
    this.#ctx = ctx;
    Object.freeze(this);
  }

  static guardsOf(gctx: RunGuardContext): readonly Guard[] {
    return gctx.#guards;
  }

  /** The run's current turn, read live. */
  get turn(): number {
    return this.#ctx.turn;
  }
}

{
  // The guards as a harness holds them (a frozen array of objects).
  const guards: Guard[] = [];
  guards.push({ name: "-" });
  keepShapes(
    newGuardContext({
      deps: { tenantId: "-", sessionId: "-", guards: Object.freeze(guards) },
      runId: "-",
    } as unknown as RunContext),
  );
}

/**
 * One frozen context per run, made at its first guard call and kept in the run's own slot: every
 * guard call of the run shares it (no allocation and no lookup per call or turn; it goes with the run).
 * It also holds the session's guards, so the stage reads nothing of the session's dependencies per
 * call: their object is built per harness, and code compiled against its shape was thrown away with
 * each harness (one read of it per run, in `newGuardContext`, which is not inlined into the stage).
 */
function guardContext(ctx: RunContext): RunGuardContext {
  const gctx = ctx.guardContext;
  // Only this module fills the slot.
  return gctx !== undefined ? (gctx as RunGuardContext) : newGuardContext(ctx);
}

function newGuardContext(ctx: RunContext): RunGuardContext {
  const gctx = new RunGuardContext(ctx);
  ctx.guardContext = gctx;
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
): readonly string[] | Promise<readonly string[]> {
  // Synchronous while the guards answer synchronously: no state object (see `runGuards`).
  const gctx = guardContext(ctx);
  const guards = RunGuardContext.guardsOf(gctx);
  const denied = hook === "afterDeniedCall";
  let notes: string[] | undefined;
  for (let i = 0; i < guards.length; i++) {
    const guard = guards[i]!;
    const after = denied ? guard.afterDeniedCall : guard.afterToolCall;
    if (!after) continue;
    let answer: unknown;
    let threw = false;
    let known: Known;
    try {
      answer = after.call(guard, call, outcome, gctx);
      if (answer === undefined) continue;
      if (typeof answer === "object" && answer !== null) {
        known = checkedVerdicts.get(answer);
        if (known === undefined && isNativePromise(answer)) {
          const state: AfterState = { ctx, gctx, call, outcome, hook, notes };
          return driveAsync(guards, i, answer, state, askAfter, settleAfter, afterDone);
        }
      }
    } catch (err) {
      answer = err;
      threw = true;
    }
    const judged = judgeAfter(ctx, guard, hook, threw, answer, known, notes);
    if (judged === FAILED) break;
    notes = judged;
  }
  return notes ?? NO_NOTES;
}

/** `judgeAfter`'s answer when the guard failed: the run stops, no further guard is asked. */
const FAILED: unique symbol = Symbol("failed");

/**
 * Judges one after-call answer: a throw or a malformed verdict stops the run with
 * `REIN_GUARD_FAILED` (FAILED), a `stop` sets the run's stop, a `warn` adds its note to `notes`
 * (made at the first); answers the notes so far.
 */
function judgeAfter(
  ctx: RunContext,
  guard: Guard,
  hook: "afterToolCall" | "afterDeniedCall",
  threw: boolean,
  answer: unknown,
  known: Known,
  notes: string[] | undefined,
): string[] | undefined | typeof FAILED {
  if (threw) {
    ctx.pendingStop ??= guardFailed(guard.name, hook, `threw: ${errorMessage(answer)}`);
    return FAILED;
  }
  if (answer === undefined) return notes;
  const checked = checkedVerdict<GuardAfterVerdict>(answer, AFTER_ACTIONS, known);
  if (!checked.ok) {
    ctx.pendingStop ??= guardFailed(guard.name, hook, `answered a malformed verdict: ${checked.problem}`);
    return FAILED;
  }
  if (checked.value.action === "stop") ctx.pendingStop ??= checked.value.stop;
  else if (checked.value.action === "warn") {
    const list = notes ?? [];
    list.push(`[${guard.name}] ${checked.value.note}`);
    return list;
  }
  return notes;
}

interface AfterState {
  readonly ctx: RunContext;
  readonly gctx: GuardContext;
  readonly call: GuardToolCall;
  readonly outcome: GuardCallOutcome;
  readonly hook: "afterToolCall" | "afterDeniedCall";
  /** Made at the first note. */
  notes: string[] | undefined;
}

function askAfter(s: AfterState, guard: Guard): unknown {
  const after = guard[s.hook];
  return after ? after.call(guard, s.call, s.outcome, s.gctx) : SKIP;
}

function settleAfter(
  s: AfterState,
  guard: Guard,
  threw: boolean,
  answer: unknown,
  known: Known,
): { readonly value: readonly string[] } | undefined {
  const judged = judgeAfter(s.ctx, guard, s.hook, threw, answer, known, s.notes);
  if (judged === FAILED) return { value: afterDone(s) };
  s.notes = judged;
  return undefined;
}

const NO_NOTES: readonly string[] = Object.freeze([]);

function afterDone(s: AfterState): readonly string[] {
  return s.notes ?? NO_NOTES;
}

/**
 * Before each model call, guards may stop the run. Anything but `allow` or `stop` (including a
 * throw) stops it with `REIN_GUARD_FAILED` (fail closed). Resolves to the stop, or undefined.
 */
export function beforeModelCallGuards(
  ctx: RunContext,
): StopReason | undefined | Promise<StopReason | undefined> {
  // Synchronous while the guards answer synchronously (see `runGuards`).
  const gctx = guardContext(ctx);
  const guards = RunGuardContext.guardsOf(gctx);
  for (let i = 0; i < guards.length; i++) {
    const guard = guards[i]!;
    if (!guard.beforeModelCall) continue;
    let answer: unknown;
    let threw = false;
    let known: Known;
    try {
      answer = guard.beforeModelCall(gctx);
      if (typeof answer === "object" && answer !== null) {
        known = checkedVerdicts.get(answer);
        if (known === undefined && isNativePromise(answer))
          return driveAsync<GuardContext, StopReason | undefined>(
            guards,
            i,
            answer,
            gctx,
            askBeforeModelCall,
            settleBeforeModelCall,
            noStop,
          );
      }
    } catch (err) {
      answer = err;
      threw = true;
    }
    const r = settleBeforeModelCall(gctx, guard, threw, answer, known);
    if (r) return r.value;
  }
  return undefined;
}

function askBeforeModelCall(gctx: GuardContext, guard: Guard): unknown {
  return guard.beforeModelCall ? guard.beforeModelCall(gctx) : SKIP;
}

function settleBeforeModelCall(
  _gctx: GuardContext,
  guard: Guard,
  threw: boolean,
  answer: unknown,
  known: Known,
): { readonly value: StopReason | undefined } | undefined {
  if (threw) return { value: guardFailed(guard.name, "beforeModelCall", `threw: ${errorMessage(answer)}`) };
  const checked = checkedVerdict<GuardVerdict>(answer, STOP_ACTIONS, known);
  if (!checked.ok)
    return {
      value: guardFailed(guard.name, "beforeModelCall", `answered a malformed verdict: ${checked.problem}`),
    };
  return checked.value.action === "stop" ? { value: checked.value.stop } : undefined;
}

function noStop(): undefined {
  return undefined;
}

/**
 * A resumed run hands each guard the run's events so far, so per-run state (taint) survives the
 * crash or the pause. A throw, or an answer other than `undefined`, stops the run (fail closed).
 */
export function resumedGuards(ctx: RunContext, events: readonly ReinEvent[]): StopReason | undefined {
  const gctx = guardContext(ctx);
  for (const guard of RunGuardContext.guardsOf(gctx)) {
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
