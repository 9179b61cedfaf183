import { ProviderCallError } from "../provider-call-error.js";

export interface RetryOptions {
  /** Attempts after the first, per model of the chain. Default 2. */
  readonly maxRetries?: number;
  /** The backoff's first ceiling; it doubles each attempt. Default 500 ms. */
  readonly baseDelayMs?: number;
  /** The backoff's largest ceiling. Default 8 s. */
  readonly maxDelayMs?: number;
  /** A provider's `Retry-After` longer than this is not waited for: the gateway falls back instead. Default 60 s. */
  readonly maxRetryAfterMs?: number;
}

export interface RetryDecision {
  readonly retry: boolean;
  readonly delayMs: number;
  /** The delay is the provider's `Retry-After`, not Rein's backoff. */
  readonly retryAfter: boolean;
}

const NO: RetryDecision = Object.freeze({ retry: false, delayMs: 0, retryAfter: false });

/**
 * Whether and when to send a failed call again: only failures that may change (408, 409, 429, 5xx,
 * 529, connection errors), never after text reached the caller, at most `maxRetries` times. The delay
 * is the provider's `retry-after-ms` / `Retry-After` when it sent one, else exponential backoff with
 * full jitter (uniform in [0, min(max, base·2^(attempt-1))]), which spreads a burst of clients apart.
 */
export function retryDecision(
  err: unknown,
  attempt: number,
  options: RetryOptions,
  random: () => number = Math.random,
): RetryDecision {
  if (!(err instanceof ProviderCallError) || err.delivered || !err.retryable) return NO;
  if (attempt > (options.maxRetries ?? 2)) return NO;
  if (err.retryAfterMs !== null) {
    if (err.retryAfterMs > (options.maxRetryAfterMs ?? 60_000)) return NO;
    return { retry: true, delayMs: err.retryAfterMs, retryAfter: true };
  }
  const ceiling = Math.min(options.maxDelayMs ?? 8_000, (options.baseDelayMs ?? 500) * 2 ** (attempt - 1));
  return { retry: true, delayMs: Math.floor(random() * ceiling), retryAfter: false };
}
