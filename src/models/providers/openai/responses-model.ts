import type { Usage } from "../../../protocol/messages.js";
import { emptyUsage } from "../../../protocol/messages.js";
import type { Model, ModelRequest, ModelResponse, ToolSpec } from "../../model.js";
import { classifySdkError, ProviderCallError } from "../../provider-call-error.js";
import { IncrementalHistory } from "../incremental-history.js";
import { rethrowIfAborted } from "../provider-env.js";
import { lazyOpenAIClient } from "./openai-client.js";
import {
  appendResponses,
  contentFromOutput,
  type ResponsesItem,
  responsesTools,
  usageFromResponses,
} from "./responses-format.js";

export interface ResponsesModelOptions {
  readonly model: string;
  readonly apiKey: string;
  readonly baseURL: string | undefined;
  readonly endpoint: string;
  readonly stream?: boolean;
}

interface FinalResponse {
  model?: string;
  status?: string;
  output?: Record<string, unknown>[];
  usage?: Record<string, unknown>;
  incomplete_details?: { reason?: string } | null;
  error?: { message?: string } | null;
}

/**
 * OpenAI's Responses API through the `openai` SDK (the default for `openai:<model>`). Rein sends the
 * whole conversation each call with `store: false`, so nothing is kept on OpenAI's side.
 */
export class ResponsesModel implements Model {
  readonly id: string;
  readonly endpoint: string;
  readonly provider = "openai";
  readonly #model: string;
  readonly #stream: boolean;
  readonly #client: ReturnType<typeof lazyOpenAIClient>;
  readonly #history = new IncrementalHistory<ResponsesItem>((m, state) => appendResponses(m, state.wire));
  readonly #tools = new WeakMap<readonly ToolSpec[], unknown[]>();

  constructor(options: ResponsesModelOptions) {
    this.id = `openai:${options.model}`;
    this.endpoint = options.endpoint;
    this.#model = options.model;
    this.#stream = options.stream ?? true;
    this.#client = lazyOpenAIClient({ apiKey: options.apiKey, baseURL: options.baseURL });
  }

  body(request: ModelRequest): Record<string, unknown> {
    const input = this.#history.of(request.messages).wire;
    let tools = this.#tools.get(request.tools);
    if (!tools) {
      tools = responsesTools(request.tools);
      this.#tools.set(request.tools, tools);
    }
    const body: Record<string, unknown> = {
      model: this.#model,
      input,
      max_output_tokens: request.maxTokens,
      store: false,
    };
    if (request.system) body.instructions = request.system;
    if (tools.length > 0) body.tools = tools;
    return body;
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    rethrowIfAborted(request.signal);
    const { sdk, client } = await this.#client();
    const body = this.body(request);
    const progress = { delivered: false, usage: undefined as Usage | undefined };
    try {
      let final: FinalResponse | undefined;
      if (!this.#stream) {
        final = (await client.responses.create({ ...body, stream: false } as never, {
          signal: request.signal,
        })) as unknown as FinalResponse;
      } else {
        const stream = (await client.responses.create({ ...body, stream: true } as never, {
          signal: request.signal,
        })) as unknown as AsyncIterable<{
          type: string;
          delta?: string;
          response?: FinalResponse;
          message?: string;
        }>;
        for await (const event of stream) {
          if (event.type === "response.output_text.delta" && event.delta) {
            progress.delivered = true;
            request.onTextDelta?.(event.delta);
          } else if (event.type === "response.completed" || event.type === "response.incomplete") {
            final = event.response;
          } else if (event.type === "response.failed") {
            throw new ProviderCallError(this.id, {
              failure: "http",
              status: 500,
              delivered: progress.delivered,
              message: `the response failed: ${event.response?.error?.message ?? "no reason given"}`,
            });
          }
        }
        if (!final) {
          throw new ProviderCallError(this.id, {
            failure: "malformed",
            delivered: progress.delivered,
            message: "the stream ended before response.completed (cut mid-message)",
          });
        }
      }
      return this.#response(final);
    } catch (err) {
      rethrowIfAborted(request.signal);
      throw classifySdkError(this.id, err, sdk, progress);
    }
  }

  #response(final: FinalResponse): ModelResponse {
    const { content, refused } = contentFromOutput(final.output ?? []);
    const stopReason =
      final.status === "incomplete" && final.incomplete_details?.reason === "max_output_tokens"
        ? "max_tokens"
        : refused
          ? "refusal"
          : content.some((b) => b.type === "tool_use")
            ? "tool_use"
            : "end_turn";
    return {
      content,
      stopReason,
      usage: usageFromResponses(final.usage) ?? emptyUsage(),
      model: final.model ? `openai:${final.model}` : this.id,
    };
  }
}
