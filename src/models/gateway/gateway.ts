import { ModelError } from "../../protocol/errors.js";
import type { ModelEvent } from "../../protocol/events.js";
import type { Message, Usage } from "../../protocol/messages.js";
import type { Model, ModelRequest, ModelResponse } from "../model.js";
import { type BreakerChange, type BreakerOptions, CircuitBreaker } from "./circuit-breaker.js";
import { type Clock, systemClock } from "./clock.js";
import { countsAsOutage, fallsBack } from "./fallback.js";
import { type RateLimit, RateLimiter } from "./rate-limit.js";
import { type RetryOptions, retryDecision } from "./retry.js";

/** A model as the gateway sees it: providers say which endpoint (breaker) and provider (rate limit) they use. */
type Member = Model & { readonly endpoint?: string; readonly provider?: string };

/**
 * Breakers and rate limiters, shared by every gateway (so every session) of a process: one breaker per
 * endpoint, one limiter per provider. Tests pass their own.
 */
export class GatewayState {
  readonly breakers = new Map<string, CircuitBreaker>();
  readonly limiters = new Map<string, RateLimiter>();

  breaker(endpoint: string, options: BreakerOptions): CircuitBreaker {
    const existing = this.breakers.get(endpoint);
    if (existing) {
      existing.options = options;
      return existing;
    }
    const created = new CircuitBreaker(endpoint, options);
    this.breakers.set(endpoint, created);
    return created;
  }

  limiter(key: string, limit: RateLimit, now: number): RateLimiter {
    const existing = this.limiters.get(key);
    if (existing) {
      existing.configure(limit, now);
      return existing;
    }
    const created = new RateLimiter(key, limit, now);
    this.limiters.set(key, created);
    return created;
  }
}

/** The process-wide state used when a gateway is given none. */
export const processGatewayState = new GatewayState();

export interface GatewayOptions {
  /** The chain: the first is the primary, each next one is the fallback of the one before. */
  readonly models: readonly Model[];
  readonly retry?: RetryOptions;
  /** Client-side limits, keyed by provider (`anthropic`, `openai`, `openai-compatible`) or by model id. */
  readonly rateLimits?: Readonly<Record<string, RateLimit>>;
  readonly breaker?: BreakerOptions;
  /** Default: the process-wide state, shared by all sessions. */
  readonly state?: GatewayState;
  readonly clock?: Clock;
  readonly random?: () => number;
}

/**
 * Wraps models with retries (backoff with full jitter, `Retry-After` honoured), a fallback chain,
 * client-side rate limits and a circuit breaker per endpoint. It is itself a `Model`; each retry,
 * wait, fallback and breaker change is reported through `request.onEvent` into the session's log, and
 * each attempt is reserved and settled in the ledger through `request.attempts`.
 *
 * @example
 * const model = gateway({
 *   models: [resolveModel("anthropic:claude-sonnet-4-6"), resolveModel("openai:gpt-4.1-mini")],
 *   rateLimits: { anthropic: { requestsPerMinute: 50, tokensPerMinute: 40_000 } },
 * });
 * const harness = createHarness({ model });
 */
export function gateway(options: GatewayOptions): Model {
  return new Gateway(options);
}

class Gateway implements Model {
  readonly id: string;
  readonly members: readonly string[];
  readonly accountsAttempts = true;
  readonly #models: readonly Member[];
  readonly #options: GatewayOptions;
  readonly #state: GatewayState;
  readonly #clock: Clock;
  readonly #random: () => number;
  /** Estimated characters of each conversation so far, kept incrementally (no O(history) scan per call). */
  readonly #chars = new WeakMap<readonly Message[], { count: number; chars: number }>();

  constructor(options: GatewayOptions) {
    if (options.models.length === 0)
      throw new ModelError("REIN_MODEL_UNKNOWN", "gateway: give at least one model.");
    this.#models = options.models;
    this.#options = options;
    this.id = options.models[0]!.id;
    this.members = options.models.flatMap(
      (m) => (m as Member & { members?: readonly string[] }).members ?? [m.id],
    );
    this.#state = options.state ?? processGatewayState;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    const emit = request.onEvent ?? (() => {});
    let lastError: unknown;
    for (let i = 0; i < this.#models.length; i++) {
      const model = this.#models[i] as Member;
      const next = this.#models[i + 1];
      try {
        return await this.#withRetries(model, request, emit);
      } catch (err) {
        if (request.signal.aborted) throw err;
        lastError = err;
        const open = err instanceof BreakerOpen;
        if (!next || !(open || fallsBack(err))) throw open ? this.#allOpen(err) : err;
        emit({
          type: "model_fallback",
          data: { from: model.id, to: next.id, reason: open ? "circuit_open" : reasonOf(err) },
        });
      }
    }
    throw lastError;
  }

  async #withRetries(
    model: Member,
    request: ModelRequest,
    emit: (e: ModelEvent) => void,
  ): Promise<ModelResponse> {
    const endpoint = model.endpoint ?? model.id;
    const breaker = this.#state.breaker(endpoint, this.#options.breaker ?? {});
    const report = (change: BreakerChange | undefined) => {
      if (change) emit({ type: "model_breaker", data: { endpoint, ...change } });
    };
    for (let attempt = 1; ; attempt++) {
      const admitted = breaker.admit(this.#clock.now());
      report(admitted.change);
      if (!admitted.ok) throw new BreakerOpen(endpoint);
      const estimate = await this.#waitForRate(model, request, emit);
      let delivered = false;
      const ticket = request.attempts?.begin(model.id);
      try {
        const response = await model.generate({
          ...request,
          attempts: undefined,
          onTextDelta: (delta) => {
            delivered = true;
            request.onTextDelta?.(delta);
          },
        });
        ticket?.end(response.usage, response.model);
        report(breaker.success());
        this.#settleRate(model, estimate, response.usage);
        return response;
      } catch (err) {
        ticket?.end((err as { usage?: Usage }).usage);
        if (request.signal.aborted) {
          breaker.abandon();
          throw err;
        }
        if (countsAsOutage(err)) report(breaker.failure(this.#clock.now()));
        else report(breaker.success());
        const decision = delivered
          ? { retry: false, delayMs: 0, retryAfter: false }
          : retryDecision(err, attempt, this.#options.retry ?? {}, this.#random);
        if (!decision.retry) throw err;
        emit({
          type: "model_retry",
          data: {
            model: model.id,
            attempt,
            delayMs: decision.delayMs,
            status: (err as { status?: number | null }).status ?? null,
            reason: reasonOf(err),
            retryAfter: decision.retryAfter,
          },
        });
        await this.#clock.sleep(decision.delayMs, request.signal);
      }
    }
  }

  #limiter(model: Member): RateLimiter | undefined {
    const limits = this.#options.rateLimits;
    if (!limits) return undefined;
    const key = limits[model.id] ? model.id : (model.provider ?? model.id.slice(0, model.id.indexOf(":")));
    const limit = limits[key];
    return limit ? this.#state.limiter(key, limit, this.#clock.now()) : undefined;
  }

  /**
   * Takes one request and the call's estimated tokens (its input so far plus `maxTokens`) from the
   * provider's buckets, waiting (abortably: the call's timeout bounds it) if they are short. Returns
   * the tokens taken, which `#settleRate` corrects with the real usage.
   */
  async #waitForRate(model: Member, request: ModelRequest, emit: (e: ModelEvent) => void): Promise<number> {
    const limiter = this.#limiter(model);
    if (!limiter) return 0;
    const estimate = this.#estimateTokens(request);
    const wait = limiter.take(estimate, this.#clock.now());
    const taken = wait.taken;
    const waitMs = Math.max(wait.requests, wait.tokens);
    if (waitMs > 0) {
      emit({
        type: "model_rate_wait",
        data: {
          model: model.id,
          bucket: limiter.key,
          waitMs,
          limit: wait.tokens >= wait.requests ? "tokens" : "requests",
        },
      });
      try {
        await this.#clock.sleep(waitMs, request.signal);
      } catch (err) {
        limiter.refund(taken, this.#clock.now());
        throw err;
      }
    }
    return taken;
  }

  /** Corrects the token bucket with what the call really used. */
  #settleRate(model: Member, taken: number, usage: Usage): void {
    const limiter = this.#limiter(model);
    if (!limiter?.tokens) return;
    const actual = usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
    limiter.tokens.adjust(taken - actual, this.#clock.now());
  }

  /** About four characters a token; the conversation's size is kept per history array and grown by what was appended. */
  #estimateTokens(request: ModelRequest): number {
    let seen = this.#chars.get(request.messages);
    if (!seen || seen.count > request.messages.length) {
      seen = { count: 0, chars: 0 };
      this.#chars.set(request.messages, seen);
    }
    for (let i = seen.count; i < request.messages.length; i++) {
      for (const b of (request.messages[i] as Message).content)
        seen.chars +=
          b.type === "text"
            ? b.text.length
            : b.type === "tool_result"
              ? b.content.length
              : 32 + (JSON.stringify(b.input)?.length ?? 0);
    }
    seen.count = request.messages.length;
    return Math.ceil((seen.chars + (request.system?.length ?? 0)) / 4) + request.maxTokens;
  }

  #allOpen(err: BreakerOpen): ModelError {
    return new ModelError(
      "REIN_MODEL_CIRCUIT_OPEN",
      `Every model of the chain (${this.members.join(", ")}) has an open circuit breaker (last: ${err.endpoint}); the call was not sent.`,
      { endpoint: err.endpoint, models: this.members },
    );
  }
}

class BreakerOpen extends Error {
  constructor(readonly endpoint: string) {
    super(`circuit open for ${endpoint}`);
  }
}

function reasonOf(err: unknown): string {
  const e = err as { failure?: string; status?: number | null; message?: string };
  if (e.failure === "http" && typeof e.status === "number") return `http_${e.status}`;
  if (e.failure) return e.failure;
  return e.message ?? String(err);
}
