import type { ModelEvent } from "../protocol/events.js";
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
  /** Called with each retry, rate-limit wait, fallback and breaker change; the loop appends them to the session's log. */
  readonly onEvent?: (event: ModelEvent) => void;
  /**
   * Per-attempt accounting, given by the loop to a model that declares `accountsAttempts` (the gateway):
   * reserve before each provider call, settle (or release) after it.
   */
  readonly attempts?: AttemptLedger;
}

/** The loop's ledger, one attempt at a time. */
export interface AttemptLedger {
  /** Reserves the worst-case cost of one attempt on `model` (a `provider:model` id); throws if it is refused (e.g. no price). */
  begin(model: string): AttemptTicket;
}

export interface AttemptTicket {
  /** Settles the attempt with the usage it reported (a failed attempt's partial usage too), or releases it when there is none. */
  end(usage: Usage | undefined, model?: string): void;
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
  /** `provider:model`, e.g. `scripted:demo`, `anthropic:claude-sonnet-4-6`. */
  readonly id: string;
  generate(request: ModelRequest): Promise<ModelResponse>;
  /**
   * True when the model reserves and settles each of its attempts through `request.attempts` (the gateway);
   * the loop then does not reserve the call as a whole.
   */
  readonly accountsAttempts?: boolean;
  /** Every `provider:model` id this model may answer as (the gateway's chain), so prices are checked up front. */
  readonly members?: readonly string[];
}
