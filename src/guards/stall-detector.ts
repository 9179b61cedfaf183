import { canonicalJson } from "../protocol/canonical-json.js";
import { ConfigError } from "../protocol/errors.js";
import type { ReinEvent } from "../protocol/events.js";
import { keepShapes } from "../protocol/shape-keeper.js";
import { contentBeforeNotes } from "../protocol/tool-result.js";
import type { Tool } from "../tools/tool.js";
import { describeCall } from "./call-signature.js";
import type { Guard, GuardAfterVerdict, GuardCallOutcome, GuardContext, GuardToolCall } from "./guard.js";
import { sessionKey } from "./session-key.js";

/**
 * `canonicalJson(input)`, the same text, without its per-key arrays and closures for the usual
 * tool input (an object whose values are strings, numbers, booleans or null): one string built per
 * call. Nested values go through `canonicalJson` itself.
 */
export function canonicalArgs(input: unknown): string {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return canonicalJson(input);
  if (!hasOwnEnumerable(input)) return "{}"; // a call without arguments: no key list made
  const keys = Object.keys(input);
  if (keys.length > 1) keys.sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = (input as Record<string, unknown>)[k];
    out += `${i === 0 ? "" : ","}${JSON.stringify(k)}:${typeof v === "object" && v !== null ? canonicalJson(v) : (JSON.stringify(v) ?? "null")}`;
  }
  return `${out}}`;
}

function hasOwnEnumerable(input: object): boolean {
  for (const k in input) if (Object.hasOwn(input, k)) return true;
  return false;
}

export interface StallOptions {
  /**
   * How many recent calls make a cycle: a warning when the last `window` calls are one cycle of up to
   * `window / 2` calls repeated (A,A,A,A,A,A or A,B,A,B,A,B or A,B,C,A,B,C for 6). Default 6.
   */
  readonly window?: number;
  /** Calls the cycle may go on after the warning before the run stops with `stalled`. Default `window / 2`. */
  readonly graceCalls?: number;
  /** The same call failing with the same error this many times (other calls between allowed) warns. Default 3. */
  readonly sameErrorWarnAt?: number;
  /** …and this many times stops the run. Default 5. */
  readonly sameErrorStopAt?: number;
}

interface StallState {
  runId: string;
  /**
   * Ring of the last `window` steps: the tool, its canonical arguments, whether it succeeded and the
   * result the model read. Kept apart, so nothing is concatenated or hashed per call: the strings are
   * the ones the step already has (a result is held by reference, as the history holds it), and
   * comparing two of them stops at the first difference.
   */
  readonly oks: Uint8Array;
  readonly results: string[];
  readonly tools: string[];
  readonly args: string[];
  /** Steps seen in this run; the ring's head is `count % window`. */
  count: number;
  /** `match[p]`: how many consecutive latest steps equal the step `p` before them. */
  readonly match: Int32Array;
  /** The period warned about, or 0. */
  warnedPeriod: number;
  /** The last error: which call (tool, arguments), which result, how often (calls that succeed in between don't reset it). */
  errorTool: string;
  errorArgs: string;
  /** The last error's result (errors only: `ok` is implied). */
  errorResult: string;
  errorCount: number;
  errorLabel: string;
}

/**
 * Detects a run that goes round in circles, in O(window / 2) per call whatever the history's length:
 * a ring buffer of the last `window` calls (compared by tool, canonical arguments and result), and
 * for each period p a counter of how many latest calls repeat the call p before them. A call that
 * gives a different result (polling a changing status) or has different arguments (reading another
 * file) breaks the cycle. First a `stall_warning` event and a note in the result the model reads;
 * if the cycle goes on for `graceCalls` more calls, the run stops with `stalled` naming the cycle.
 *
 * @example
 * createHarness({ model, guards: { stall: { window: 6 } } });
 */
export class StallDetector implements Guard {
  readonly name = "stall";
  readonly window: number;
  readonly #grace: number;
  readonly #warnAt: number;
  readonly #stopAt: number;
  readonly #states = new Map<string, StallState>();

  constructor(options: StallOptions = {}) {
    const window = options.window ?? 6;
    const grace = options.graceCalls ?? Math.max(1, Math.floor(window / 2));
    const warnAt = options.sameErrorWarnAt ?? 3;
    const stopAt = options.sameErrorStopAt ?? 5;
    const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
    if (!int(window, 2) || window > 64)
      throw new ConfigError(`stall.window must be an integer from 2 to 64, got ${window}.`, {
        field: "stall.window",
      });
    if (!int(grace, 1))
      throw new ConfigError(`stall.graceCalls must be a positive integer, got ${grace}.`, {
        field: "stall.graceCalls",
      });
    if (!int(warnAt, 2) || !int(stopAt, 2) || stopAt <= warnAt)
      throw new ConfigError(
        `stall.sameErrorWarnAt and stall.sameErrorStopAt must be integers >= 2 with stopAt > warnAt, got ${warnAt} and ${stopAt}.`,
        { field: "stall.sameErrorStopAt" },
      );
    this.window = window;
    this.#grace = grace;
    this.#warnAt = warnAt;
    this.#stopAt = stopAt;
  }

  /** Sessions with state (for tests and metrics: it must fall back to zero as sessions end). */
  get trackedSessions(): number {
    return this.#states.size;
  }

  #state(context: GuardContext): StallState {
    const key = sessionKey(context);
    let s = this.#states.get(key);
    if (!s) {
      s = {
        runId: context.runId,
        oks: new Uint8Array(this.window),
        results: new Array<string>(this.window).fill(""),
        tools: new Array<string>(this.window).fill(""),
        args: new Array<string>(this.window).fill(""),
        count: 0,
        match: new Int32Array(Math.floor(this.window / 2) + 1),
        warnedPeriod: 0,
        errorTool: "",
        errorArgs: "",
        errorResult: "",
        errorCount: 0,
        errorLabel: "",
      };
      this.#states.set(key, s);
    } else if (s.runId !== context.runId) {
      // A new human turn: what the model does next answers new input, not the old loop.
      s.runId = context.runId;
      s.count = 0;
      s.match.fill(0);
      s.warnedPeriod = 0;
      s.errorCount = 0;
    }
    return s;
  }

  afterToolCall(
    call: GuardToolCall,
    outcome: GuardCallOutcome,
    context: GuardContext,
  ): GuardAfterVerdict | undefined {
    const s = this.#state(context);
    const w = this.window;
    const tool = call.tool.name;
    let args = canonicalArgs(call.input);
    const ok = outcome.ok ? 1 : 0;
    let result = outcome.content;
    const head = s.count % w;
    // The cheapest difference first: a changing result (polling, reading other files) ends it there.
    for (let p = 1; p < s.match.length; p++) {
      const at = (head - p + w) % w;
      let same = s.count >= p && s.oks[at] === ok && s.results[at] === result;
      // Equal results share one string from here on: comparing them again is a pointer check, so a
      // large result repeated costs one full comparison, not one per period.
      if (same) result = s.results[at]!;
      same &&= s.tools[at] === tool && s.args[at] === args;
      if (same) args = s.args[at]!;
      s.match[p] = same ? (s.match[p] ?? 0) + 1 : 0;
    }
    s.oks[head] = ok;
    s.results[head] = result;
    s.tools[head] = tool;
    s.args[head] = args;
    s.count++;

    const sameError = ok === 1 ? this.#trackSuccess(s, tool, args) : this.#trackError(s, tool, args, result);
    const cycle = this.#cycle(s);

    if (cycle && s.warnedPeriod === cycle.period && cycle.extra >= this.#grace)
      return { action: "stop", stop: { type: "stalled", diagnostic: this.#cycleDiagnostic(s, cycle) } };
    if (sameError === "stop")
      return {
        action: "stop",
        stop: {
          type: "stalled",
          diagnostic: `no progress: ${s.errorLabel} failed ${s.errorCount} times with the same error (the same result each time)`,
        },
      };
    if (cycle && s.warnedPeriod !== cycle.period) {
      s.warnedPeriod = cycle.period;
      const diagnostic = this.#cycleDiagnostic(s, cycle);
      context.notify("stall_warning", {
        turn: context.turn,
        kind: "cycle",
        cycle: this.#members(s, cycle.period),
        repeats: cycle.repeats,
        diagnostic,
      });
      return {
        action: "warn",
        note: `${diagnostic}. Nothing is changing: try a different approach or stop and report; if the same calls go on, the run will be stopped.`,
      };
    }
    if (!cycle) s.warnedPeriod = 0;
    if (sameError === "warn") {
      const diagnostic = `${s.errorLabel} failed ${s.errorCount} times with the same error`;
      context.notify("stall_warning", {
        turn: context.turn,
        kind: "same_error",
        cycle: [s.errorLabel],
        repeats: s.errorCount,
        diagnostic,
      });
      return {
        action: "warn",
        note: `${diagnostic}. Repeating it will not help: change what you do before calling it again; if it keeps failing the same way, the run will be stopped.`,
      };
    }
    return undefined;
  }

  /**
   * A denied call is a step like any other, its result the denial the model reads: a model that
   * retries a call the policy, a hook or a person refused, again and again, is going nowhere.
   */
  afterDeniedCall(
    call: GuardToolCall,
    outcome: GuardCallOutcome,
    context: GuardContext,
  ): GuardAfterVerdict | undefined {
    return this.afterToolCall(call, outcome, context);
  }

  /** The same failing call with the same error, counted across other calls; reset by a different result of it. */
  #trackError(s: StallState, tool: string, args: string, result: string): "warn" | "stop" | undefined {
    if (s.errorCount > 0 && s.errorResult === result && s.errorTool === tool && s.errorArgs === args)
      s.errorCount++;
    else {
      s.errorTool = tool;
      s.errorArgs = args;
      s.errorResult = result;
      s.errorCount = 1;
      s.errorLabel = describeCall(tool, args);
    }
    if (s.errorCount >= this.#stopAt) return "stop";
    return s.errorCount === this.#warnAt ? "warn" : undefined;
  }

  /** The failing call now succeeds: progress. */
  #trackSuccess(s: StallState, tool: string, args: string): undefined {
    if (s.errorCount > 0 && s.errorTool === tool && s.errorArgs === args) s.errorCount = 0;
    return undefined;
  }

  /** The shortest period whose repetition fills the window, if any. */
  #cycle(s: StallState): { period: number; repeats: number; extra: number } | undefined {
    const w = this.window;
    for (let p = 1; p < s.match.length; p++) {
      const m = s.match[p] ?? 0;
      if (m >= w - p) return { period: p, repeats: Math.floor((m + p) / p), extra: m - (w - p) };
    }
    return undefined;
  }

  #members(s: StallState, period: number): string[] {
    const w = this.window;
    const head = s.count % w;
    const out: string[] = [];
    for (let i = period; i >= 1; i--) {
      const at = (head - i + w) % w;
      out.push(describeCall(s.tools[at] ?? "", s.args[at] ?? ""));
    }
    return out;
  }

  #cycleDiagnostic(s: StallState, cycle: { period: number; repeats: number }): string {
    const members = this.#members(s, cycle.period);
    const what = cycle.period === 1 ? `the same call ${members[0]}` : `the cycle ${members.join(" → ")}`;
    return `${what} repeated ${cycle.repeats} times with the same results`;
  }

  /**
   * A resumed run (after a crash, or in another process once its approvals were decided) continues
   * its window: the run's finished calls are replayed from their events, in order, with the input
   * each was judged on and the text the guards saw (without the notes appended after), so a cycle or
   * a repeated error that began before the pause is still counted after it. Replaying notifies
   * nothing: the warnings were recorded when first given.
   */
  resumed(events: readonly ReinEvent[], context: GuardContext): undefined {
    this.#states.delete(sessionKey(context));
    const quiet: GuardContext = {
      tenantId: context.tenantId,
      sessionId: context.sessionId,
      runId: context.runId,
      turn: context.turn,
      notify: () => {},
    };
    const inputs = new Map<string, unknown>();
    for (const e of events) {
      if (e.runId !== context.runId) continue;
      // A denied call was judged on the model's input; one that ran, on the input it ran with.
      if (e.type === "tool_call_requested" || e.type === "tool_call_started")
        inputs.set(e.data.callId, e.data.input);
      else if (e.type === "tool_call_finished" && (e.data.executed || e.data.errorType !== "unknown_tool")) {
        const { tool, callId, ok, errorType, content } = e.data;
        this.afterToolCall(
          { tool: { name: tool } as Tool, callId, input: inputs.get(callId) },
          { ok, errorType, content: contentBeforeNotes(content, ok), flags: [] },
          quiet,
        );
      }
    }
    return undefined;
  }

  sessionEnded(scope: { readonly tenantId: string; readonly sessionId: string }): void {
    this.#states.delete(sessionKey(scope));
  }
}

/**
 * One instance kept for the process's life. V8 holds the shapes an instance takes as its fields are
 * set (private fields included) weakly: once every instance of a harness is collected, they go, and
 * all compiled code that read one is thrown away; the next harness's instances get new shapes, and
 * the guard's code runs unoptimized again for hundreds of calls. One live instance keeps the shapes.
 */
keepShapes(new StallDetector());
