import { isAbortCause, raceAbort, scopedSignal } from "../../protocol/abort.js";
import { errorMessage } from "../../protocol/errors.js";
import { errorOutcome, okOutcome, ToolFailure, type ToolOutcome } from "../../protocol/tool-result.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";

/**
 * Stage 5: run the tool with its timeout and the run's signal. `tool_call_started` is recorded before
 * and `tool_call_finished` after (by the caller), so a call started but never finished is visible
 * after a crash and is not blindly re-run.
 */
export async function executeCall(
  ctx: RunContext,
  tool: Tool,
  input: unknown,
  callId: string,
  idempotencyKey: string,
): Promise<ToolOutcome> {
  const limitMs = tool.timeoutMs ?? ctx.deps.limits.toolTimeoutMs;
  const scope = scopedSignal(ctx.signal, limitMs, () => ({ kind: "timeout", scope: "tool", limitMs }));
  try {
    const value = await raceAbort(
      tool.execute(input, {
        signal: scope.signal,
        callId,
        idempotencyKey,
        sessionId: ctx.deps.sessionId,
        runId: ctx.runId,
        tenantId: ctx.deps.tenantId,
        turn: ctx.turn,
      }),
      scope.signal,
    );
    return okOutcome(value, ctx.deps.limits.maxToolOutputBytes);
  } catch (err) {
    if (scope.signal.aborted) {
      const cause = scope.signal.reason;
      if (isAbortCause(cause) && cause.kind === "timeout" && cause.scope === "tool") {
        return errorOutcome(
          "timeout",
          `Tool "${tool.name}" did not finish within ${limitMs} ms and was aborted.`,
        );
      }
      const why = isAbortCause(cause) ? (cause.kind === "cancelled" ? cause.reason : cause.kind) : "aborted";
      return errorOutcome("cancelled", `Tool "${tool.name}" was stopped because the run ended (${why}).`);
    }
    const cap = ctx.deps.limits.maxToolOutputBytes;
    if (err instanceof ToolFailure) return errorOutcome(err.type, capText(err.message, cap), err.details);
    return errorOutcome("tool_error", capText(`Tool "${tool.name}" failed: ${errorMessage(err)}`, cap));
  } finally {
    scope.dispose();
  }
}

/** Error messages are capped like outputs: a tool cannot flood the context by throwing. */
function capText(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}… [truncated by Rein]` : text;
}
