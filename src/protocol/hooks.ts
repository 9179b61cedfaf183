import type { Message } from "./messages.js";
import type { RiskAssessment } from "./risk.js";
import type { ToolOutcome } from "./tool-result.js";

export interface HookToolCall {
  readonly sessionId: string;
  readonly runId: string;
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  readonly input: unknown;
  readonly risk: RiskAssessment;
}

/** What `beforeToolCall` may answer. It can only tighten: deny, or require approval. */
export type BeforeToolCallAnswer = undefined | { readonly deny: string } | { readonly requireApproval: true };

/**
 * User hooks at fixed points of the pipeline. A hook that throws fails closed: the tool call is
 * denied, or (for model hooks) the run ends with an error.
 */
export interface Hooks {
  beforeToolCall?(call: HookToolCall): BeforeToolCallAnswer | Promise<BeforeToolCallAnswer>;
  /** May replace the outcome (e.g. to redact); the replacement is what the model, events and audit see. */
  afterToolCall?(
    call: HookToolCall,
    outcome: ToolOutcome,
  ): ToolOutcome | undefined | Promise<ToolOutcome | undefined>;
  beforeModelCall?(request: {
    readonly turn: number;
    readonly messages: readonly Message[];
  }): void | Promise<void>;
  afterModelCall?(response: { readonly turn: number; readonly message: Message }): void | Promise<void>;
}
