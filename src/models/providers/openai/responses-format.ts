import type { AssistantMessage, Message, Usage } from "../../../protocol/messages.js";
import type { ToolSpec } from "../../model.js";
import { parseToolInput, toolInputText } from "../tool-input.js";
import { isErrorContent } from "./chat-format.js";

/** Responses API input items, as far as Rein uses them. */
export type ResponsesItem =
  | { type: "message"; role: "user"; content: { type: "input_text"; text: string }[] }
  | { type: "message"; role: "assistant"; content: { type: "output_text"; text: string }[] }
  | { type: "function_call"; call_id: string; name: string; arguments: string }
  | { type: "function_call_output"; call_id: string; output: string };

/**
 * Appends one Rein message as Responses items, in order: text becomes `message` items (consecutive text
 * blocks share one), a tool call a `function_call`, a tool result a `function_call_output`. The API has
 * no `is_error`; Rein's error results are `{"error": …}` JSON and `fromResponses` recognises them.
 */
export function appendResponses(message: Message, into: ResponsesItem[]): void {
  let texts: { type: "input_text" | "output_text"; text: string }[] | undefined;
  for (const b of message.content) {
    if (b.type === "text") {
      if (!texts) {
        texts = [];
        into.push(
          message.role === "user"
            ? { type: "message", role: "user", content: texts as { type: "input_text"; text: string }[] }
            : {
                type: "message",
                role: "assistant",
                content: texts as { type: "output_text"; text: string }[],
              },
        );
      }
      texts.push({ type: message.role === "user" ? "input_text" : "output_text", text: b.text });
      continue;
    }
    texts = undefined;
    if (b.type === "tool_use")
      into.push({ type: "function_call", call_id: b.id, name: b.name, arguments: toolInputText(b.input) });
    else into.push({ type: "function_call_output", call_id: b.tool_use_id, output: b.content });
  }
}

/** The reverse: items Rein wrote back to Rein messages (a role change starts a new message). */
export function fromResponses(items: readonly ResponsesItem[]): Message[] {
  const out: Message[] = [];
  let current: { role: "user" | "assistant"; content: unknown[] } | undefined;
  const into = (role: "user" | "assistant") => {
    if (current?.role !== role) {
      current = { role, content: [] };
      out.push(current as Message);
    }
    return current.content;
  };
  for (const item of items) {
    if (item.type === "message") {
      const content = into(item.role);
      for (const c of item.content) content.push({ type: "text", text: c.text });
    } else if (item.type === "function_call") {
      into("assistant").push({
        type: "tool_use",
        id: item.call_id,
        name: item.name,
        input: parseToolInput(item.arguments),
      });
    } else {
      into("user").push(
        isErrorContent(item.output)
          ? { type: "tool_result", tool_use_id: item.call_id, content: item.output, is_error: true }
          : { type: "tool_result", tool_use_id: item.call_id, content: item.output },
      );
    }
  }
  return out;
}

export function responsesTools(specs: readonly ToolSpec[]): unknown[] {
  // strict: false — Rein's schemas are zod's JSON Schema, which strict mode's subset does not always accept.
  return specs.map((t) => ({
    type: "function",
    name: t.name,
    description: t.description,
    parameters: t.inputSchema,
    strict: false,
  }));
}

/** The content of a finished response's `output` items. */
export function contentFromOutput(output: readonly Record<string, unknown>[]): {
  content: AssistantMessage["content"][number][];
  refused: boolean;
} {
  const content: AssistantMessage["content"][number][] = [];
  let refused = false;
  for (const item of output) {
    if (item.type === "message") {
      for (const c of (item.content as { type: string; text?: string; refusal?: string }[]) ?? []) {
        if (c.type === "output_text" && c.text) content.push({ type: "text", text: c.text });
        else if (c.type === "refusal") {
          refused = true;
          if (c.refusal) content.push({ type: "text", text: c.refusal });
        }
      }
    } else if (item.type === "function_call") {
      content.push({
        type: "tool_use",
        id: String(item.call_id),
        name: String(item.name),
        input: parseToolInput(item.arguments as string),
      });
    }
  }
  return { content, refused };
}

/** OpenAI counts cached tokens inside `input_tokens`; Rein counts input without cache reads. */
export function usageFromResponses(u: Record<string, unknown> | null | undefined): Usage | undefined {
  if (!u || typeof u.input_tokens !== "number") return undefined;
  const cached = (u.input_tokens_details as { cached_tokens?: number } | undefined)?.cached_tokens ?? 0;
  return {
    inputTokens: Math.max(0, u.input_tokens - cached),
    outputTokens: typeof u.output_tokens === "number" ? u.output_tokens : 0,
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}
