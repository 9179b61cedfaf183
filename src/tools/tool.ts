import type { ToolSpec } from "../models/model.js";
import type { SandboxStart } from "../protocol/events.js";
import type { RiskProfile } from "../protocol/risk.js";

/** What a tool's `execute` receives besides its input. */
export interface ToolContext {
  /** Aborted on cancel, on the tool's timeout, and on the session's wall-clock timeout. Honour it. */
  readonly signal: AbortSignal;
  readonly callId: string;
  /** Stable across a crash and a retry of the same call; pass it to external systems that dedupe. */
  readonly idempotencyKey: string;
  readonly sessionId: string;
  readonly runId: string;
  readonly tenantId: string;
  readonly turn: number;
  /**
   * A tool that ran a command in a sandbox reports it here (the backend and `ExecResult.startupMs`);
   * it is recorded on the call's `tool_call_finished` (traces and metrics read it there).
   */
  readonly sandboxStarted?: (start: SandboxStart) => void;
}

export type ParseResult =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly message: string;
      readonly issues: readonly { path: string; message: string }[];
    };

/**
 * A tool the model can call. Build one with `defineTool`; the pipeline validates input with `parse`
 * before `execute` ever sees it.
 */
export interface Tool<Name extends string = string, Input = unknown> {
  readonly name: Name;
  /**
   * Type only, never set: the validated input's type, which types approvals and hooks
   * (`ToolCallOf`). `defineTool` fills it from the schema.
   */
  readonly "~input"?: Input;
  readonly description: string;
  /** JSON Schema of the input, as sent to the model. */
  readonly inputSchema: Readonly<Record<string, unknown>>;
  /** The tool's own risk profile. A tool that declares none is treated as HIGH. */
  readonly risk: RiskProfile | undefined;
  /** Safe to re-run after a crash with the same idempotency key. */
  readonly idempotent: boolean;
  /** Touches nothing: consecutive read-only calls of one turn may run concurrently. */
  readonly readOnly: boolean;
  /** Overrides the harness's per-tool timeout. */
  readonly timeoutMs: number | undefined;
  /**
   * What one call costs in USD (a paid API), fixed or from the validated input. It is reserved in the
   * session's ledger before the call, against the same budgets as model calls, and settled after.
   */
  readonly costUsd?: number | ((input: unknown) => number);
  parse(input: unknown): ParseResult;
  execute(input: unknown, context: ToolContext): Promise<unknown>;
}

/** Looks tools up by name and lists them for the model. */
export interface ToolRouter {
  get(name: string): Tool | undefined;
  /** The same array on every call (the loop passes it to every model call without rebuilding it). */
  specs(): readonly ToolSpec[];
  names(): readonly string[];
}

/**
 * The calls of a set of tools, as a union discriminated by `tool`: what a typed gate or hook receives.
 *
 * @example
 * type Calls = ToolCallOf<typeof weather | typeof search>;
 * // { tool: "get_weather"; input: { city: string } } | { tool: "search"; input: { q: string } }
 */
export type ToolCallOf<T extends Tool> =
  T extends Tool<infer N, infer I> ? { readonly tool: N; readonly input: I } : never;
