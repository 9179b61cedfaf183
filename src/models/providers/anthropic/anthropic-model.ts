import type { AssistantMessage, Usage } from "../../../protocol/messages.js";
import { emptyUsage } from "../../../protocol/messages.js";
import type { Model, ModelRequest, ModelResponse, ToolSpec } from "../../model.js";
import { classifySdkError, ProviderCallError } from "../../provider-call-error.js";
import { IncrementalHistory } from "../incremental-history.js";
import { type Env, requireKey, rethrowIfAborted } from "../provider-env.js";
import { parseToolInput } from "../tool-input.js";
import {
  type AnthropicBlock,
  type AnthropicMessage,
  type AnthropicTool,
  anthropicTools,
  stopReasonFromAnthropic,
  toAnthropic,
  usageFromAnthropic,
} from "./anthropic-format.js";

export interface AnthropicModelOptions {
  /** The model name, e.g. `claude-sonnet-4-5`. */
  readonly model: string;
  /** Default: `ANTHROPIC_API_KEY`. */
  readonly apiKey?: string;
  /** Default: `ANTHROPIC_BASE_URL`, else the SDK's default. */
  readonly baseURL?: string;
  /** Cache breakpoints on the tools, the system prompt and the conversation prefix. Default true. */
  readonly promptCaching?: boolean;
  /** Stream the answer (SSE). Default true; false sends one JSON request. */
  readonly stream?: boolean;
  /** Where keys and base URLs are read from; default `process.env`. */
  readonly env?: Env;
}

type AnthropicSdk = typeof import("@anthropic-ai/sdk");
type AnthropicClient = InstanceType<AnthropicSdk["default"]>;

const EPHEMERAL = Object.freeze({ type: "ephemeral" as const });

/**
 * Anthropic's Messages API through `@anthropic-ai/sdk`, loaded on the first call (importing `rein`
 * never loads it). The SDK's own retries are off: the gateway retries, so each attempt is visible.
 *
 * @example
 * const model = new AnthropicModel({ model: "claude-sonnet-4-5" }); // reads ANTHROPIC_API_KEY
 * const harness = createHarness({ model: gateway({ models: [model] }) });
 */
export class AnthropicModel implements Model {
  readonly id: string;
  /** `anthropic@<base URL>`: the circuit breaker's key. */
  readonly endpoint: string;
  readonly provider = "anthropic";
  readonly #name: string;
  readonly #apiKey: string;
  readonly #baseURL: string | undefined;
  readonly #caching: boolean;
  readonly #stream: boolean;
  #client: Promise<{ sdk: AnthropicSdk; client: AnthropicClient }> | undefined;
  readonly #history = new IncrementalHistory<AnthropicMessage>((m, state) => {
    const converted = toAnthropic(m);
    if (converted.content.length > 0) state.wire.push(converted);
  });
  /** The block carrying the conversation's cache breakpoint, per converted history (moved forward each call). */
  readonly #marked = new WeakMap<AnthropicMessage[], AnthropicBlock>();
  readonly #tools = new WeakMap<readonly ToolSpec[], AnthropicTool[]>();

  constructor(options: AnthropicModelOptions) {
    const env = options.env ?? process.env;
    this.#name = options.model;
    this.id = `anthropic:${options.model}`;
    this.#apiKey = requireKey(this.id, options.apiKey, "ANTHROPIC_API_KEY", env);
    this.#baseURL = options.baseURL ?? (env.ANTHROPIC_BASE_URL || undefined);
    this.#caching = options.promptCaching ?? true;
    this.#stream = options.stream ?? true;
    this.endpoint = `anthropic@${this.#baseURL ?? "https://api.anthropic.com"}`;
  }

  #sdk(): Promise<{ sdk: AnthropicSdk; client: AnthropicClient }> {
    this.#client ??= import("@anthropic-ai/sdk").then((sdk) => ({
      sdk,
      client: new sdk.default({
        apiKey: this.#apiKey,
        ...(this.#baseURL ? { baseURL: this.#baseURL } : {}),
        maxRetries: 0,
        timeout: 10 * 60_000,
      }),
    }));
    return this.#client;
  }

  /** The request body (without `stream`): converts only what the history gained since the last call. */
  body(request: ModelRequest): Record<string, unknown> {
    const state = this.#history.of(request.messages);
    const messages = state.wire;
    let tools = this.#tools.get(request.tools);
    if (!tools) {
      tools = anthropicTools(request.tools);
      if (this.#caching && tools.length > 0)
        (tools[tools.length - 1] as AnthropicTool).cache_control = EPHEMERAL;
      this.#tools.set(request.tools, tools);
    }
    if (this.#caching) this.#markPrefix(messages);
    const body: Record<string, unknown> = { model: this.#name, max_tokens: request.maxTokens, messages };
    if (request.system)
      body.system = this.#caching
        ? [{ type: "text", text: request.system, cache_control: EPHEMERAL }]
        : request.system;
    if (tools.length > 0) body.tools = tools;
    return body;
  }

  /** Moves the conversation's breakpoint to the last block: the whole prefix is written to (then read from) the cache. */
  #markPrefix(messages: AnthropicMessage[]): void {
    const last = messages[messages.length - 1]?.content.at(-1);
    const previous = this.#marked.get(messages);
    if (previous === last) return;
    // Unset rather than `delete`: deleting a property turns the block into a slow dictionary-mode
    // object, and after 2,000 calls every block of the history would be one (measured: serialising
    // the request grew with the history).
    if (previous) previous.cache_control = undefined;
    if (last) {
      last.cache_control = EPHEMERAL;
      this.#marked.set(messages, last);
    }
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    rethrowIfAborted(request.signal);
    const { sdk, client } = await this.#sdk();
    const body = this.body(request);
    const state = { delivered: false, usage: undefined as Usage | undefined };
    try {
      if (!this.#stream) {
        const message = (await client.messages.create({ ...body, stream: false } as never, {
          signal: request.signal,
        })) as unknown as {
          content: AnthropicBlock[];
          stop_reason: string;
          usage: Record<string, unknown>;
          model: string;
        };
        return this.#response(
          message.content,
          message.stop_reason,
          usageFromAnthropic(message.usage, emptyUsage()),
          message.model,
        );
      }
      return await this.#streamed(client, body, request, state);
    } catch (err) {
      rethrowIfAborted(request.signal);
      throw classifySdkError(this.id, err, sdk, state);
    }
  }

  async #streamed(
    client: AnthropicClient,
    body: Record<string, unknown>,
    request: ModelRequest,
    state: { delivered: boolean; usage: Usage | undefined },
  ): Promise<ModelResponse> {
    const stream = (await client.messages.create({ ...body, stream: true } as never, {
      signal: request.signal,
    })) as unknown as AsyncIterable<Record<string, unknown> & { type: string }>;
    const blocks: (
      | { type: "text"; text: string }
      | { type: "tool_use"; id: string; name: string; json: string }
    )[] = [];
    const usage = emptyUsage();
    let stop: string | null = null;
    let model = this.#name;
    let finished = false;
    for await (const event of stream) {
      switch (event.type) {
        case "message_start": {
          const m = event.message as { model?: string; usage?: Record<string, unknown> };
          if (typeof m.model === "string") model = m.model;
          usageFromAnthropic(m.usage, usage);
          state.usage = usage;
          break;
        }
        case "content_block_start": {
          const b = event.content_block as { type: string; text?: string; id?: string; name?: string };
          const index = event.index as number;
          if (b.type === "text") blocks[index] = { type: "text", text: b.text ?? "" };
          else if (b.type === "tool_use")
            blocks[index] = { type: "tool_use", id: b.id ?? "", name: b.name ?? "", json: "" };
          break;
        }
        case "content_block_delta": {
          const d = event.delta as { type: string; text?: string; partial_json?: string };
          const block = blocks[event.index as number];
          if (d.type === "text_delta" && block?.type === "text" && d.text) {
            block.text += d.text;
            state.delivered = true;
            request.onTextDelta?.(d.text);
          } else if (d.type === "input_json_delta" && block?.type === "tool_use") {
            block.json += d.partial_json ?? "";
          }
          break;
        }
        case "message_delta": {
          const d = event.delta as { stop_reason?: string | null };
          if (d.stop_reason !== undefined) stop = d.stop_reason;
          usageFromAnthropic(event.usage as Record<string, unknown>, usage);
          break;
        }
        case "message_stop":
          finished = true;
          break;
        default:
          break;
      }
    }
    if (!finished) {
      throw new ProviderCallError(this.id, {
        failure: "malformed",
        delivered: state.delivered,
        usage: state.usage,
        message: "the stream ended before message_stop (cut mid-message)",
      });
    }
    const content: AnthropicBlock[] = [];
    for (const b of blocks) {
      if (!b) continue;
      if (b.type === "text") content.push(b);
      else content.push({ type: "tool_use", id: b.id, name: b.name, input: parseToolInput(b.json) });
    }
    return this.#response(content, stop, usage, model);
  }

  #response(blocks: AnthropicBlock[], stop: string | null, usage: Usage, model: string): ModelResponse {
    const content: AssistantMessage["content"][number][] = [];
    for (const b of blocks) {
      if (b.type === "text") {
        if (b.text !== "") content.push({ type: "text", text: b.text });
      } else if (b.type === "tool_use")
        content.push({ type: "tool_use", id: b.id, name: b.name, input: b.input });
    }
    return { content, stopReason: stopReasonFromAnthropic(stop), usage, model: `anthropic:${model}` };
  }
}
