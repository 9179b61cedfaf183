import type { UserMessage } from "../protocol/messages.js";
import type { StopReason } from "../protocol/stop-reason.js";
import { addToInputEstimate } from "./input-estimate.js";
import { callModel, stopFromAbort } from "./model-call.js";
import { runToolCalls, syncResults } from "./pipeline/tool-call.js";
import type { RunContext } from "./run-context.js";

/** How a step ended: the run goes on, or it stops for a typed reason. */
export type StepOutcome =
  | { readonly type: "continue" }
  | { readonly type: "stop"; readonly reason: StopReason };

const CONTINUE: StepOutcome = Object.freeze({ type: "continue" });

/**
 * Steps until one says stop, and answers that stop. One step: a model call, then every tool call it
 * asked for through the pipeline, then the results appended as one user message. Its cost does not
 * depend on the length of the history. The steps of a run share this one async frame: a frame, its
 * promise and the caller's await per step were a fifth of what a step allocated besides its events.
 */
export async function steps(ctx: RunContext): Promise<Extract<StepOutcome, { type: "stop" }>> {
  for (;;) {
    if (ctx.signal.aborted) return { type: "stop", reason: stopFromAbort(ctx.signal.reason) };
    ctx.turn++;
    const { maxTurns, warnAtFraction } = ctx.deps.limits;
    if (ctx.turn === Math.max(1, Math.ceil(maxTurns * warnAtFraction)) && ctx.turn < maxTurns) {
      ctx.emit("limit_warning", { limit: "max_turns", turn: ctx.turn, max: maxTurns });
    }

    const called = await callModel(ctx);
    if (!called.ok) return { type: "stop", reason: called.stop };

    const content = called.message.content;
    let calls = 0;
    for (let i = 0; i < content.length; i++) if (content[i]!.type === "tool_use") calls++;
    if (calls === 0) return { type: "stop", reason: ctx.pendingStop ?? { type: "completed" } };

    // Every tool_use gets its tool_result, even when the run is stopping: the history stays valid for the next run.
    const results = await runToolCalls(ctx, content, calls);
    // Paused for a durable approval: the turn's results are completed by resume.
    if (results === undefined) return { type: "stop", reason: ctx.pendingStop ?? { type: "completed" } };
    // The results are durable before they reach the model. When the run goes on, the next model call
    // waits for that right after its reservation (one commit for both in a transactional store); a
    // run that stops here waits now, so a failure still stops it (fatal) before it returns.
    ctx.resultsUnsynced = true;
    if (ctx.signal.aborted || ctx.pendingStop || ctx.turn >= maxTurns) {
      const synced = syncResults(ctx);
      if (synced !== undefined) {
        try {
          await synced;
        } catch {
          // The failure has stopped the run (fatal): afterResults answers that stop.
        }
      }
    }
    const outcome = afterResults(ctx, results);
    if (outcome.type === "stop") return outcome;
  }
}

/**
 * The turn's results join the history; then the run goes on unless something stops it. `results`
 * becomes the message's content: an array of its exact size, as the history keeps it for as long as
 * the session lives (one grown by push has room for 17 blocks: 184 bytes instead of 56 for one call).
 */
export function afterResults(ctx: RunContext, results: UserMessage["content"]): StepOutcome {
  const { maxTurns } = ctx.deps.limits;
  const message: UserMessage = { role: "user", content: results };
  ctx.deps.history.push(message);
  addToInputEstimate(ctx.deps, message);

  if (ctx.signal.aborted) return { type: "stop", reason: stopFromAbort(ctx.signal.reason) };
  if (ctx.pendingStop) return { type: "stop", reason: ctx.pendingStop };
  if (ctx.turn >= maxTurns) return { type: "stop", reason: { type: "max_turns", limit: maxTurns } };
  return CONTINUE;
}
