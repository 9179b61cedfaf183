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

export interface GuardToolCall {
  readonly tool: Tool;
  readonly callId: string;
  readonly input: unknown;
}

/**
 * Runtime guards: budgets, stall detection, circuit breakers, taint. Each hook is optional and
 * synchronous-or-async; the loop calls them at fixed points of every step.
 */
export interface Guard {
  readonly name: string;
  beforeModelCall?(context: GuardContext): GuardVerdict | Promise<GuardVerdict>;
  beforeToolCall?(call: GuardToolCall, context: GuardContext): GuardVerdict | Promise<GuardVerdict>;
  afterToolCall?(
    call: GuardToolCall,
    outcome: { ok: boolean; errorType: string | null },
    context: GuardContext,
  ): GuardVerdict | undefined | Promise<GuardVerdict | undefined>;
}
