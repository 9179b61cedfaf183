import type { BreakerState } from "../../protocol/events.js";

export interface BreakerOptions {
  /** Consecutive outages that open the breaker. Default 5. */
  readonly failureThreshold?: number;
  /** How long an open breaker refuses calls before letting one probe through. Default 30 s. */
  readonly cooldownMs?: number;
}

export interface BreakerChange {
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly consecutiveFailures: number;
}

/**
 * A circuit breaker for one provider endpoint, shared by every session of the process: closed → open
 * after `failureThreshold` consecutive outages → half-open after `cooldownMs`, when exactly one probe
 * passes → closed if it succeeds, open again if it fails.
 */
export class CircuitBreaker {
  #state: BreakerState = "closed";
  #failures = 0;
  #openedAt = 0;
  #probing = false;

  constructor(
    readonly endpoint: string,
    public options: BreakerOptions = {},
  ) {}

  get state(): BreakerState {
    return this.#state;
  }

  /** May a call go through now? A half-open breaker admits one probe at a time. */
  admit(now: number): { ok: boolean; change?: BreakerChange } {
    if (this.#state === "closed") return { ok: true };
    if (this.#state === "open") {
      if (now - this.#openedAt < (this.options.cooldownMs ?? 30_000)) return { ok: false };
      const change = this.#to("half_open");
      this.#probing = true;
      return { ok: true, change };
    }
    if (this.#probing) return { ok: false };
    this.#probing = true;
    return { ok: true };
  }

  success(): BreakerChange | undefined {
    this.#failures = 0;
    this.#probing = false;
    return this.#state === "closed" ? undefined : this.#to("closed");
  }

  failure(now: number): BreakerChange | undefined {
    this.#failures++;
    this.#probing = false;
    if (
      this.#state === "half_open" ||
      (this.#state === "closed" && this.#failures >= (this.options.failureThreshold ?? 5))
    ) {
      this.#openedAt = now;
      return this.#to("open");
    }
    return undefined;
  }

  /** A probe that ended without a verdict (the caller cancelled): let the next call probe. */
  abandon(): void {
    this.#probing = false;
  }

  #to(state: BreakerState): BreakerChange {
    const change = { from: this.#state, to: state, consecutiveFailures: this.#failures };
    this.#state = state;
    return change;
  }
}
