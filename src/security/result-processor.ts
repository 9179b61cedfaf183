import type { EventDataMap } from "../protocol/events.js";
import type { ToolOutcome } from "../protocol/tool-result.js";

/** What a processor flags about a result; becomes a `content_flagged` event. */
export type ResultFlag = Omit<EventDataMap["content_flagged"], "turn" | "callId" | "tool">;

export interface ResultContext {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly turn: number;
  readonly tool: string;
  readonly callId: string;
  /** Records a finding as a `content_flagged` event (before the call's `tool_call_finished`). */
  flag(flag: ResultFlag): void;
}

/**
 * Post-processes a tool outcome before the model, events and audit see it: secret redaction,
 * injection scanning, spotlighting. Processors run in order; each gets the previous one's output.
 */
export interface ResultProcessor {
  readonly name: string;
  process(outcome: ToolOutcome, context: ResultContext): ToolOutcome | Promise<ToolOutcome>;
}
