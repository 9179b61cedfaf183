import { ConfigError } from "../../../protocol/errors.js";
import type { Model } from "../../model.js";
import { ChatCompletionsModel } from "../openai/chat-completions-model.js";
import { type Env, requireKey } from "../provider-env.js";

export interface OpenAICompatibleOptions {
  /** The model name the server knows, e.g. `llama3.1:8b` for Ollama. */
  readonly model: string;
  /** The server's OpenAI-compatible base URL, e.g. `http://localhost:11434/v1`. Required. */
  readonly baseURL: string;
  /** A key, when the server wants one (most local servers do not). */
  readonly apiKey?: string;
  /** Read the key from this variable instead; missing is an error. */
  readonly apiKeyEnv?: string;
  /** Stream the answer (SSE). Default true; some servers stream tool calls poorly. */
  readonly stream?: boolean;
  readonly env?: Env;
}

/**
 * A server that speaks Chat Completions (Ollama, vLLM, llama.cpp server, LM Studio) as
 * `openai-compatible:<model>`, with their quirks handled (see `ChatCompletionsModel`).
 *
 * @example
 * const model = openaiCompatibleModel({ model: "qwen2.5-coder", baseURL: "http://localhost:11434/v1" });
 */
export function openaiCompatibleModel(
  options: OpenAICompatibleOptions,
): Model & { readonly endpoint: string; readonly provider: string } {
  const id = `openai-compatible:${options.model}`;
  if (!options.baseURL) {
    throw new ConfigError(
      `Model ${id} needs the server's base URL: pass --base-url, or set providers.openai-compatible.baseUrl in rein.config.yaml.`,
      { field: "providers.openai-compatible.baseUrl", model: id },
    );
  }
  let url: URL;
  try {
    url = new URL(options.baseURL);
  } catch {
    throw new ConfigError(`Model ${id}: base URL ${JSON.stringify(options.baseURL)} is not a URL.`, {
      field: "providers.openai-compatible.baseUrl",
    });
  }
  const apiKey = options.apiKeyEnv
    ? requireKey(id, options.apiKey, options.apiKeyEnv, options.env ?? process.env)
    : (options.apiKey ?? "not-needed");
  return new ChatCompletionsModel({
    id,
    model: options.model,
    apiKey,
    baseURL: url.href.replace(/\/$/, ""),
    endpoint: `openai-compatible@${url.href.replace(/\/$/, "")}`,
    provider: "openai-compatible",
    stream: options.stream ?? true,
  });
}
