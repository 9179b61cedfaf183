import type { Model } from "../../model.js";
import { type Env, requireKey } from "../provider-env.js";
import { ChatCompletionsModel } from "./chat-completions-model.js";
import { ResponsesModel } from "./responses-model.js";

export interface OpenAIModelOptions {
  /** The model name, e.g. `gpt-4.1`. */
  readonly model: string;
  /** `responses` (default) or `chat` (Chat Completions). */
  readonly api?: "responses" | "chat";
  /** Default: `OPENAI_API_KEY`. */
  readonly apiKey?: string;
  /** Default: `OPENAI_BASE_URL`, else the SDK's default. */
  readonly baseURL?: string;
  /** Stream the answer (SSE). Default true. */
  readonly stream?: boolean;
  readonly env?: Env;
}

/**
 * An OpenAI model through the `openai` SDK, loaded on the first call. The Responses API by default;
 * `api: "chat"` selects Chat Completions.
 *
 * @example
 * const model = openaiModel({ model: "gpt-4.1-mini" }); // reads OPENAI_API_KEY
 */
export function openaiModel(
  options: OpenAIModelOptions,
): Model & { readonly endpoint: string; readonly provider: string } {
  const env = options.env ?? process.env;
  const id = `openai:${options.model}`;
  const apiKey = requireKey(id, options.apiKey, "OPENAI_API_KEY", env);
  const baseURL = options.baseURL ?? (env.OPENAI_BASE_URL || undefined);
  const endpoint = `openai@${baseURL ?? "https://api.openai.com/v1"}`;
  const stream = options.stream ?? true;
  if (options.api === "chat")
    return new ChatCompletionsModel({
      id,
      model: options.model,
      apiKey,
      baseURL,
      endpoint,
      provider: "openai",
      stream,
    });
  return new ResponsesModel({ model: options.model, apiKey, baseURL, endpoint, stream });
}
