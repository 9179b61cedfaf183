import { isNativePromise } from "../../protocol/answers.js";
import type { ApprovalDecision } from "../../protocol/approval.js";
import { errorMessage } from "../../protocol/errors.js";
import type { SandboxStart, StageRecord } from "../../protocol/events.js";
import type { HookToolCall } from "../../protocol/hooks.js";
import type { ToolResultBlock, ToolUseBlock } from "../../protocol/messages.js";
import type { PendingTurn } from "../../protocol/resume.js";
import type { RiskAssessment } from "../../protocol/risk.js";
import {
  errorOutcome,
  GUARD_NOTE_MARK,
  outcomeContent,
  type ToolOutcome,
} from "../../protocol/tool-result.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";
import { type ApproveResult, approveCall, argsHash } from "./approve.js";
import { type Classified, classifyCall } from "./classify.js";
import { executeCall } from "./execute.js";
import { afterToolCallGuards, guardCall } from "./guards.js";
import { type HookResult, type Rewritten, rewriteInput, runBeforeToolCallHook } from "./hooks.js";
import { type ProcessedFlag, postProcess } from "./post-process.js";
import { keptStages } from "./shared-stages.js";
import { reserveToolCost } from "./tool-cost.js";
import { validateCall } from "./validate.js";

/** A call after stages 1–4: either cleared to execute, or already answered with an error outcome. */
export type Decided =
  | {
      readonly allowed: true;
      readonly call: ToolUseBlock;
      readonly tool: Tool;
      readonly hookCall: HookToolCall;
      /** The model's input when `rewriteToolInput` replaced it; the executed one is `hookCall.input`. */
      readonly originalInput: unknown;
      /** The hash a gate approved, re-checked just before execution. */
      readonly approvedHash: string | undefined;
    }
  | { readonly allowed: false; readonly call: ToolUseBlock; readonly outcome: ToolOutcome }
  /** A durable gate stored the call for a person: it is neither run nor answered in this run. */
  | { readonly allowed: false; readonly call: ToolUseBlock; readonly pendingApproval: string };

const NOT_EXECUTED: readonly StageRecord[] = Object.freeze([
  Object.freeze({
    stage: "execute",
    outcome: "skipped",
    by: "pipeline",
    note: "denied before execution",
  } as const),
]);

const STOPPING: StageRecord = Object.freeze({
  stage: "validate",
  outcome: "deny",
  by: "pipeline",
  note: "the run is stopping",
});

/**
 * Stages 1–4 for one call, ending with a `tool_call_decided` event. A stage answers synchronously when
 * its slot has nothing to do; stages return native Promises only (user answers are checked inside
 * each stage, never unwrapped here). The decision is synchronous when every stage answered
 * synchronously (no promise, no microtask), and a promise from the first stage that answered one.
 */
export function decideCall(ctx: RunContext, call: ToolUseBlock): Decided | Promise<Decided> {
  const stages = decideStages(ctx, call);
  return advance(stages, stages.next());
}

/** The stages as one sequence: a stage's promise is yielded and its value sent back (see `advance`). */
type Stages = Generator<Promise<unknown>, Decided, unknown>;

/** Drives `stages` synchronously while each stage answers synchronously, then on as promises settle. */
function advance(
  stages: Stages,
  step: IteratorResult<Promise<unknown>, Decided>,
): Decided | Promise<Decided> {
  if (step.done) return step.value;
  return step.value.then(
    (value) => advance(stages, stages.next(value)),
    (err: unknown) => advance(stages, stages.throw(err)),
  );
}

function* decideStages(ctx: RunContext, call: ToolUseBlock): Stages {
  const { turn } = ctx;
  ctx.emit("tool_call_requested", { turn, callId: call.id, tool: call.name, input: call.input });
  const stages: StageRecord[] = [];

  if (ctx.pendingStop || ctx.signal.aborted) {
    stages.push(STOPPING);
    return denied(ctx, call, stages, null, null, errorOutcome("cancelled", "Not run: the run is stopping."));
  }
  const validated = validateCall(ctx, call);
  stages.push(validated.record);
  if (!validated.ok) return denied(ctx, call, stages, null, null, validated.outcome);
  const { tool } = validated;

  // Without a rewrite hook the validated input goes on as is (no hook call object, no answer).
  let input = validated.input;
  let rewrittenFrom: unknown;
  if (ctx.deps.hooks.rewriteToolInput) {
    const r = rewriteInput(ctx, tool, {
      sessionId: ctx.deps.sessionId,
      runId: ctx.runId,
      turn,
      callId: call.id,
      tool: tool.name,
      input,
    });
    const rewritten = isNativePromise(r) ? ((yield r) as Rewritten) : r;
    if (rewritten.record) stages.push(rewritten.record);
    if (!rewritten.ok)
      return denied(ctx, call, stages, null, null, errorOutcome("permission_denied", rewritten.reason));
    if (rewritten.rewritten) rewrittenFrom = input;
    input = rewritten.input;
  }

  const c = classifyCall(ctx, tool, input);
  const classified = isNativePromise(c) ? ((yield c) as Classified) : c;
  stages.push(classified.record);
  let risk = classified.risk;
  if (risk.level === "BLOCK") {
    const outcome = errorOutcome("blocked", `Blocked by policy: ${risk.reason} (rule ${risk.rule}).`);
    return denied(ctx, call, stages, risk, null, outcome);
  }

  const g = guardCall(ctx, tool, call.id, input, risk);
  const guarded = isNativePromise(g) ? ((yield g) as Awaited<typeof g>) : g;
  const records = guarded.records;
  for (let i = 0; i < records.length; i++) stages.push(records[i]!);
  if (!guarded.ok)
    return denied(
      ctx,
      call,
      stages,
      risk,
      null,
      errorOutcome("guard_denied", guarded.reason, guarded.details),
    );
  risk = guarded.risk;

  const hookCall: HookToolCall = Object.freeze({
    sessionId: ctx.deps.sessionId,
    runId: ctx.runId,
    turn,
    callId: call.id,
    tool: tool.name,
    input,
    risk,
  });
  const h = runBeforeToolCallHook(ctx, hookCall);
  const hooked = isNativePromise(h) ? ((yield h) as HookResult) : h;
  stages.push(hooked.record);
  if (!hooked.ok)
    return denied(ctx, call, stages, risk, null, errorOutcome("permission_denied", hooked.reason));

  // The hook's call object carries the gate's three fields (the call's id, the tool, the input): no object of its own.
  const a = approveCall(ctx, hookCall, risk, hooked.requireApproval);
  const approved = isNativePromise(a) ? ((yield a) as ApproveResult) : a;
  stages.push(approved.record);
  const approval = approved.decision;
  if (approved.pending) {
    ctx.emit("approval_pending", {
      turn,
      callId: call.id,
      tool: tool.name,
      approvalId: approved.pending.approvalId,
      argsHash: approved.pending.argsHash,
      expiresAt: approved.pending.expiresAt,
    });
    return { allowed: false, call, pendingApproval: approved.pending.approvalId };
  }
  if (!approved.allowed) {
    const outcome = errorOutcome("permission_denied", `Permission denied: ${approved.reason}`);
    return denied(ctx, call, stages, risk, approval, outcome);
  }

  ctx.emit("tool_call_decided", {
    turn,
    callId: call.id,
    tool: tool.name,
    verdict: "allow",
    risk,
    approval,
    stages: keptStages(stages),
  });
  return {
    allowed: true,
    call,
    tool,
    hookCall,
    originalInput: rewrittenFrom,
    approvedHash: approved.argsHash,
  };
}

/** A call denied before execution: its `tool_call_decided` event, and the outcome the model reads. */
function denied(
  ctx: RunContext,
  call: ToolUseBlock,
  stages: readonly StageRecord[],
  risk: RiskAssessment | null,
  approval: ApprovalDecision | null,
  outcome: ToolOutcome,
): Decided {
  ctx.emit("tool_call_decided", {
    turn: ctx.turn,
    callId: call.id,
    tool: call.name,
    verdict: "deny",
    risk,
    approval,
    stages: keptStages(stages),
  });
  return { allowed: false, call, outcome };
}

/** Guard notes (a stall warning) appended to what the model reads, marked as Rein's. */
function withNotes(outcome: ToolOutcome, notes: readonly string[]): ToolOutcome {
  const text = notes.map((n) => `${GUARD_NOTE_MARK}${n}`).join("\n");
  if (outcome.ok) return { ...outcome, content: `${outcome.content}\n\n${text}` };
  return { ok: false, error: { ...outcome.error, message: `${outcome.error.message}\n\n${text}` } };
}

const WITHHELD = (why: string): ToolOutcome => errorOutcome("tool_error", `The result was withheld: ${why}.`);

/**
 * Stages 5–7: execute (if allowed), post-process, record. Always yields the block the model reads,
 * whatever fails after execution: a failure there becomes an error result or a pending stop, never
 * an unanswered `tool_use` or a call missing from the audit.
 */
const NO_FLAGS: readonly ProcessedFlag[] = Object.freeze([]);

export async function completeCall(ctx: RunContext, decided: Decided): Promise<ToolResultBlock> {
  const { call } = decided;
  const turn = ctx.turn;
  let outcome: ToolOutcome;
  let stages: readonly StageRecord[] = NOT_EXECUTED;
  let flags: readonly ProcessedFlag[] = NO_FLAGS;
  let durationMs = 0;
  let executed = false;
  let content: string | undefined;
  const observed: { sandbox?: SandboxStart } = {};
  if (decided.allowed) {
    const { tool, hookCall } = decided;
    const input = hookCall.input;
    if (decided.approvedHash !== undefined && argsHash(tool.name, input) !== decided.approvedHash) {
      // Frozen inputs cannot change; this catches what freezing cannot (a Map, a typed array).
      outcome = errorOutcome(
        "permission_denied",
        "Permission denied: the arguments changed after they were approved; the call was not run.",
      );
      stages = [{ stage: "execute", outcome: "deny", by: "pipeline", note: "arguments hash mismatch" }];
    } else {
      const idempotencyKey = `${ctx.deps.sessionId}:${turn}:${call.id}`;
      const cost = reserveToolCost(ctx, tool, input, call.id);
      if (!cost.ok) {
        outcome = cost.outcome;
        stages = [cost.record];
      } else {
        const startedData = { turn, callId: call.id, tool: tool.name, idempotencyKey, input };
        // A spread only when there is something to add (a spread in a literal is the slow path).
        ctx.emit(
          "tool_call_started",
          decided.originalInput !== undefined
            ? { ...startedData, originalInput: decided.originalInput }
            : startedData,
        );
        // The journal entry must be durable before the tool can change anything: after a crash,
        // resume finds it and never runs a non-idempotent call twice.
        const barrier = ctx.durable();
        let unjournalled: { err: unknown } | undefined;
        if (barrier !== undefined) {
          // Awaited as is (no derived promise per call); a rejection is the failure.
          try {
            await barrier;
          } catch (err) {
            unjournalled = { err };
          }
        }
        if (unjournalled !== undefined) {
          cost.release();
          outcome = errorOutcome(
            "cancelled",
            "Not run: its journal record could not be made durable, so the run stopped before the call.",
          );
          stages = [
            { stage: "execute", outcome: "deny", by: "pipeline", note: errorMessage(unjournalled.err) },
          ];
        } else {
          executed = true;
          const started = performance.now();
          const raw = await executeCall(ctx, tool, input, call.id, idempotencyKey, observed);
          durationMs = performance.now() - started;
          cost.settle();
          try {
            const p = postProcess(ctx, hookCall, raw);
            const processed = isNativePromise(p) ? await p : p;
            outcome = processed.outcome;
            stages = processed.records;
            flags = processed.flags ?? NO_FLAGS;
          } catch (err) {
            outcome = WITHHELD(`post-processing failed (${errorMessage(err)})`);
            stages = [{ stage: "post_process", outcome: "deny", by: "pipeline", note: errorMessage(err) }];
          }
          if (ctx.deps.guards.length > 0) {
            const guarded = outcomeContent(outcome);
            const n = afterToolCallGuards(
              ctx,
              { tool, callId: call.id, input },
              {
                ok: outcome.ok,
                errorType: outcome.ok ? null : outcome.error.type,
                content: guarded,
                flags,
              },
            );
            const notes = isNativePromise(n) ? await n : n;
            if (notes.length > 0) outcome = withNotes(outcome, notes);
            else content = guarded;
          }
        }
      }
    }
  } else if ("outcome" in decided) {
    outcome = decided.outcome;
    // A denied call of a registered tool: the stall detector must see a model retrying it forever.
    const tool = ctx.deps.guards.length > 0 ? ctx.deps.tools.get(call.name) : undefined;
    if (tool !== undefined && !outcome.ok) {
      const n = afterToolCallGuards(
        ctx,
        { tool, callId: call.id, input: call.input },
        { ok: false, errorType: outcome.error.type, content: outcomeContent(outcome), flags: NO_FLAGS },
        "afterDeniedCall",
      );
      const notes = isNativePromise(n) ? await n : n;
      if (notes.length > 0) outcome = withNotes(outcome, notes);
    }
  } else {
    // Never reached: a pending call is not completed (runToolCalls pauses the run instead).
    outcome = errorOutcome("permission_denied", "Not run: it waits for an approval.");
  }
  ctx.toolCalls++;
  content ??= outcomeContent(outcome);
  const finished = {
    turn,
    callId: call.id,
    tool: call.name,
    executed,
    ok: outcome.ok,
    errorType: outcome.ok ? null : outcome.error.type,
    content,
    truncated: outcome.ok && outcome.truncated,
    durationMs,
    stages,
  };
  ctx.emit("tool_call_finished", observed.sandbox ? { ...finished, sandbox: observed.sandbox } : finished);
  return outcome.ok
    ? { type: "tool_result", tool_use_id: call.id, content }
    : { type: "tool_result", tool_use_id: call.id, content, is_error: true };
}

/**
 * Runs the tool calls of one turn (the `tool_use` blocks of `content`, `count` of them) in order.
 * Consecutive calls of read-only tools execute concurrently; any other call runs alone, after
 * everything before it has finished. Results keep the calls' order, in an array of their exact
 * size (the history keeps it for as long as the session lives).
 */
export function runToolCalls(
  ctx: RunContext,
  content: readonly (ToolUseBlock | { readonly type: string })[],
  count: number,
): Promise<ToolResultBlock[] | undefined> {
  if (count !== 1) return runSeveral(ctx, content, count);
  // One call (the usual turn): its completion is the turn's, with no async frame and await of its
  // own (whether its tool is read-only changes nothing when it runs alone).
  let call: ToolUseBlock | undefined;
  for (let i = 0; call === undefined; i++)
    if (content[i]!.type === "tool_use") call = content[i] as ToolUseBlock;
  const d = decideCall(ctx, call);
  return isNativePromise(d) ? d.then((decided) => completeOnly(ctx, decided)) : completeOnly(ctx, d);
}

/** The only call of a turn, decided: its result as the turn's, or the pause for its approval. */
function completeOnly(ctx: RunContext, decided: Decided): Promise<ToolResultBlock[] | undefined> {
  if ("pendingApproval" in decided) return pauseForApproval(ctx, NONE_IN_FLIGHT, decided.pendingApproval);
  return completeCall(ctx, decided).then(onlyResult);
}

const NONE_IN_FLIGHT: readonly Promise<unknown>[] = Object.freeze([]);
const onlyResult = (result: ToolResultBlock): ToolResultBlock[] => [result];

/** `runToolCalls` for a turn of several calls. */
async function runSeveral(
  ctx: RunContext,
  content: readonly (ToolUseBlock | { readonly type: string })[],
  count: number,
): Promise<ToolResultBlock[] | undefined> {
  const results = new Array<ToolResultBlock>(count);
  let index = 0;
  // Read-only calls running concurrently; each fills its place in `results` when it ends.
  let batch: Promise<void>[] | undefined;
  for (let i = 0; i < content.length; i++) {
    const block = content[i]!;
    if (block.type !== "tool_use") continue;
    const call = block as ToolUseBlock;
    const readOnly = ctx.deps.tools.get(call.name)?.readOnly === true;
    if (!readOnly && batch !== undefined) {
      await Promise.all(batch);
      batch = undefined;
    }
    const d = decideCall(ctx, call);
    const decided = isNativePromise(d) ? await d : d;
    if ("pendingApproval" in decided) return pauseForApproval(ctx, batch ?? [], decided.pendingApproval);
    const completion = completeCall(ctx, decided);
    if (readOnly && decided.allowed) {
      const at = index++;
      results[at] = PLACEHOLDER;
      batch ??= [];
      batch.push(
        completion.then((result) => {
          results[at] = result;
        }),
      );
    } else results[index++] = await completion;
  }
  if (batch !== undefined) await Promise.all(batch);
  // The records of this turn's calls are made durable before their results reach the model: by
  // the caller, which waits for `syncResults` (step.ts, model-call.ts).
  return results;
}

/** A batched call's place until it ends (always filled before `runToolCalls` returns). */
const PLACEHOLDER = Object.freeze({ type: "tool_result", tool_use_id: "", content: "" }) as ToolResultBlock;

/**
 * The durability barrier for the last turn's results, when they are still pending. It rejects when
 * they could not be made durable: the run has then been stopped (fatal: the signal is aborted) and
 * the results go nowhere. Callers await it in a `try` (not `.catch()`: a derived promise per step).
 */
export function syncResults(ctx: RunContext): Promise<void> | undefined {
  if (!ctx.resultsUnsynced) return undefined;
  ctx.resultsUnsynced = false;
  // Not an async function: with nothing to wait for (no batching store or sink) it costs no promise.
  return ctx.durable();
}

/**
 * A durable gate stored a call for a person: the calls before it finish, this one and the rest of
 * the turn wait (unanswered in the log), and the run stops `requires_action`. `undefined` says so.
 */
async function pauseForApproval(
  ctx: RunContext,
  inFlight: readonly Promise<unknown>[],
  approvalId: string,
): Promise<undefined> {
  await Promise.all(inFlight);
  ctx.pendingStop = { type: "requires_action", approvals: [approvalId] };
  const barrier = ctx.durable();
  if (barrier !== undefined) await barrier.catch(() => {});
  return undefined;
}

/**
 * The calls of the turn a run stopped in, when it is resumed: finished ones keep their result; one
 * journalled as started re-runs only if its tool is idempotent (same idempotency key), else the
 * model reads `outcome_unknown`; the others go through the whole pipeline (a durable gate now has
 * the person's decision). `undefined` when a call still waits for an approval.
 */
export async function resumeToolCalls(
  ctx: RunContext,
  pending: PendingTurn,
): Promise<ToolResultBlock[] | undefined> {
  const results: ToolResultBlock[] = [];
  for (const call of pending.calls) {
    const done = pending.finished.get(call.id);
    if (done) {
      results.push(done);
      continue;
    }
    const started = pending.started.get(call.id);
    if (started) {
      const tool = ctx.deps.tools.get(call.name);
      if (tool?.idempotent === true) {
        const hookCall: HookToolCall = Object.freeze({
          sessionId: ctx.deps.sessionId,
          runId: ctx.runId,
          turn: ctx.turn,
          callId: call.id,
          tool: tool.name,
          input: started.input,
          risk: started.risk ?? { level: "HIGH", reason: "re-run after a crash", rule: "resume" },
        });
        results.push(
          await completeCall(ctx, {
            allowed: true,
            call,
            tool,
            hookCall,
            originalInput: undefined,
            approvedHash: undefined,
          }),
        );
      } else {
        results.push(unknownAfterCrash(ctx, call));
      }
      continue;
    }
    const d = decideCall(ctx, call);
    const decided = isNativePromise(d) ? await d : d;
    if ("pendingApproval" in decided) {
      ctx.pendingStop = { type: "requires_action", approvals: [decided.pendingApproval] };
      return undefined;
    }
    results.push(await completeCall(ctx, decided));
  }
  const barrier = ctx.durable();
  if (barrier !== undefined) await barrier.catch(() => {});
  return results;
}

function unknownAfterCrash(ctx: RunContext, call: ToolUseBlock): ToolResultBlock {
  const outcome = errorOutcome(
    "outcome_unknown",
    `Tool "${call.name}" was started and the process stopped before it finished; it may or may not have ` +
      "taken effect, and it is not idempotent, so it was not run again. Check its effect before calling it again.",
  );
  const content = outcomeContent(outcome);
  ctx.toolCalls++;
  ctx.emit("tool_call_finished", {
    turn: ctx.turn,
    callId: call.id,
    tool: call.name,
    executed: false,
    ok: false,
    errorType: "outcome_unknown",
    content,
    truncated: false,
    durationMs: 0,
    stages: [
      { stage: "execute", outcome: "skipped", by: "resume", note: "started before a crash; not idempotent" },
    ],
  });
  return { type: "tool_result", tool_use_id: call.id, content, is_error: true };
}
