import { checkToolOutcome, isNativePromise } from "../../protocol/answers.js";
import { errorMessage } from "../../protocol/errors.js";
import type { EventDataMap, StageRecord } from "../../protocol/events.js";
import type { HookToolCall } from "../../protocol/hooks.js";
import { errorOutcome, type ToolOutcome } from "../../protocol/tool-result.js";
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

async function runProcessors(ctx: RunContext, call: HookToolCall, outcome: ToolOutcome): Promise<Processed> {
  const { resultProcessors, hooks, tenantId, sessionId } = ctx.deps;
  const records: StageRecord[] = [];
  let flags: ProcessedFlag[] | undefined;
  let current = outcome;
  for (const processor of resultProcessors) {
    const by = `processor:${processor.name}`;
    try {
      let answer: unknown = processor.process(current, {
        tenantId,
        sessionId,
        turn: call.turn,
        tool: call.tool,
        callId: call.callId,
        flag: (flag) => {
          ctx.emit("content_flagged", { ...flag, turn: call.turn, callId: call.callId, tool: call.tool });
          const summary = { kind: flag.kind, by: flag.by, severity: flag.severity, score: flag.score };
          if (flags) flags.push(summary);
          else flags = [summary];
        },
      });
      if (isNativePromise(answer)) answer = await answer;
      const checked = checkToolOutcome(answer);
      if (!checked.ok) throw new Error(`answered a malformed outcome: ${checked.problem}`);
      current = checked.value;
      records.push({ stage: "post_process", outcome: "pass", by });
    } catch (err) {
      records.push({ stage: "post_process", outcome: "deny", by, note: errorMessage(err) });
      return {
        outcome: errorOutcome("tool_error", `The result was withheld: processor "${processor.name}" failed.`),
        records,
        ...(flags ? { flags } : {}),
      };
    }
  }
  if (hooks.afterToolCall) {
    try {
      let answer: unknown = hooks.afterToolCall(call, current);
      if (isNativePromise(answer)) answer = await answer;
      if (answer !== undefined) {
        const checked = checkToolOutcome(answer);
        if (!checked.ok) throw new Error(`answered a malformed outcome: ${checked.problem}`);
        current = checked.value;
      }
      records.push({ stage: "post_process", outcome: "pass", by: "hook:afterToolCall" });
    } catch (err) {
      records.push({
        stage: "post_process",
        outcome: "deny",
        by: "hook:afterToolCall",
        note: errorMessage(err),
      });
      return {
        outcome: errorOutcome("tool_error", "The result was withheld: the afterToolCall hook failed."),
        records,
        ...(flags ? { flags } : {}),
      };
    }
  }
  return flags ? { outcome: current, records, flags } : { outcome: current, records };
}
