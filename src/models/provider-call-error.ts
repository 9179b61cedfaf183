import { errorMessage, ModelError } from "../protocol/errors.js";
import type { Usage } from "../protocol/messages.js";

/** What went wrong with a provider call, as the gateway needs to know it. */
export type ProviderFailure =
  /** The provider answered with an HTTP error status. */
  | "http"
  /** No answer: connection refused or reset, DNS, a socket timeout. */
  | "connection"
  /** An answer Rein cannot read: malformed JSON, an SSE stream that ended mid-message. */
  | "malformed";

/**
 * A provider call that failed. Carries what the gateway decides on: the status, the provider's
 * `retry-after`, whether output already reached the caller, and any usage the provider reported.
 */
export class ProviderCallError extends ModelError {
  readonly failure: ProviderFailure;
  readonly status: number | null;
  /** From `retry-after-ms` or `Retry-After` (seconds or an HTTP date), in milliseconds. */
  readonly retryAfterMs: number | null;
  /** True when text had already been streamed to the caller: such a call is never retried or replaced. */
  readonly delivered: boolean;
  /** Tokens the provider reported before failing (e.g. a stream cut after `message_start`). */
  readonly usage: Usage | undefined;

  constructor(
    model: string,
    init: {
      failure: ProviderFailure;
      status?: number | null;
      retryAfterMs?: number | null;
      delivered?: boolean;
      usage?: Usage;
      message: string;
      cause?: unknown;
    },
  ) {
    super(
      "REIN_MODEL_CALL_FAILED",
      `Model ${model}: ${init.message}`,
      { model, failure: init.failure, status: init.status ?? null },
      { cause: init.cause },
    );
    this.failure = init.failure;
    this.status = init.status ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.delivered = init.delivered ?? false;
    this.usage = init.usage;
  }

  /** 408, 409, 429, 5xx (incl. 529 overloaded) and connection failures may succeed if sent again. */
  get retryable(): boolean {
    if (this.failure === "connection") return true;
    const s = this.status;
    return s !== null && (s === 408 || s === 409 || s === 429 || s >= 500);
  }
}

/** Parses `retry-after-ms` (milliseconds) or `Retry-After` (seconds or an HTTP date). */
export function retryAfterFrom(headers: unknown, now: () => number = Date.now): number | null {
  const get = (name: string): string | null => {
    if (!headers || typeof headers !== "object") return null;
    if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
    const v = (headers as Record<string, unknown>)[name];
    return typeof v === "string" ? v : null;
  };
  const ms = get("retry-after-ms");
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const after = get("retry-after");
  if (after === null || after.trim() === "") return null;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : null;
  const date = Date.parse(after);
  return Number.isFinite(date) ? Math.max(0, date - now()) : null;
}

/** The SDK error classes the classifier needs; both official SDKs export these names. */
export interface SdkErrorClasses {
  readonly APIError: abstract new (...args: never[]) => Error;
  readonly APIConnectionError: abstract new (...args: never[]) => Error;
}

/**
 * Turns what an SDK threw into a `ProviderCallError`. Aborts are not classified here: the caller
 * rethrows the signal's reason so the loop sees its own timeout or cancellation.
 */
export function classifySdkError(
  model: string,
  err: unknown,
  sdk: SdkErrorClasses,
  state: { delivered: boolean; usage?: Usage | undefined },
): ProviderCallError {
  if (err instanceof ProviderCallError) return err;
  const base = { delivered: state.delivered, usage: state.usage, cause: err };
  if (err instanceof sdk.APIConnectionError) {
    return new ProviderCallError(model, { ...base, failure: "connection", message: errorMessage(err) });
  }
  if (err instanceof sdk.APIError) {
    const e = err as Error & { status?: number; headers?: unknown };
    if (typeof e.status === "number") {
      return new ProviderCallError(model, {
        ...base,
        failure: "http",
        status: e.status,
        retryAfterMs: retryAfterFrom(e.headers),
        message: `HTTP ${e.status}: ${errorMessage(err)}`,
      });
    }
    // An `error` event inside a stream, or an API error without a status.
    return new ProviderCallError(model, { ...base, failure: "malformed", message: errorMessage(err) });
  }
  if (err instanceof SyntaxError) {
    return new ProviderCallError(model, {
      ...base,
      failure: "malformed",
      message: `the provider sent malformed JSON (${err.message})`,
    });
  }
  // A socket closed mid-body surfaces from fetch as a TypeError ("terminated").
  if (err instanceof TypeError) {
    return new ProviderCallError(model, { ...base, failure: "connection", message: errorMessage(err) });
  }
  return new ProviderCallError(model, { ...base, failure: "malformed", message: errorMessage(err) });
}
