/**
 * Provider-neutral messages built from content blocks, shaped like Anthropic's Messages API.
 * Providers translate to and from their own wire formats at the edge; the loop only ever sees these.
 */

export interface TextBlock {
  readonly type: "text";
  readonly text: string;
}

export interface ToolUseBlock {
  readonly type: "tool_use";
  /** Unique within the session; the matching result carries it as `tool_use_id`. */
  readonly id: string;
  readonly name: string;
  /** Arguments exactly as the model sent them; validated by the pipeline, never trusted. */
  readonly input: unknown;
}

export interface ToolResultBlock {
  readonly type: "tool_result";
  readonly tool_use_id: string;
  /** What the model reads: the tool's output, or a JSON `{ "error": { "type", "message" } }`. */
  readonly content: string;
  readonly is_error?: boolean;
}

export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock;

export interface UserMessage {
  readonly role: "user";
  readonly content: readonly (TextBlock | ToolResultBlock)[];
}

export interface AssistantMessage {
  readonly role: "assistant";
  readonly content: readonly (TextBlock | ToolUseBlock)[];
}

export type Message = UserMessage | AssistantMessage;

/** Token usage of one model call (or a sum of them). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
}

/** Adds `b` into `a` in place and returns `a`. */
export function addUsage(a: Usage, b: Usage): Usage {
  a.inputTokens += b.inputTokens;
  a.outputTokens += b.outputTokens;
  a.cacheReadTokens += b.cacheReadTokens;
  a.cacheWriteTokens += b.cacheWriteTokens;
  return a;
}

export function textOf(content: readonly ContentBlock[]): string {
  let out = "";
  for (const block of content) if (block.type === "text") out += block.text;
  return out;
}

/** Why the model stopped generating. `tool_use` means it wants tool results before continuing. */
export type ModelStopReason = "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "refusal";
