import { errorMessage } from "../protocol/errors.js";
import { textOf, type Usage, type UserMessage } from "../protocol/messages.js";
import type { ResumePlan } from "../protocol/resume.js";
import type { RunResult } from "../protocol/run-result.js";
import { statusOf } from "../protocol/stop-reason.js";
import { addToInputEstimate } from "./input-estimate.js";
import { resumeRun } from "./resume-run.js";
import type { RunContext } from "./run-context.js";
import { type StepOutcome, steps } from "./step.js";

/**
 * The loop: step until a step says stop. Both `run()` and `stream()` drive this one function.
 * Anything thrown from a step is a bug or broken infrastructure: it ends the run with an `error`
 * stop reason and never escapes as an unhandled rejection.
 */
export function driveRun(ctx: RunContext, task: string, lastSeq: () => number): Promise<RunResult> {
  return drive(ctx, lastSeq, () => {
    startRun(ctx, task);
    return undefined;
  });
}

/** Continues a run from its log (see `ResumePlan`): the pending turn first, then the loop. */
export function driveResume(ctx: RunContext, plan: ResumePlan, lastSeq: () => number): Promise<RunResult> {
  return drive(ctx, lastSeq, () => resumeRun(ctx, plan));
}

function startRun(ctx: RunContext, task: string): void {
  const { deps } = ctx;
  ctx.emit("run_started", {
    task,
    limits: {
      maxTurns: deps.limits.maxTurns,
      runTimeoutMs: deps.limits.runTimeoutMs,
      modelCallTimeoutMs: deps.limits.modelCallTimeoutMs,
    },
  });
  const taskMessage: UserMessage = { role: "user", content: [{ type: "text", text: task }] };
  deps.history.push(taskMessage);
  if (deps.inputEstimate.measured) addToInputEstimate(deps, taskMessage);
}

async function drive(
  ctx: RunContext,
  lastSeq: () => number,
  begin: () => StepOutcome | undefined | Promise<StepOutcome | undefined>,
): Promise<RunResult> {
  const { deps } = ctx;
  const started = performance.now();
  const scope = ctx.scope;
  // One run at a time per session, so the run's spend is the session's ledger delta: no second counter.
  const before = deps.ledger.totals(scope);
  let outcome: StepOutcome = { type: "continue" };
  try {
    outcome = (await begin()) ?? outcome;
    if (outcome.type === "continue") outcome = await steps(ctx);
  } catch (err) {
    outcome = { type: "stop", reason: { type: "error", code: "REIN_INTERNAL", message: errorMessage(err) } };
  }

  const stopReason = outcome.reason;
  const last = deps.history.at(-1);
  const finalText = last?.role === "assistant" ? textOf(last.content) : "";
  const status = statusOf(stopReason);
  const durationMs = performance.now() - started;
  const after = deps.ledger.totals(scope);
  const usage = usageSince(before.usage, after.usage);
  const costUsd = after.costUsd - before.costUsd;
  ctx.emit("run_ended", {
    status,
    stopReason,
    turns: ctx.turn,
    usage,
    costUsd,
    durationMs,
    finalText,
    unsettledToolCalls: ctx.unsettledToolCalls,
  });
  return {
    sessionId: deps.sessionId,
    runId: ctx.runId,
    status,
    stopReason,
    finalText,
    turns: ctx.turn,
    toolCalls: ctx.toolCalls,
    usage,
    costUsd,
    durationMs,
    messages: deps.history,
    unsettledToolCalls: ctx.unsettledToolCalls,
    lastSeq: lastSeq(),
  };
}

function usageSince(before: Usage, after: Usage): Usage {
  return {
    inputTokens: after.inputTokens - before.inputTokens,
    outputTokens: after.outputTokens - before.outputTokens,
    cacheReadTokens: after.cacheReadTokens - before.cacheReadTokens,
    cacheWriteTokens: after.cacheWriteTokens - before.cacheWriteTokens,
  };
}
