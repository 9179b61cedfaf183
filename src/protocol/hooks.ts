import type { ToolCallShape } from "./approval.js";
import type { Message } from "./messages.js";
import type { RiskAssessment } from "./risk.js";
import type { ToolOutcome } from "./tool-result.js";

/** A classified call as hooks see it; `C` types `tool` and `input` (see `ApprovalRequest`). */
export type HookToolCall<C extends ToolCallShape = ToolCallShape> = HookToolCallFields & C;

export interface HookToolCallFields {
  readonly sessionId: string;
  readonly runId: string;
  readonly turn: number;
  readonly callId: string;
  readonly risk: RiskAssessment;
}

/** What `beforeToolCall` may answer. It can only tighten: deny, or require approval. */
export type BeforeToolCallAnswer = undefined | { readonly deny: string } | { readonly requireApproval: true };

/** A validated call before it is classified: what `rewriteToolInput` sees. */
export interface HookInputCall {
  readonly sessionId: string;
  readonly runId: string;
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  /** The validated input, deep-frozen: return a new value to change it. */
  readonly input: unknown;
}

/**
 * User hooks at fixed points of the pipeline. Hooks may be synchronous or return a native Promise.
 * A hook that throws, or answers anything but what its signature allows, fails closed: the tool
 * call is denied, or (for model hooks) the run ends with an error.
 */
export interface Hooks<C extends ToolCallShape = ToolCallShape> {
  /**
   * Runs right after validation and BEFORE classification and approval: return a new input to
   * replace the model's (it is validated against the tool's schema again and frozen), or undefined
   * to keep it. The policy, the approval and the tool all see the rewritten input; the audit
   * records both. A rewrite that fails validation denies the call.
   */
  rewriteToolInput?(call: HookInputCall): unknown;
  /** After classification: deny, or require approval. It can only tighten. */
  beforeToolCall?(call: HookToolCall<C>): BeforeToolCallAnswer | Promise<BeforeToolCallAnswer>;
  /** May replace the outcome (e.g. to redact); the replacement is what the model, events and audit see. */
  afterToolCall?(
    call: HookToolCall<C>,
    outcome: ToolOutcome,
  ): ToolOutcome | undefined | Promise<ToolOutcome | undefined>;
  beforeModelCall?(request: {
    readonly turn: number;
    readonly messages: readonly Message[];
  }): void | Promise<void>;
  afterModelCall?(response: { readonly turn: number; readonly message: Message }): void | Promise<void>;
}
