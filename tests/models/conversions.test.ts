import { describe, expect, it } from "vitest";
import type { Message } from "../../src/index.js";
import { fromAnthropic, toAnthropic } from "../../src/models/providers/anthropic/anthropic-format.js";
import { IncrementalHistory } from "../../src/models/providers/incremental-history.js";
import { appendChat, type ChatMessage, fromChat } from "../../src/models/providers/openai/chat-format.js";
import { openaiModel } from "../../src/models/providers/openai/openai-model.js";
import {
  appendResponses,
  fromResponses,
  type ResponsesItem,
} from "../../src/models/providers/openai/responses-format.js";

/** A conversation with everything Rein keeps: text, several tool calls, results with and without is_error. */
const conversation: Message[] = [
  { role: "user", content: [{ type: "text", text: "tidy /tmp" }] },
  {
    role: "assistant",
    content: [
      { type: "text", text: "Looking first." },
      { type: "tool_use", id: "toolu_1", name: "list_directory", input: { path: "/tmp", depth: 2 } },
      { type: "tool_use", id: "toolu_2", name: "read_file", input: { path: "/tmp/a.txt" } },
    ],
  },
  {
    role: "user",
    content: [
      { type: "tool_result", tool_use_id: "toolu_1", content: "a.txt\nb.log" },
      {
        type: "tool_result",
        tool_use_id: "toolu_2",
        content: '{"error":{"type":"permission_denied","message":"denied by policy"}}',
        is_error: true,
      },
    ],
  },
  {
    role: "assistant",
    content: [{ type: "tool_use", id: "toolu_3", name: "run_shell", input: { command: "ls -la" } }],
  },
  { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_3", content: "total 0" }] },
  { role: "assistant", content: [{ type: "text", text: "Nothing to remove." }] },
];

describe("conversions are lossless for what Rein keeps", () => {
  it("Anthropic Messages: to and back gives the same conversation", () => {
    expect(conversation.map(toAnthropic).map(fromAnthropic)).toEqual(conversation);
  });

  it("OpenAI Responses: to and back gives the same conversation (is_error recovered from Rein's error shape)", () => {
    const items: ResponsesItem[] = [];
    for (const m of conversation) appendResponses(m, items);
    expect(fromResponses(items)).toEqual(conversation);
  });

  it("Chat Completions: to and back gives the same conversation", () => {
    const messages: ChatMessage[] = [];
    for (const m of conversation) appendChat(m, messages);
    expect(fromChat(messages)).toEqual(conversation);
  });

  it("a raw (unparseable) tool input goes back to OpenAI formats exactly as it came", () => {
    const raw: Message = {
      role: "assistant",
      content: [{ type: "tool_use", id: "c", name: "echo", input: "{oops" }],
    };
    const items: ResponsesItem[] = [];
    appendResponses(raw, items);
    expect(items[0]).toMatchObject({ type: "function_call", arguments: "{oops" });
    expect(toAnthropic(raw).content[0]).toMatchObject({ input: { _raw: "{oops" } });
  });
});

describe("incremental conversion", () => {
  it("converts each message once, however many calls read the history", () => {
    let converted = 0;
    const inc = new IncrementalHistory<ChatMessage>((m, s) => {
      converted++;
      appendChat(m, s.wire);
    });
    const history: Message[] = [];
    for (let i = 0; i < 200; i++) {
      history.push(conversation[i % conversation.length] as Message);
      inc.of(history);
    }
    expect(converted).toBe(200);
    expect(inc.of(history).wire).toHaveLength(
      (() => {
        const all: ChatMessage[] = [];
        for (const m of history) appendChat(m, all);
        return all.length;
      })(),
    );
  });

  it("starts over when the history was replaced rather than appended to (the probe can fail)", () => {
    let converted = 0;
    const inc = new IncrementalHistory<ChatMessage>((m, s) => {
      converted++;
      appendChat(m, s.wire);
    });
    const history: Message[] = [...conversation];
    inc.of(history);
    history[history.length - 1] = { role: "assistant", content: [{ type: "text", text: "changed" }] };
    const wire = inc.of(history).wire;
    expect(converted).toBe(conversation.length * 2);
    expect(wire.at(-1)).toEqual({ role: "assistant", content: "changed" });
  });

  it("Chat Completions keeps the system prompt as the converted array's head and never copies the array", () => {
    const model = openaiModel({ model: "gpt-4.1", api: "chat", apiKey: "k", env: {} }) as unknown as {
      body(r: unknown): { body: { messages: unknown[] } };
    };
    const history: Message[] = [conversation[0] as Message];
    const request = (system: string | undefined) => ({ system, messages: history, tools: [], maxTokens: 10 });
    const first = model.body(request("be brief")).body.messages;
    history.push(conversation[1] as Message);
    const second = model.body(request("be terse")).body.messages;
    expect(second).toBe(first);
    expect(second[0]).toEqual({ role: "system", content: "be terse" });
    const none = model.body(request(undefined)).body.messages;
    expect(none[0]).toEqual({ role: "user", content: "tidy /tmp" });
    history.push(conversation[2] as Message);
    expect(model.body(request(undefined)).body.messages).toBe(none);
  });
});
