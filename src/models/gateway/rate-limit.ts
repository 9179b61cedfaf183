export interface RateLimit {
  /** Requests per minute. */
  readonly requestsPerMinute?: number;
  /** Input + output tokens per minute (cache reads and writes count as input). */
  readonly tokensPerMinute?: number;
}

/**
 * A token bucket: holds up to `perMinute`, refills continuously. A taker debits at once (the balance
 * may go negative) and waits until the refill covers it, so concurrent callers queue fairly in the
 * order they asked, without a timer per waiter.
 */
export class TokenBucket {
  #available: number;
  #at: number;

  constructor(
    public perMinute: number,
    now: number,
  ) {
    this.#available = perMinute;
    this.#at = now;
  }

  #refill(now: number): void {
    this.#available = Math.min(
      this.perMinute,
      this.#available + ((now - this.#at) * this.perMinute) / 60_000,
    );
    this.#at = now;
  }

  /** Debits `n` (at most the bucket's size) and returns how long to wait before using it. */
  take(n: number, now: number): number {
    this.#refill(now);
    this.#available -= Math.min(n, this.perMinute);
    return this.#available >= 0 ? 0 : Math.ceil((-this.#available * 60_000) / this.perMinute);
  }

  /** Gives back (positive) or takes more (negative), e.g. when the real usage differs from the estimate. */
  adjust(n: number, now: number): void {
    this.#refill(now);
    this.#available = Math.min(this.perMinute, this.#available + n);
  }

  available(now: number): number {
    this.#refill(now);
    return this.#available;
  }
}

/** The buckets of one provider (or model): requests and tokens. */
export class RateLimiter {
  requests: TokenBucket | undefined;
  tokens: TokenBucket | undefined;

  constructor(
    readonly key: string,
    limit: RateLimit,
    now: number,
  ) {
    this.configure(limit, now);
  }

  configure(limit: RateLimit, now: number): void {
    this.requests = bucket(this.requests, limit.requestsPerMinute, now);
    this.tokens = bucket(this.tokens, limit.tokensPerMinute, now);
  }

  /** Debits one request and `tokens` (at most the bucket's size: `taken`); the wait for each limit (0 when there is room). */
  take(tokens: number, now: number): { requests: number; tokens: number; taken: number } {
    const taken = this.tokens ? Math.min(tokens, this.tokens.perMinute) : 0;
    return { requests: this.requests?.take(1, now) ?? 0, tokens: this.tokens?.take(taken, now) ?? 0, taken };
  }

  /** Undoes a `take` whose call never went out (cancelled while waiting). */
  refund(tokens: number, now: number): void {
    this.requests?.adjust(1, now);
    this.tokens?.adjust(tokens, now);
  }
}

function bucket(
  existing: TokenBucket | undefined,
  perMinute: number | undefined,
  now: number,
): TokenBucket | undefined {
  if (perMinute === undefined) return undefined;
  if (!(perMinute > 0)) throw new RangeError(`a rate limit must be positive, got ${perMinute}`);
  if (existing) {
    existing.perMinute = perMinute;
    return existing;
  }
  return new TokenBucket(perMinute, now);
}
