import { createHash } from "node:crypto";
import { canonicalJson } from "../protocol/canonical-json.js";
import { ConfigError } from "../protocol/errors.js";
import { describeCall } from "./call-signature.js";
import type { Guard, GuardAfterVerdict, GuardCallOutcome, GuardContext, GuardToolCall } from "./guard.js";
import { sessionKey } from "./session-key.js";

/** Short texts are their own digest (exact); long ones (a file's content) are hashed to a fixed size. */
function digestOf(text: string): string {
  return text.length <= 256 ? text : createHash("sha1").update(text).digest("base64");
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
   * Ring of the last `window` steps: the call (tool and canonical arguments), whether it succeeded
   * and its result's digest, and the call as people read it. Kept apart, so nothing is concatenated
   * per call.
   */
  readonly calls: string[];
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
  /** The last error: which call, which result, how often (calls that succeed in between don't reset it). */
  errorCall: string;
  /** The last error's result digest (errors only: `ok` is implied). */
  errorDigest: string;
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
        calls: new Array<string>(this.window).fill(""),
        oks: new Uint8Array(this.window),
        results: new Array<string>(this.window).fill(""),
        tools: new Array<string>(this.window).fill(""),
        args: new Array<string>(this.window).fill(""),
        count: 0,
        match: new Int32Array(Math.floor(this.window / 2) + 1),
        warnedPeriod: 0,
        errorCall: "",
        errorDigest: "",
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
    const args = canonicalJson(call.input);
    const callKey = digestOf(args.length < 256 ? `${tool}\u0000${args}` : `${tool}\u0000${digestOf(args)}`);
    const ok = outcome.ok ? 1 : 0;
    const result = digestOf(outcome.content);
    const head = s.count % w;
    for (let p = 1; p < s.match.length; p++) {
      const at = (head - p + w) % w;
      const same = s.count >= p && s.oks[at] === ok && s.results[at] === result && s.calls[at] === callKey;
      s.match[p] = same ? (s.match[p] ?? 0) + 1 : 0;
    }
    s.calls[head] = callKey;
    s.oks[head] = ok;
    s.results[head] = result;
    s.tools[head] = tool;
    s.args[head] = args;
    s.count++;

    const sameError = this.#trackError(s, callKey, result, outcome, tool, args);
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
  #trackError(
    s: StallState,
    callKey: string,
    result: string,
    outcome: GuardCallOutcome,
    tool: string,
    args: string,
  ): "warn" | "stop" | undefined {
    if (!outcome.ok) {
      if (s.errorCount > 0 && s.errorCall === callKey && s.errorDigest === result) s.errorCount++;
      else {
        s.errorCall = callKey;
        s.errorDigest = result;
        s.errorCount = 1;
        s.errorLabel = describeCall(tool, args);
      }
      if (s.errorCount >= this.#stopAt) return "stop";
      return s.errorCount === this.#warnAt ? "warn" : undefined;
    }
    if (s.errorCall === callKey) s.errorCount = 0; // the same call now succeeds: progress
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

  sessionEnded(scope: { readonly tenantId: string; readonly sessionId: string }): void {
    this.#states.delete(sessionKey(scope));
  }
}
