import type { StopReason } from "../protocol/stop-reason.js";
import type { Tool } from "../tools/tool.js";

export interface GuardContext {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly runId: string;
  readonly turn: number;
}

/** What a guard says. `stop` ends the run with a guard stop reason (budget, stall, circuit). */
export type GuardVerdict =
  | { readonly action: "allow" }
  | { readonly action: "deny"; readonly reason: string }
  | { readonly action: "raise"; readonly level: "MEDIUM" | "HIGH"; readonly reason: string }
  | {
      readonly action: "stop";
      readonly stop: Extract<StopReason, { type: "cost_ceiling" | "stalled" | "circuit_open" }>;
    };

/** What a guard may answer where there is no call to deny: go on, or stop the run. */
export type GuardStopVerdict = Extract<GuardVerdict, { action: "allow" | "stop" }>;

export interface GuardToolCall {
  readonly tool: Tool;
  readonly callId: string;
  readonly input: unknown;
}

/**
 * Runtime guards: budgets, stall detection, circuit breakers, taint. Each hook is optional and
 * synchronous or a native Promise; the loop calls them at fixed points of every step. Fail closed:
 * a hook that throws, or answers anything but a verdict valid at its point, denies the call
 * (`beforeToolCall`) or stops the run with `REIN_GUARD_FAILED` (`beforeModelCall`, `afterToolCall`).
 */
export interface Guard {
  readonly name: string;
  /** Before every model call (the run's first included): `stop` ends the run before the call is made. */
  beforeModelCall?(context: GuardContext): GuardStopVerdict | Promise<GuardStopVerdict>;
  beforeToolCall?(call: GuardToolCall, context: GuardContext): GuardVerdict | Promise<GuardVerdict>;
  /** After a call executed: `stop` ends the run once this step's results are appended. */
  afterToolCall?(
    call: GuardToolCall,
    outcome: { ok: boolean; errorType: string | null },
    context: GuardContext,
  ): GuardStopVerdict | undefined | Promise<GuardStopVerdict | undefined>;
}
