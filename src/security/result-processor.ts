import type { ToolOutcome } from "../protocol/tool-result.js";

export interface ResultContext {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly tool: string;
  readonly callId: string;
}

/**
 * Post-processes a tool outcome before the model, events and audit see it: secret redaction,
 * injection scanning, spotlighting. Processors run in order; each gets the previous one's output.
 */
export interface ResultProcessor {
  readonly name: string;
  process(outcome: ToolOutcome, context: ResultContext): ToolOutcome | Promise<ToolOutcome>;
}
