import type { AssistantMessage, Message, ModelStopReason, Usage } from "../../../protocol/messages.js";
import type { ToolSpec } from "../../model.js";
import { parseToolInput, toolInputText } from "../tool-input.js";

/** Chat Completions message shapes, as far as Rein uses them. */
export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "tool"; tool_call_id: string; content: string }
  | {
      role: "assistant";
      content: string | null;
      tool_calls?: { id: string; type: "function"; function: { name: string; arguments: string } }[];
    };

/**
 * Appends one Rein message as Chat Completions messages. A user message's tool results become `tool`
 * messages (in order, before any text of the same message); an assistant's text is joined into one
 * `content` and its tool calls go to `tool_calls` with their ids and arguments as JSON text.
 * Chat Completions has no `is_error`: Rein's error results are already `{"error": …}` JSON, which is
 * what the model reads, and `fromChat` recognises it.
 */
export function appendChat(message: Message, into: ChatMessage[]): void {
  if (message.role === "user") {
    let text: string | undefined;
    for (const b of message.content) {
      if (b.type === "tool_result")
        into.push({ role: "tool", tool_call_id: b.tool_use_id, content: b.content });
      else text = text === undefined ? b.text : `${text}\n${b.text}`;
    }
    if (text !== undefined) into.push({ role: "user", content: text });
    return;
  }
  let text: string | null = null;
  const calls: NonNullable<Extract<ChatMessage, { role: "assistant" }>["tool_calls"]> = [];
  for (const b of message.content) {
    if (b.type === "text") text = text === null ? b.text : text + b.text;
    else
      calls.push({
        id: b.id,
        type: "function",
        function: { name: b.name, arguments: toolInputText(b.input) },
      });
  }
  into.push(
    calls.length > 0
      ? { role: "assistant", content: text, tool_calls: calls }
      : { role: "assistant", content: text ?? "" },
  );
}

/** The reverse, for messages Rein wrote: consecutive `tool` and `user` messages make one Rein user message. */
export function fromChat(messages: readonly ChatMessage[]): Message[] {
  const out: Message[] = [];
  let user: Extract<Message, { role: "user" }>["content"][number][] | undefined;
  for (const m of messages) {
    if (m.role === "system") continue;
    if (m.role === "tool" || m.role === "user") {
      if (!user) {
        user = [];
        out.push({ role: "user", content: user });
      }
      if (m.role === "tool")
        user.push(
          isErrorContent(m.content)
            ? { type: "tool_result", tool_use_id: m.tool_call_id, content: m.content, is_error: true }
            : { type: "tool_result", tool_use_id: m.tool_call_id, content: m.content },
        );
      else user.push({ type: "text", text: m.content });
      continue;
    }
    user = undefined;
    const content: AssistantMessage["content"][number][] = [];
    if (m.content) content.push({ type: "text", text: m.content });
    for (const c of m.tool_calls ?? [])
      content.push({
        type: "tool_use",
        id: c.id,
        name: c.function.name,
        input: parseToolInput(c.function.arguments),
      });
    out.push({ role: "assistant", content });
  }
  return out;
}

/** Rein's tool error results are `{"error":{"type","message",…}}`. */
export function isErrorContent(content: string): boolean {
  if (!content.startsWith('{"error":')) return false;
  try {
    const v = JSON.parse(content) as { error?: { type?: unknown } };
    return typeof v.error?.type === "string";
  } catch {
    return false;
  }
}

export function chatTools(specs: readonly ToolSpec[]): unknown[] {
  return specs.map((t) => ({
    type: "function",
    function: { name: t.name, description: t.description, parameters: t.inputSchema },
  }));
}

export function stopReasonFromChat(
  reason: string | null | undefined,
  hasToolCalls: boolean,
): ModelStopReason {
  if (reason === "length") return "max_tokens";
  if (reason === "content_filter") return "refusal";
  if (hasToolCalls || reason === "tool_calls" || reason === "function_call")
    return hasToolCalls ? "tool_use" : "end_turn";
  return "end_turn";
}

/** OpenAI counts cached tokens inside `prompt_tokens`; Rein counts input without cache reads. */
export function usageFromChat(u: Record<string, unknown> | null | undefined): Usage | undefined {
  if (!u || typeof u.prompt_tokens !== "number") return undefined;
  const details = u.prompt_tokens_details as { cached_tokens?: number } | undefined;
  const cached = typeof details?.cached_tokens === "number" ? details.cached_tokens : 0;
  return {
    inputTokens: Math.max(0, u.prompt_tokens - cached),
    outputTokens: typeof u.completion_tokens === "number" ? u.completion_tokens : 0,
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}
