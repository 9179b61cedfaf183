import type { AssistantMessage, Message, ModelStopReason, Usage } from "../protocol/messages.js";

export type { ModelStopReason } from "../protocol/messages.js";

/** A tool as the model sees it: name, description and a JSON Schema of its input. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

export interface ModelRequest {
  readonly system: string | undefined;
  /**
   * The whole conversation, by reference. A model must not mutate it; the loop never copies it,
   * so the only O(history) work per call is the provider's own serialisation.
   */
  readonly messages: readonly Message[];
  readonly tools: readonly ToolSpec[];
  readonly maxTokens: number;
  readonly signal: AbortSignal;
  /** Called with each piece of text as it streams; the session turns them into `text_delta` events. */
  readonly onTextDelta?: (delta: string) => void;
}

export interface ModelResponse {
  readonly content: AssistantMessage["content"];
  readonly stopReason: ModelStopReason;
  readonly usage: Usage;
  /** The exact model that answered (a provider may resolve an alias). Used for pricing. */
  readonly model: string;
}

/**
 * A language model. Providers (Anthropic, OpenAI, OpenAI-compatible, scripted) implement this;
 * the gateway wraps one or more of them and is itself a Model.
 */
export interface Model {
  /** `provider:model`, e.g. `scripted:demo`, `anthropic:claude-sonnet-4-5`. */
  readonly id: string;
  generate(request: ModelRequest): Promise<ModelResponse>;
}
