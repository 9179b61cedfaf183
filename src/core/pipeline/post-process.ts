import { checkToolOutcome, isNativePromise } from "../../protocol/answers.js";
import { errorMessage } from "../../protocol/errors.js";
import type { EventDataMap, StageRecord } from "../../protocol/events.js";
import type { HookToolCall } from "../../protocol/hooks.js";
import { errorOutcome, type ToolOutcome } from "../../protocol/tool-result.js";
import type { ResultContext, ResultProcessor } from "../../security/result-processor.js";
import type { RunContext } from "../run-context.js";

const UNFILLED: StageRecord = Object.freeze({
  stage: "post_process",
  outcome: "skipped",
  by: "slot:unfilled",
  note: "no result processors configured (redaction, injection scanning and spotlighting plug in here)",
});

const UNFILLED_RECORDS: readonly StageRecord[] = Object.freeze([UNFILLED]);

/** A flag as guards read it (the `content_flagged` event without the call's coordinates). */
export type ProcessedFlag = Pick<EventDataMap["content_flagged"], "kind" | "by" | "severity" | "score">;

export interface Processed {
  readonly outcome: ToolOutcome;
  readonly records: readonly StageRecord[];
  /** What the processors flagged (absent when nothing was). */
  readonly flags?: readonly ProcessedFlag[];
}

/**
 * Stage 6: result processors (redaction, injection defence) then the user's `afterToolCall` hook.
 * A processor or hook that throws replaces the result with an error: content that could not be
 * cleaned never reaches the model (fail closed).
 */
export function postProcess(
  ctx: RunContext,
  call: HookToolCall,
  outcome: ToolOutcome,
): Processed | Promise<Processed> {
  const { resultProcessors, hooks } = ctx.deps;
  if (resultProcessors.length === 0 && !hooks.afterToolCall) return { outcome, records: UNFILLED_RECORDS };
  return runProcessors(ctx, call, outcome);
}

/** One call's run through the processors: what they answered so far. */
interface ProcessorRun {
  /** How many processors passed, in order (their records are made only when one is needed). */
  passed: number;
  flags: ProcessedFlag[] | undefined;
  current: ToolOutcome;
}

/** The `pass` record of each processor, made once: a step must not allocate what never changes. */
const PASS_RECORDS = new Map<string, StageRecord>();

function passRecord(by: string): StageRecord {
  let r = PASS_RECORDS.get(by);
  if (r === undefined) {
    r = Object.freeze({ stage: "post_process", outcome: "pass", by });
    if (PASS_RECORDS.size < 1024) PASS_RECORDS.set(by, r);
  }
  return r;
}

const HOOK_PASS: StageRecord = Object.freeze({
  stage: "post_process",
  outcome: "pass",
  by: "hook:afterToolCall",
});

/**
 * The records of a chain whose every processor (and the hook, when there is one) passed: one frozen
 * array per list of processor names, so a step allocates no records and the event redactor finds them
 * frozen and already walked. Found by comparing names (the same few strings, compared by identity
 * first), not by the processors array: that array is per session, and a table keyed by it would take
 * a key per session (a WeakMap's table only shrinks at a major collection). Bounded: past
 * ALL_PASS_ENTRIES distinct chains (a harness has one or two) the oldest is made again when needed.
 */
interface AllPass {
  readonly names: readonly string[];
  readonly hook: boolean;
  readonly records: readonly StageRecord[];
}
const ALL_PASS: AllPass[] = [];
const ALL_PASS_ENTRIES = 16;

function allPassRecords(processors: readonly ResultProcessor[], hook: boolean): readonly StageRecord[] {
  for (let i = 0; i < ALL_PASS.length; i++) {
    const e = ALL_PASS[i]!;
    if (e.hook === hook && sameNames(e.names, processors)) return e.records;
  }
  const names = processors.map((p) => p.name);
  const records = Object.freeze([
    ...names.map((name) => passRecord(`processor:${name}`)),
    ...(hook ? [HOOK_PASS] : []),
  ]);
  if (ALL_PASS.length >= ALL_PASS_ENTRIES) ALL_PASS.shift();
  ALL_PASS.push({ names, hook, records });
  return records;
}

function sameNames(names: readonly string[], processors: readonly ResultProcessor[]): boolean {
  if (names.length !== processors.length) return false;
  for (let i = 0; i < names.length; i++) if (names[i] !== processors[i]!.name) return false;
  return true;
}

/** The records of the processors that passed before `run` stopped, as a fresh array to append to. */
function recordsSoFar(ctx: RunContext, run: ProcessorRun): StageRecord[] {
  const { resultProcessors } = ctx.deps;
  const out: StageRecord[] = [];
  for (let i = 0; i < run.passed; i++) out.push(passRecord(`processor:${resultProcessors[i]!.name}`));
  return out;
}

/**
 * Runs the processors, then the hook, synchronously for as long as each answers synchronously (the
 * built-in ones do): a promise is awaited only where one is answered.
 */
function runProcessors(
  ctx: RunContext,
  call: HookToolCall,
  outcome: ToolOutcome,
): Processed | Promise<Processed> {
  const { tenantId, sessionId } = ctx.deps;
  const run: ProcessorRun = { passed: 0, flags: undefined, current: outcome };
  const context: ResultContext = {
    tenantId,
    sessionId,
    turn: call.turn,
    tool: call.tool,
    callId: call.callId,
    flag: (flag) => {
      ctx.emit("content_flagged", { ...flag, turn: call.turn, callId: call.callId, tool: call.tool });
      const summary = { kind: flag.kind, by: flag.by, severity: flag.severity, score: flag.score };
      if (run.flags) run.flags.push(summary);
      else run.flags = [summary];
    },
  };
  return processFrom(ctx, call, run, context, 0);
}

function processFrom(
  ctx: RunContext,
  call: HookToolCall,
  run: ProcessorRun,
  context: ResultContext,
  from: number,
): Processed | Promise<Processed> {
  const { resultProcessors } = ctx.deps;
  for (let i = from; i < resultProcessors.length; i++) {
    const processor = resultProcessors[i]!;
    let answer: unknown;
    try {
      answer = processor.process(run.current, context);
    } catch (err) {
      return processorFailed(ctx, run, processor.name, err);
    }
    if (isNativePromise(answer))
      return answer.then(
        (settled) =>
          acceptProcessor(ctx, run, processor.name, settled) ?? processFrom(ctx, call, run, context, i + 1),
        (err: unknown) => processorFailed(ctx, run, processor.name, err),
      );
    const failed = acceptProcessor(ctx, run, processor.name, answer);
    if (failed) return failed;
  }
  return afterHook(ctx, call, run);
}

/** Takes a processor's answer; the withheld result when it is malformed. */
function acceptProcessor(
  ctx: RunContext,
  run: ProcessorRun,
  name: string,
  answer: unknown,
): Processed | undefined {
  // The outcome it was given (redaction of a clean result): nothing to copy. Still checked, since a
  // processor may have changed it in place: an ok outcome's two fields keep their types.
  const same = answer === run.current ? run.current : undefined;
  if (same?.ok === true && typeof same.content === "string" && typeof same.truncated === "boolean") {
    run.passed++;
    return undefined;
  }
  try {
    const checked = checkToolOutcome(answer);
    if (!checked.ok) throw new Error(`answered a malformed outcome: ${checked.problem}`);
    run.current = checked.value;
    run.passed++;
    return undefined;
  } catch (err) {
    return processorFailed(ctx, run, name, err);
  }
}

function processorFailed(ctx: RunContext, run: ProcessorRun, name: string, err: unknown): Processed {
  const records = recordsSoFar(ctx, run);
  records.push({
    stage: "post_process",
    outcome: "deny",
    by: `processor:${name}`,
    note: errorMessage(err),
  });
  return {
    outcome: errorOutcome("tool_error", `The result was withheld: processor "${name}" failed.`),
    records,
    ...(run.flags ? { flags: run.flags } : {}),
  };
}

function afterHook(ctx: RunContext, call: HookToolCall, run: ProcessorRun): Processed | Promise<Processed> {
  const { hooks } = ctx.deps;
  if (!hooks.afterToolCall) return done(ctx, run, false);
  let answer: unknown;
  try {
    answer = hooks.afterToolCall(call, run.current);
  } catch (err) {
    return hookFailed(ctx, run, err);
  }
  if (isNativePromise(answer))
    return answer.then(
      (settled) => acceptHook(ctx, run, settled),
      (err: unknown) => hookFailed(ctx, run, err),
    );
  return acceptHook(ctx, run, answer);
}

function acceptHook(ctx: RunContext, run: ProcessorRun, answer: unknown): Processed {
  try {
    if (answer !== undefined) {
      const checked = checkToolOutcome(answer);
      if (!checked.ok) throw new Error(`answered a malformed outcome: ${checked.problem}`);
      run.current = checked.value;
    }
    return done(ctx, run, true);
  } catch (err) {
    return hookFailed(ctx, run, err);
  }
}

function hookFailed(ctx: RunContext, run: ProcessorRun, err: unknown): Processed {
  const records = recordsSoFar(ctx, run);
  records.push({
    stage: "post_process",
    outcome: "deny",
    by: "hook:afterToolCall",
    note: errorMessage(err),
  });
  return {
    outcome: errorOutcome("tool_error", "The result was withheld: the afterToolCall hook failed."),
    records,
    ...(run.flags ? { flags: run.flags } : {}),
  };
}

function done(ctx: RunContext, run: ProcessorRun, hook: boolean): Processed {
  const records = allPassRecords(ctx.deps.resultProcessors, hook);
  return run.flags ? { outcome: run.current, records, flags: run.flags } : { outcome: run.current, records };
}
