import type {
  AssistantMessage,
  Message,
  ModelStopReason,
  TextBlock,
  ToolResultBlock,
  ToolUseBlock,
  Usage,
} from "../../../protocol/messages.js";
import type { ToolSpec } from "../../model.js";

/** Anthropic Messages API shapes, as far as Rein uses them (the SDK's own types stay out of Rein's import graph). */
export type AnthropicBlock =
  | { type: "text"; text: string; cache_control?: CacheControl }
  | { type: "tool_use"; id: string; name: string; input: unknown; cache_control?: CacheControl }
  | {
      type: "tool_result";
      tool_use_id: string;
      content: string;
      is_error?: boolean;
      cache_control?: CacheControl;
    };
export interface AnthropicMessage {
  role: "user" | "assistant";
  content: AnthropicBlock[];
}
export interface CacheControl {
  type: "ephemeral";
}
export interface AnthropicTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
  cache_control?: CacheControl;
}

/** One Rein message in the Messages format: the same blocks, as fresh objects Rein may mark for caching. */
export function toAnthropic(message: Message): AnthropicMessage {
  const content: AnthropicBlock[] = [];
  for (const block of message.content) {
    if (block.type === "text") content.push({ type: "text", text: block.text });
    else if (block.type === "tool_use")
      content.push({ type: "tool_use", id: block.id, name: block.name, input: anthropicInput(block.input) });
    else
      content.push(
        block.is_error
          ? { type: "tool_result", tool_use_id: block.tool_use_id, content: block.content, is_error: true }
          : { type: "tool_result", tool_use_id: block.tool_use_id, content: block.content },
      );
  }
  return { role: message.role, content };
}

/**
 * The API takes only an object as a tool_use input. Input that was not one (an OpenAI-compatible server's
 * unparseable arguments, kept as the raw string) is wrapped so the conversation can still continue here.
 */
function anthropicInput(input: unknown): unknown {
  return typeof input === "object" && input !== null && !Array.isArray(input) ? input : { _raw: input };
}

/** The reverse: a Messages-format message back to Rein's (drops only cache markers). */
export function fromAnthropic(message: AnthropicMessage): Message {
  if (message.role === "assistant") {
    const content: (TextBlock | ToolUseBlock)[] = [];
    for (const b of message.content) {
      if (b.type === "text") content.push({ type: "text", text: b.text });
      else if (b.type === "tool_use")
        content.push({ type: "tool_use", id: b.id, name: b.name, input: b.input });
    }
    return { role: "assistant", content } satisfies AssistantMessage;
  }
  const content: (TextBlock | ToolResultBlock)[] = [];
  for (const b of message.content) {
    if (b.type === "text") content.push({ type: "text", text: b.text });
    else if (b.type === "tool_result")
      content.push(
        b.is_error
          ? { type: "tool_result", tool_use_id: b.tool_use_id, content: b.content, is_error: true }
          : { type: "tool_result", tool_use_id: b.tool_use_id, content: b.content },
      );
  }
  return { role: "user", content };
}

export function anthropicTools(specs: readonly ToolSpec[]): AnthropicTool[] {
  return specs.map((t) => ({
    name: t.name,
    description: t.description,
    input_schema: t.inputSchema as Record<string, unknown>,
  }));
}

export function stopReasonFromAnthropic(reason: string | null | undefined): ModelStopReason {
  switch (reason) {
    case "tool_use":
    case "max_tokens":
    case "stop_sequence":
    case "refusal":
      return reason;
    case "model_context_window_exceeded":
      return "max_tokens";
    default:
      return "end_turn";
  }
}

/** Anthropic's usage already counts input without cache reads and writes, as Rein does. */
export function usageFromAnthropic(u: Record<string, unknown> | null | undefined, into: Usage): Usage {
  if (!u) return into;
  const n = (k: string) => (typeof u[k] === "number" ? (u[k] as number) : undefined);
  into.inputTokens = n("input_tokens") ?? into.inputTokens;
  into.outputTokens = n("output_tokens") ?? into.outputTokens;
  into.cacheReadTokens = n("cache_read_input_tokens") ?? into.cacheReadTokens;
  into.cacheWriteTokens = n("cache_creation_input_tokens") ?? into.cacheWriteTokens;
  return into;
}
