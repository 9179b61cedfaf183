import { randomUUID } from "node:crypto";
import type { AssistantMessage, Usage } from "../../../protocol/messages.js";
import { emptyUsage } from "../../../protocol/messages.js";
import type { Model, ModelRequest, ModelResponse, ToolSpec } from "../../model.js";
import { classifySdkError, ProviderCallError } from "../../provider-call-error.js";
import { IncrementalHistory, type WireHistory } from "../incremental-history.js";
import { rethrowIfAborted } from "../provider-env.js";
import { parseToolInput } from "../tool-input.js";
import { appendChat, type ChatMessage, chatTools, stopReasonFromChat, usageFromChat } from "./chat-format.js";
import { lazyOpenAIClient, type OpenAIClient } from "./openai-client.js";

export interface ChatCompletionsOptions {
  /** `openai:<model>` or `openai-compatible:<model>`. */
  readonly id: string;
  readonly model: string;
  readonly apiKey: string;
  readonly baseURL: string | undefined;
  /** Circuit-breaker key, e.g. `openai@https://api.openai.com/v1`. */
  readonly endpoint: string;
  readonly provider: string;
  /** Default true (SSE with `stream_options.include_usage`); false sends one JSON request. */
  readonly stream?: boolean;
}

interface PartialCall {
  id: string | undefined;
  name: string;
  args: string;
}

/**
 * The Chat Completions API through the `openai` SDK: OpenAI itself (`api: "chat"`) and servers that
 * speak it (Ollama, vLLM, llama.cpp, LM Studio), with their quirks handled here: usage only when asked
 * for (`stream_options.include_usage`), tool-call ids missing or repeated (made unique in the
 * conversation), arguments that are not JSON (kept raw; the tool answers `invalid_input`).
 */
export class ChatCompletionsModel implements Model {
  readonly id: string;
  readonly endpoint: string;
  readonly provider: string;
  readonly #model: string;
  readonly #stream: boolean;
  readonly #client: ReturnType<typeof lazyOpenAIClient>;
  readonly #history = new IncrementalHistory<ChatMessage>(
    (m, state) => {
      appendChat(m, state.wire);
      if (m.role === "assistant")
        for (const b of m.content) if (b.type === "tool_use") state.toolIds.add(b.id);
    },
    // Variant 1 keeps a system message at index 0 (its text replaced in place); variant 0 has none.
    (variant) => (variant === 1 ? [{ role: "system", content: "" }] : []),
  );
  readonly #tools = new WeakMap<readonly ToolSpec[], unknown[]>();

  constructor(options: ChatCompletionsOptions) {
    this.id = options.id;
    this.endpoint = options.endpoint;
    this.provider = options.provider;
    this.#model = options.model;
    this.#stream = options.stream ?? true;
    this.#client = lazyOpenAIClient({ apiKey: options.apiKey, baseURL: options.baseURL });
  }

  /** The request body (without `stream`). The system prompt is the converted history's fixed head, replaced in place. */
  body(request: ModelRequest): { body: Record<string, unknown>; state: WireHistory<ChatMessage> } {
    const state = this.#history.of(request.messages, request.system ? 1 : 0);
    if (request.system) (state.wire[0] as { role: "system"; content: string }).content = request.system;
    let tools = this.#tools.get(request.tools);
    if (!tools) {
      tools = chatTools(request.tools);
      this.#tools.set(request.tools, tools);
    }
    const messages = state.wire;
    const body: Record<string, unknown> = {
      model: this.#model,
      // OpenAI's own API wants max_completion_tokens (reasoning models refuse max_tokens); servers that
      // copy the older API (llama.cpp, LM Studio, older vLLM and Ollama) know only max_tokens.
      [this.provider === "openai" ? "max_completion_tokens" : "max_tokens"]: request.maxTokens,
      messages,
    };
    if (tools.length > 0) body.tools = tools;
    return { body, state };
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    rethrowIfAborted(request.signal);
    const { sdk, client } = await this.#client();
    const { body, state } = this.body(request);
    const progress = { delivered: false, usage: undefined as Usage | undefined };
    try {
      if (!this.#stream) {
        const completion = (await client.chat.completions.create({ ...body, stream: false } as never, {
          signal: request.signal,
        })) as unknown as {
          model?: string;
          usage?: Record<string, unknown>;
          choices?: {
            finish_reason?: string;
            message?: {
              content?: string | null;
              tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[];
            };
          }[];
        };
        const choice = completion.choices?.[0];
        if (!choice?.message)
          throw new ProviderCallError(this.id, {
            failure: "malformed",
            message: "the response has no choices[0].message",
          });
        const calls: PartialCall[] = (choice.message.tool_calls ?? []).map((c) => ({
          id: c.id,
          name: c.function?.name ?? "",
          args: c.function?.arguments ?? "",
        }));
        return this.#response(
          choice.message.content ?? "",
          calls,
          choice.finish_reason,
          usageFromChat(completion.usage),
          completion.model,
          state,
        );
      }
      return await this.#streamed(client, body, request, state, progress);
    } catch (err) {
      rethrowIfAborted(request.signal);
      throw classifySdkError(this.id, err, sdk, progress);
    }
  }

  async #streamed(
    client: OpenAIClient,
    body: Record<string, unknown>,
    request: ModelRequest,
    state: WireHistory<ChatMessage>,
    progress: { delivered: boolean; usage: Usage | undefined },
  ): Promise<ModelResponse> {
    const stream = (await client.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } } as never,
      { signal: request.signal },
    )) as unknown as AsyncIterable<{
      model?: string;
      usage?: Record<string, unknown> | null;
      choices?: {
        finish_reason?: string | null;
        delta?: {
          content?: string | null;
          tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[];
        };
      }[];
    }>;
    let text = "";
    const calls: PartialCall[] = [];
    let finish: string | null | undefined;
    let usage: Usage | undefined;
    let model: string | undefined;
    for await (const chunk of stream) {
      if (chunk.model) model = chunk.model;
      const u = usageFromChat(chunk.usage);
      if (u) progress.usage = usage = u;
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const delta = choice.delta;
      if (delta?.content) {
        text += delta.content;
        progress.delivered = true;
        request.onTextDelta?.(delta.content);
      }
      for (const tc of delta?.tool_calls ?? []) {
        // Servers without `index` send each call whole, or continue the last one without an id.
        let call: PartialCall | undefined;
        if (typeof tc.index === "number") call = calls[tc.index] ??= { id: undefined, name: "", args: "" };
        else if (tc.id === undefined || tc.id === calls.at(-1)?.id) call = calls.at(-1);
        if (!call) {
          call = { id: undefined, name: "", args: "" };
          calls.push(call);
        }
        if (tc.id) call.id = tc.id;
        if (tc.function?.name) call.name += tc.function.name;
        if (tc.function?.arguments) call.args += tc.function.arguments;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (!finish) {
      throw new ProviderCallError(this.id, {
        failure: "malformed",
        delivered: progress.delivered,
        usage: progress.usage,
        message: "the stream ended without a finish_reason (cut mid-message)",
      });
    }
    return this.#response(text, calls.filter(Boolean), finish, usage, model, state);
  }

  #response(
    text: string,
    calls: PartialCall[],
    finish: string | null | undefined,
    usage: Usage | undefined,
    model: string | undefined,
    state: WireHistory<ChatMessage>,
  ): ModelResponse {
    const content: AssistantMessage["content"][number][] = [];
    if (text !== "") content.push({ type: "text", text });
    const used = new Set<string>();
    for (const call of calls) {
      content.push({
        type: "tool_use",
        id: uniqueId(call.id, state.toolIds, used),
        name: call.name,
        input: parseToolInput(call.args),
      });
    }
    const answered = model ? `${this.id.slice(0, this.id.indexOf(":"))}:${model}` : this.id;
    // A server that sends no usage even when asked: zeros, and the price book decides what that costs.
    return {
      content,
      stopReason: stopReasonFromChat(finish, calls.length > 0),
      usage: usage ?? emptyUsage(),
      model: answered,
    };
  }
}

/** A tool-call id unique in the conversation: servers send none, or the same one every turn (`call_0`). */
function uniqueId(id: string | undefined, seen: ReadonlySet<string>, used: Set<string>): string {
  let out = id && id.trim() !== "" ? id : `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
  for (let n = 2; seen.has(out) || used.has(out); n++) out = `${id}_${n}`;
  used.add(out);
  return out;
}
