import type { StopReason } from "../protocol/stop-reason.js";

/** Stop reasons that a guard (budget, stall detector, circuit breaker) or a limit (turns, time) produced. */
export const GUARD_STOPS: ReadonlySet<StopReason["type"]> = new Set([
  "max_turns",
  "cost_ceiling",
  "stalled",
  "circuit_open",
  "timeout",
]);

/** `provider:model` → its two halves, as the GenAI conventions name them. */
export function splitModelId(id: string): { provider: string; model: string } {
  const i = id.indexOf(":");
  return i <= 0 ? { provider: "unknown", model: id } : { provider: id.slice(0, i), model: id.slice(i + 1) };
}

/** `ok`, `error` (it ran and failed) or `denied` (it never ran). */
export function toolOutcome(d: {
  readonly executed: boolean;
  readonly ok: boolean;
}): "ok" | "error" | "denied" {
  return !d.executed ? "denied" : d.ok ? "ok" : "error";
}

/** Cuts `text` to `max` characters, saying how much was cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[truncated ${text.length - max} chars]`;
}
