import { ConfigError } from "../protocol/errors.js";
import { keepShapes } from "../protocol/shape-keeper.js";
import type { Guard, GuardCallOutcome, GuardContext, GuardToolCall, GuardVerdict } from "./guard.js";
import { sessionKey } from "./session-key.js";

export type CircuitState = "closed" | "open" | "half_open";

export interface CircuitBreakerOptions {
  /** Failures within `windowMs` that open a tool's circuit. Default 5. */
  readonly failureThreshold?: number;
  /** Default 60 s. */
  readonly windowMs?: number;
  /** How long an open circuit refuses calls before it lets one probe through. Default 30 s. */
  readonly coolDownMs?: number;
  /** The run stops with `circuit_open` at this many calls refused by one open circuit. Default 3. */
  readonly stopAfterRefusals?: number;
  /** Error types that count as failures. Default `tool_error`, `timeout`, `outcome_unknown`. */
  readonly failureTypes?: readonly string[];
  /** A probe that never reports back (e.g. denied later in the pipeline) is given up after this long. Default 60 s. */
  readonly probeTimeoutMs?: number;
  /**
   * Share circuits across every session of the harness (a flaky external service fails for everyone):
   * `true` for every tool, or the tools to share. Default: each session has its own circuits.
   */
  readonly shared?: boolean | readonly string[];
  /** Per-tool overrides of the numbers above. */
  readonly tools?: Readonly<
    Record<string, Pick<CircuitBreakerOptions, "failureThreshold" | "windowMs" | "coolDownMs">>
  >;
  /** The clock (default `Date.now`). */
  readonly now?: () => number;
}

interface Probe {
  readonly callId: string;
  readonly session: string;
  readonly runId: string;
  readonly turn: number;
  readonly at: number;
}

interface Circuit {
  state: CircuitState;
  /** Ring of the last `threshold` failure times. */
  readonly failures: number[];
  failureCount: number;
  openedAt: number;
  probe: Probe | undefined;
}

interface Settings {
  readonly threshold: number;
  readonly windowMs: number;
  readonly coolDownMs: number;
}

/**
 * Circuit breakers per tool: closed → open after `failureThreshold` failures within `windowMs` →
 * half-open after `coolDownMs`, which lets exactly one probe call through (any other call meanwhile,
 * concurrent or from another session, is refused) → closed if the probe succeeds, open again if it
 * fails. A refused call gets a structured `guard_denied` error (circuit, state, retry time); the
 * `stopAfterRefusals`-th refusal in a session stops the run with `circuit_open`. State changes are
 * `circuit_changed` events. Circuits are per session unless `shared`.
 *
 * @example
 * createHarness({ model, tools, guards: { circuitBreaker: { failureThreshold: 3, coolDownMs: 10_000 } } });
 */
export class CircuitBreaker implements Guard {
  readonly name = "circuit-breaker";
  readonly #defaults: Settings;
  readonly #perTool = new Map<string, Settings>();
  readonly #stopAfter: number;
  readonly #failureTypes: ReadonlySet<string>;
  readonly #probeTimeoutMs: number;
  /** `true`: every tool's circuit is shared; else the tools whose circuits are (a field, not a closure per guard). */
  readonly #sharedAll: boolean;
  readonly #sharedTools: ReadonlySet<string>;
  readonly #now: () => number;
  /** Circuits by owner (a session's key, or `tenant` for shared ones), then tool. Created on first failure. */
  readonly #circuits = new Map<string, Map<string, Circuit>>();
  /** Refused calls per session and tool. */
  readonly #refusals = new Map<string, Map<string, number>>();

  constructor(options: CircuitBreakerOptions = {}) {
    this.#defaults = settings(options, "circuitBreaker");
    for (const [tool, o] of Object.entries(options.tools ?? {}))
      this.#perTool.set(tool, settings({ ...this.#defaults, ...o }, `circuitBreaker.tools.${tool}`));
    this.#stopAfter = options.stopAfterRefusals ?? 3;
    if (!Number.isInteger(this.#stopAfter) || this.#stopAfter < 1)
      throw new ConfigError("circuitBreaker.stopAfterRefusals must be a positive integer.", {
        field: "circuitBreaker.stopAfterRefusals",
      });
    this.#failureTypes = new Set(options.failureTypes ?? ["tool_error", "timeout", "outcome_unknown"]);
    this.#probeTimeoutMs = positive(options.probeTimeoutMs ?? 60_000, "circuitBreaker.probeTimeoutMs");
    const shared = options.shared ?? false;
    this.#sharedAll = shared === true;
    this.#sharedTools = new Set(Array.isArray(shared) ? shared : []);
    this.#now = options.now ?? Date.now;
  }

  /** A circuit's state (closed when it has never failed). */
  stateOf(tool: string, scope: { readonly tenantId: string; readonly sessionId: string }): CircuitState {
    return this.#circuits.get(this.#owner(tool, scope))?.get(tool)?.state ?? "closed";
  }

  /** Owners with state (sessions and shared tenants), for tests: it falls as sessions end. */
  get trackedOwners(): number {
    return this.#circuits.size + this.#refusals.size;
  }

  #shared(tool: string): boolean {
    return this.#sharedAll || this.#sharedTools.has(tool);
  }

  #owner(tool: string, scope: { readonly tenantId: string; readonly sessionId: string }): string {
    return this.#shared(tool) ? `${scope.tenantId}\u0000*shared*` : sessionKey(scope);
  }

  #circuit(tool: string, context: GuardContext, create: boolean): Circuit | undefined {
    const owner = this.#owner(tool, context);
    let byTool = this.#circuits.get(owner);
    if (!byTool) {
      if (!create) return undefined;
      byTool = new Map();
      this.#circuits.set(owner, byTool);
    }
    let c = byTool.get(tool);
    if (!c && create) {
      c = { state: "closed", failures: [], failureCount: 0, openedAt: 0, probe: undefined };
      byTool.set(tool, c);
    }
    return c;
  }

  #move(c: Circuit, tool: string, to: CircuitState, reason: string, context: GuardContext): void {
    const from = c.state;
    c.state = to;
    context.notify("circuit_changed", {
      circuit: tool,
      from,
      to,
      failures: c.failureCount,
      reason,
      shared: this.#shared(tool),
    });
  }

  beforeToolCall(call: GuardToolCall, context: GuardContext): GuardVerdict {
    // No tool has failed anywhere and nothing was refused: every circuit is closed (the usual step).
    if (this.#circuits.size === 0 && this.#refusals.size === 0) return ALLOW;
    const tool = call.tool.name;
    const c = this.#circuit(tool, context, false);
    if (!c || c.state === "closed") {
      this.#clearRefusals(tool, context);
      return ALLOW;
    }
    const s = this.#perTool.get(tool) ?? this.#defaults;
    const now = this.#now();
    if (c.state === "open") {
      if (now - c.openedAt < s.coolDownMs)
        return this.#refuse(
          call,
          context,
          c,
          `open after ${c.failureCount} failures`,
          c.openedAt + s.coolDownMs - now,
        );
      this.#move(
        c,
        tool,
        "half_open",
        `cool-down of ${s.coolDownMs} ms over: one probe call may go through`,
        context,
      );
    }
    // Half-open: exactly one probe at a time.
    const p = c.probe;
    const session = sessionKey(context);
    const abandoned =
      p !== undefined &&
      (now - p.at >= this.#probeTimeoutMs ||
        // Calls of one turn finish before the next model call: an older probe of this session never ran.
        (p.session === session && (p.runId !== context.runId || p.turn !== context.turn)));
    if (p && !abandoned)
      return this.#refuse(call, context, c, "half-open: its one probe call is in flight", 0);
    c.probe = { callId: call.callId, session, runId: context.runId, turn: context.turn, at: now };
    this.#clearRefusals(tool, context);
    return ALLOW;
  }

  #refuse(
    call: GuardToolCall,
    context: GuardContext,
    c: Circuit,
    why: string,
    retryAfterMs: number,
  ): GuardVerdict {
    const tool = call.tool.name;
    const key = sessionKey(context);
    let byTool = this.#refusals.get(key);
    if (!byTool) {
      byTool = new Map();
      this.#refusals.set(key, byTool);
    }
    const refused = (byTool.get(tool) ?? 0) + 1;
    byTool.set(tool, refused);
    if (refused >= this.#stopAfter) return { action: "stop", stop: { type: "circuit_open", circuit: tool } };
    return {
      action: "deny",
      reason: `The circuit for tool "${tool}" is ${why}; the call was not made. Do not call "${tool}" again now: work without it or stop and report (calling it again while the circuit is open ends the run).`,
      details: {
        circuit: tool,
        state: c.state,
        failures: c.failureCount,
        retryAfterMs,
        refusedCalls: refused,
        runStopsAtRefusal: this.#stopAfter,
      },
    };
  }

  #clearRefusals(tool: string, context: GuardContext): void {
    const byTool = this.#refusals.get(sessionKey(context));
    if (byTool?.delete(tool) && byTool.size === 0) this.#refusals.delete(sessionKey(context));
  }

  afterToolCall(call: GuardToolCall, outcome: GuardCallOutcome, context: GuardContext): undefined {
    const failed = !outcome.ok && this.#failureTypes.has(outcome.errorType ?? "");
    // A success where no circuit exists changes nothing (circuits are made by a first failure).
    if (!failed && this.#circuits.size === 0) return undefined;
    const tool = call.tool.name;
    const c = this.#circuit(tool, context, failed);
    if (!c) return undefined;
    const s = this.#perTool.get(tool) ?? this.#defaults;
    const now = this.#now();
    if (c.probe && c.probe.callId === call.callId && c.probe.session === sessionKey(context)) {
      c.probe = undefined;
      if (failed) {
        c.openedAt = now;
        this.#recordFailure(c, s, now);
        this.#move(c, tool, "open", "the probe call failed", context);
      } else {
        c.failures.length = 0;
        c.failureCount = 0;
        this.#move(c, tool, "closed", "the probe call succeeded", context);
      }
      return undefined;
    }
    if (!failed) return undefined;
    this.#recordFailure(c, s, now);
    if (c.state !== "closed") return undefined;
    const oldest = c.failures.length === s.threshold ? Math.min(...c.failures) : undefined;
    if (oldest !== undefined && now - oldest <= s.windowMs) {
      c.openedAt = now;
      this.#move(c, tool, "open", `${s.threshold} failures within ${s.windowMs} ms`, context);
    }
    return undefined;
  }

  #recordFailure(c: Circuit, s: Settings, now: number): void {
    c.failures[c.failureCount % s.threshold] = now;
    c.failureCount++;
  }

  sessionEnded(scope: { readonly tenantId: string; readonly sessionId: string }): void {
    const key = sessionKey(scope);
    this.#circuits.delete(key);
    this.#refusals.delete(key);
  }
}

const ALLOW: GuardVerdict = Object.freeze({ action: "allow" });

function positive(v: number, field: string): number {
  if (!Number.isFinite(v) || v <= 0)
    throw new ConfigError(`${field} must be a positive number, got ${v}.`, { field });
  return v;
}

function settings(o: Partial<CircuitBreakerOptions> & Partial<Settings>, prefix: string): Settings {
  const threshold = o.failureThreshold ?? o.threshold ?? 5;
  if (!Number.isInteger(threshold) || threshold < 1)
    throw new ConfigError(`${prefix}.failureThreshold must be a positive integer, got ${threshold}.`, {
      field: `${prefix}.failureThreshold`,
    });
  return {
    threshold,
    windowMs: positive(o.windowMs ?? 60_000, `${prefix}.windowMs`),
    coolDownMs: positive(o.coolDownMs ?? 30_000, `${prefix}.coolDownMs`),
  };
}

/**
 * One instance kept for the process's life. V8 holds the shapes an instance takes as its fields are
 * set (private fields included) weakly: once every instance of a harness is collected, they go, and
 * all compiled code that read one is thrown away; the next harness's instances get new shapes, and
 * the guard's code runs unoptimized again for hundreds of calls. One live instance keeps the shapes.
 */
keepShapes(new CircuitBreaker());
