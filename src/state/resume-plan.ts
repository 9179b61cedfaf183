import { SessionError } from "../protocol/errors.js";
import type { ReinEvent } from "../protocol/events.js";
import type { ToolResultBlock, ToolUseBlock } from "../protocol/messages.js";
import type { PendingTurn, ResumePlan } from "../protocol/resume.js";
import type { RiskAssessment } from "../protocol/risk.js";
import { historyFromEvents } from "./history-from-events.js";

/**
 * Reads a session's log and says how to continue its last run: which run and turn, the history,
 * and the calls of the turn it stopped in. Throws `REIN_SESSION_NOT_RESUMABLE` when the last run
 * ended (other than `requires_action`) or there is none.
 */
export function resumePlan(events: readonly ReinEvent[]): Omit<ResumePlan, "openReservations"> {
  let runStart = -1;
  for (let i = events.length - 1; i >= 0; i--)
    if (events[i]!.type === "run_started") {
      runStart = i;
      break;
    }
  const sessionId = events[0]?.sessionId ?? "?";
  if (runStart < 0)
    throw new SessionError("REIN_SESSION_NOT_RESUMABLE", `Session ${sessionId} has no run to resume.`, {
      sessionId,
    });
  const run = events.slice(runStart);
  const runId = run[0]!.runId;
  const ended = [...run].reverse().find((e) => e.type === "run_ended" || e.type === "run_resumed");
  if (ended?.type === "run_ended" && ended.data.status !== "requires_action") {
    throw new SessionError(
      "REIN_SESSION_NOT_RESUMABLE",
      `Session ${sessionId}'s last run ended ${ended.data.status} (${ended.data.stopReason.type}); there is nothing to resume. Start a new run on it instead.`,
      { sessionId, status: ended.data.status },
    );
  }

  let turn = 0;
  let lastCall: Extract<ReinEvent, { type: "model_call_finished" }> | undefined;
  let after = 0;
  for (let i = 0; i < run.length; i++) {
    const e = run[i]!;
    if (e.type === "model_call_finished") {
      turn = e.data.turn;
      lastCall = e;
      after = i + 1;
    }
  }
  const history = historyFromEvents(events);
  const calls: ToolUseBlock[] = lastCall
    ? lastCall.data.message.content.filter((b): b is ToolUseBlock => b.type === "tool_use")
    : [];
  if (calls.length === 0) return { runId, turn, history, pendingTurn: undefined, runEvents: run };

  const finished = new Map<string, ToolResultBlock>();
  const started = new Map<string, { idempotencyKey: string; input: unknown; risk: RiskAssessment | null }>();
  const risks = new Map<string, RiskAssessment | null>();
  for (const e of run.slice(after)) {
    if (e.type === "tool_call_decided") risks.set(e.data.callId, e.data.risk);
    else if (e.type === "tool_call_started")
      started.set(e.data.callId, {
        idempotencyKey: e.data.idempotencyKey,
        input: e.data.input,
        risk: risks.get(e.data.callId) ?? null,
      });
    else if (e.type === "tool_call_finished") {
      started.delete(e.data.callId);
      finished.set(
        e.data.callId,
        e.data.ok
          ? { type: "tool_result", tool_use_id: e.data.callId, content: e.data.content }
          : { type: "tool_result", tool_use_id: e.data.callId, content: e.data.content, is_error: true },
      );
    }
  }
  if (calls.every((c) => finished.has(c.id)))
    return { runId, turn, history, pendingTurn: undefined, runEvents: run };
  // The history ends with the turn's assistant message; the results so far are in `finished`.
  while (history.length > 0 && history.at(-1)!.role === "user") history.pop();
  const pendingTurn: PendingTurn = { calls, finished, started };
  return { runId, turn, history, pendingTurn, runEvents: run };
}
