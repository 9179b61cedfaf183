/**
 * The Model contract (src/models/model.ts). The factory receives the conversation the checks will
 * hold — the replies the model must give, one per call, in order — and returns a model that gives
 * them: the scripted model plays them as a script; a provider (Anthropic, OpenAI) is pointed at a
 * loopback HTTP server that answers each request with that reply in the provider's wire format
 * (streamed, so text deltas are exercised).
 *
 * ```ts
 * import { modelContract } from "rein/testing";
 * modelContract({
 *   name: "AnthropicModel (loopback)",
 *   create: async (replies) => {
 *     const server = await anthropicLoopback(replies); // answers request i with replies[i]
 *     return new AnthropicModel({ baseUrl: server.url, apiKey: "test", model: "claude-x" });
 *   },
 * });
 * ```
 */
import { expect } from "vitest";
import type { Model, ModelRequest, ModelResponse, ModelStopReason, ToolSpec } from "../models/model.js";
import type { AssistantMessage, Message, Usage } from "../protocol/messages.js";
import { type ContractCheck, type Factory, registerContract } from "./contract.js";

/** One reply the model under test must give. */
export type ModelContractReply =
  | {
      readonly kind: "answer";
      /** The reply's text (absent: no text). */
      readonly text?: string;
      /** Tool calls, in order; ids are the model's to choose (non-empty, unique in the reply). */
      readonly toolCalls?: readonly { readonly name: string; readonly input: Record<string, unknown> }[];
      readonly usage: Usage;
      readonly stopReason: ModelStopReason;
    }
  /** No answer until the request's signal aborts (a loopback server holds the response open). */
  | { readonly kind: "hang" };

export interface ModelContractOptions {
  /** Names the suite: `Model contract: <name>`. */
  readonly name: string;
  /** A fresh model that answers call i with `replies[i]`; called once per check. */
  readonly create: Factory<Model, [replies: readonly ModelContractReply[]]>;
  /** Called after each check (stop the loopback server). */
  readonly dispose?: (model: Model) => void | Promise<void>;
}

/** Registers the Model contract's checks as vitest tests. */
export function modelContract(options: ModelContractOptions): void {
  registerContract(`Model contract: ${options.name}`, modelChecks(options));
}

const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0): Usage => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: cacheRead,
  cacheWriteTokens: cacheWrite,
});

const TEXT: ModelContractReply = {
  kind: "answer",
  text: 'Hello from the contract.\nA second line, with ünïcode and "quotes".',
  usage: usage(21, 13, 5, 0),
  stopReason: "end_turn",
};
const TOOL_CALLS: ModelContractReply = {
  kind: "answer",
  text: "Let me look.",
  toolCalls: [
    { name: "lookup", input: { query: "rein", limit: 3, nested: { deep: [1, "two", null, true] } } },
    { name: "list_directory", input: {} },
  ],
  usage: usage(40, 22),
  stopReason: "tool_use",
};
const FINAL: ModelContractReply = {
  kind: "answer",
  text: "Found it.",
  usage: usage(90, 4),
  stopReason: "end_turn",
};
const HANG: ModelContractReply = { kind: "hang" };

const TOOLS: readonly ToolSpec[] = [
  {
    name: "lookup",
    description: "Looks something up",
    inputSchema: {
      type: "object",
      properties: { query: { type: "string" }, limit: { type: "integer" }, nested: { type: "object" } },
      required: ["query"],
    },
  },
  {
    name: "list_directory",
    description: "Lists a directory",
    inputSchema: { type: "object", properties: {} },
  },
];

const STOP_REASONS: readonly ModelStopReason[] = [
  "end_turn",
  "tool_use",
  "max_tokens",
  "stop_sequence",
  "refusal",
];

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The conversation's history as the loop keeps it: one array, appended in place, messages frozen. */
function conversation(): Message[] {
  return [deepFreeze<Message>({ role: "user", content: [{ type: "text", text: "Find rein." }] })];
}

function request(messages: readonly Message[], extra: Partial<ModelRequest> = {}): ModelRequest {
  return {
    system: "You are the contract's test assistant.",
    messages,
    tools: TOOLS,
    maxTokens: 1024,
    signal: new AbortController().signal,
    ...extra,
  };
}

const textOf = (r: ModelResponse) => r.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
const callsOf = (r: ModelResponse) =>
  r.content.flatMap((b) => (b.type === "tool_use" ? [{ name: b.name, input: b.input }] : []));

/** The response is one the loop can use, whatever it says. */
export function expectWellFormedResponse(response: ModelResponse): void {
  expect(response, "response").toBeTypeOf("object");
  expect(Array.isArray(response.content), "content is an array").toBe(true);
  expect(typeof response.model === "string" && response.model.length > 0, "model names who answered").toBe(
    true,
  );
  expect(STOP_REASONS, "stopReason").toContain(response.stopReason);
  const u = response.usage;
  for (const field of ["inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"] as const) {
    const n = u?.[field];
    expect(Number.isSafeInteger(n) && n >= 0, `usage.${field} is an integer >= 0 (got ${String(n)})`).toBe(
      true,
    );
  }
  const ids = new Set<string>();
  for (const block of response.content) {
    expect(["text", "tool_use"], "content block type").toContain(block.type);
    if (block.type === "text") {
      expect(typeof block.text, "text block text").toBe("string");
    } else {
      expect(typeof block.id === "string" && block.id.length > 0, "tool_use id").toBe(true);
      expect(ids.has(block.id), `tool_use id ${block.id} is unique`).toBe(false);
      ids.add(block.id);
      expect(typeof block.name === "string" && block.name.length > 0, "tool_use name").toBe(true);
      const input = block.input;
      expect(
        input !== null && typeof input === "object" && !Array.isArray(input),
        "tool_use input is a JSON object",
      ).toBe(true);
    }
  }
}

/** The response says what `reply` scripted: text, tool calls in order, stop reason and usage. */
function expectReply(response: ModelResponse, reply: ModelContractReply): void {
  if (reply.kind !== "answer") throw new Error("expected an answer");
  expectWellFormedResponse(response);
  expect(textOf(response), "text").toBe(reply.text ?? "");
  expect(callsOf(response), "tool calls").toEqual(reply.toolCalls ?? []);
  expect(response.stopReason, "stopReason").toBe(reply.stopReason);
  expect(response.usage, "usage").toEqual(reply.usage);
}

/** Appends what the loop (and the user) append after a reply: the assistant message, then the results or a new prompt. */
function continueAfter(history: Message[], response: ModelResponse): void {
  const assistant: AssistantMessage = { role: "assistant", content: response.content };
  history.push(deepFreeze(structuredClone(assistant)));
  const results = response.content.flatMap((b) =>
    b.type === "tool_use"
      ? [{ type: "tool_result" as const, tool_use_id: b.id, content: `result of ${b.name}` }]
      : [],
  );
  history.push(
    deepFreeze<Message>(
      results.length > 0
        ? { role: "user", content: results }
        : { role: "user", content: [{ type: "text", text: "Go on." }] },
    ),
  );
}

/** The Model contract as named checks (see `ContractCheck`). */
export function modelChecks(options: ModelContractOptions): ContractCheck[] {
  const check = (
    name: string,
    replies: readonly ModelContractReply[],
    body: (model: Model) => Promise<void>,
  ): ContractCheck => ({
    name,
    async run() {
      const model = await options.create(replies);
      try {
        await body(model);
      } finally {
        await options.dispose?.(model);
      }
    },
  });

  return [
    check("has an id of the form provider:model", [TEXT], async (model) => {
      expect(model.id).toMatch(/^[a-z][a-z0-9-]*:\S+$/);
    }),

    check(
      "answers text: a well-formed response with the text, stop reason and usage served",
      [TEXT],
      async (model) => {
        expectReply(await model.generate(request(conversation())), TEXT);
      },
    ),

    check(
      "answers tool calls: names and inputs in order, unique ids, stop reason tool_use",
      [TOOL_CALLS],
      async (model) => {
        expectReply(await model.generate(request(conversation())), TOOL_CALLS);
      },
    ),

    check(
      "plays a scripted conversation: each call answers the history the loop built",
      [TOOL_CALLS, FINAL],
      async (model) => {
        const history = conversation();
        const first = await model.generate(request(history));
        expectReply(first, TOOL_CALLS);
        continueAfter(history, first);
        const second = await model.generate(request(history));
        expectReply(second, FINAL);
      },
    ),

    check(
      "streams text deltas that concatenate to the final text, all before it resolves",
      [TEXT, TOOL_CALLS],
      async (model) => {
        const history = conversation();
        for (const reply of [TEXT, TOOL_CALLS]) {
          const deltas: string[] = [];
          let resolved = false;
          let lateDeltas = 0;
          const response = await model.generate(
            request(history, {
              onTextDelta: (delta) => {
                if (resolved) lateDeltas++;
                expect(typeof delta, "a delta is a string").toBe("string");
                deltas.push(delta);
              },
            }),
          );
          resolved = true;
          expectReply(response, reply);
          expect(deltas.join(""), "deltas concatenated").toBe(textOf(response));
          if (textOf(response) !== "") expect(deltas.length, "text was streamed").toBeGreaterThan(0);
          await new Promise<void>((r) => setImmediate(r));
          expect(lateDeltas, "deltas after the response").toBe(0);
          continueAfter(history, response);
        }
      },
    ),

    check(
      "does not change the request: history, tools and messages stay as they were",
      [TOOL_CALLS, FINAL],
      async (model) => {
        const history = conversation();
        const tools = deepFreeze(structuredClone(TOOLS) as ToolSpec[]);
        const first = await model.generate(request(history, { tools }));
        continueAfter(history, first);
        const before = structuredClone(history);
        const length = history.length;
        // Messages are frozen: a model that writes into them throws here instead of corrupting the history.
        await model.generate(request(history, { tools }));
        expect(history.length).toBe(length);
        expect(history).toEqual(before);
        expect(tools).toEqual(TOOLS);
      },
    ),

    check(
      "rejects a request whose signal is already aborted, streaming nothing, without using up a reply",
      [TEXT],
      async (model) => {
        const controller = new AbortController();
        controller.abort(new Error("stopped before the call"));
        const deltas: string[] = [];
        const history = conversation();
        await expect(
          model.generate(request(history, { signal: controller.signal, onTextDelta: (d) => deltas.push(d) })),
        ).rejects.toBeDefined();
        expect(deltas).toEqual([]);
        expectReply(await model.generate(request(history)), TEXT);
      },
    ),

    check("an abort during the call ends the wait: generate rejects", [HANG], async (model) => {
      const controller = new AbortController();
      const deltas: string[] = [];
      const pending = model.generate(
        request(conversation(), { signal: controller.signal, onTextDelta: (d) => deltas.push(d) }),
      );
      controller.abort(new Error("user pressed stop"));
      await expect(pending).rejects.toBeDefined();
      const after = deltas.length;
      await new Promise<void>((r) => setImmediate(r));
      expect(deltas.length, "no deltas after the rejection").toBe(after);
    }),

    check(
      "usage counts are non-negative integers, cache counts included",
      [TEXT, TOOL_CALLS],
      async (model) => {
        const history = conversation();
        const first = await model.generate(request(history));
        expect(first.usage).toEqual(usage(21, 13, 5, 0));
        continueAfter(history, first);
        const second = await model.generate(request(history));
        expect(second.usage).toEqual(usage(40, 22));
      },
    ),
  ];
}
