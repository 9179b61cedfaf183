import { ProviderCallError } from "../provider-call-error.js";

/**
 * Whether a failure should move the call to the next model of the chain: the provider is rate limiting,
 * failing (5xx, 529), unreachable, or answering garbage. A request the provider refused for what it is
 * (400, 401, 403, 404, 413, 422) is not sent elsewhere, and nothing is replaced once text was streamed.
 */
export function fallsBack(err: unknown): boolean {
  if (!(err instanceof ProviderCallError) || err.delivered) return false;
  return err.retryable || err.failure === "malformed";
}

/** Failures that count against an endpoint's circuit breaker: it is down or broken, not merely busy or refusing. */
export function countsAsOutage(err: unknown): boolean {
  if (!(err instanceof ProviderCallError)) return false;
  if (err.failure !== "http") return true;
  return err.status !== null && (err.status >= 500 || err.status === 408);
}
