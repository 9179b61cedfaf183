import type { ReinEvent } from "../protocol/events.js";
import type { RiskLevel } from "../protocol/risk.js";
import { keepShapes } from "../protocol/shape-keeper.js";
import type {
  Guard,
  GuardCallOutcome,
  GuardContext,
  GuardResultFlag,
  GuardToolCall,
  GuardVerdict,
} from "./guard.js";
import { sessionKey } from "./session-key.js";

export interface TaintOptions {
  /** Tools whose results are untrusted content (web, email, files outside the project). Default `"all"`. */
  readonly sources?: "all" | readonly string[];
  /** Tools whose results never taint (e.g. a calculator), even with `sources: "all"`. */
  readonly trusted?: readonly string[];
  /**
   * Calls raised while the context is tainted: `"writes"` (default) for every tool not marked
   * `readOnly` (what writes, executes or sends), or a list of tool names.
   */
  readonly sinks?: "writes" | readonly string[];
  /** Tools never raised by taint. */
  readonly exempt?: readonly string[];
  /**
   * A result flagged as a likely prompt injection (a `content_flagged` event from the injection
   * detector) taints the context whatever its tool (even a `trusted` one or one not in `sources`), and
   * raises the calls that write, execute or send to HIGH, so each needs a human's approval until the
   * next human turn. Default `true`; `false` ignores the detector's flags.
   */
  readonly flagged?: boolean;
}

interface Taint {
  readonly runId: string;
  readonly tool: string;
  readonly callId: string;
  readonly turn: number;
  /** The detector's flag when the taint comes from a detected injection (raises to HIGH). */
  readonly flag: GuardResultFlag | undefined;
  /** The raise verdicts, built once per level raised from. */
  readonly raises: Raises;
}

/** One field per level a call can be raised from, present from the start (a fixed shape). */
interface Raises {
  LOW: GuardVerdict | undefined;
  MEDIUM: GuardVerdict | undefined;
}

/**
 * A run's taint and its raise verdicts, each built by one function, so every one has the shape of
 * the one kept below (see `keepShapes`).
 */
function taintOf(
  runId: string,
  tool: string,
  callId: string,
  turn: number,
  flag: GuardResultFlag | undefined,
): Taint {
  return { runId, tool, callId, turn, flag, raises: { LOW: undefined, MEDIUM: undefined } };
}

function raiseVerdict(level: RiskLevel, reason: string): GuardVerdict {
  return Object.freeze({ action: "raise", level, reason }) as GuardVerdict;
}

/**
 * One taint and one raise verdict kept for the process's life: V8 holds object shapes weakly, and
 * the compiled code of `beforeToolCall` depends on these; without a live object of each shape, the
 * end of every harness's runs threw that code away for the next harness to compile again.
 */
keepShapes(taintOf("-", "-", "-", 0, undefined), raiseVerdict("MEDIUM", "-"));

const ONE_UP: Readonly<Record<RiskLevel, RiskLevel>> = {
  LOW: "MEDIUM",
  MEDIUM: "HIGH",
  HIGH: "HIGH",
  BLOCK: "BLOCK",
};
const ALLOW: GuardVerdict = Object.freeze({ action: "allow" });
const NO_FLAGS: readonly GuardResultFlag[] = Object.freeze([]);

/**
 * Once a result of an untrusted tool enters the context, the calls that write, execute or send are
 * raised one level (LOW → MEDIUM, MEDIUM → HIGH, so they need approval) until the next human turn (the
 * next `run()`): injected text cannot quietly act. The raise's reason names the result that caused it.
 * A result the injection detector flagged taints whatever its tool, and raises those calls to HIGH.
 *
 * @example
 * createHarness({ model, tools, guards: { taint: { sources: ["fetch_url", "read_email"] } } });
 */
export class TaintGuard implements Guard {
  readonly name = "taint";
  readonly #taints = new Map<string, Taint>();
  readonly #flagged: boolean;
  // Plain fields read by prototype methods, not closures made per guard: every harness's taint
  // guard then runs the same compiled code (a closure per instance made the call sites polymorphic).
  readonly #trusted: ReadonlySet<string>;
  /** `undefined`: every tool is a source. */
  readonly #sources: ReadonlySet<string> | undefined;
  readonly #exempt: ReadonlySet<string>;
  /** `undefined`: every tool not marked `readOnly` is a sink. */
  readonly #sinks: ReadonlySet<string> | undefined;

  constructor(options: TaintOptions = {}) {
    this.#trusted = new Set(options.trusted ?? []);
    const sources = options.sources ?? "all";
    this.#sources = sources === "all" ? undefined : new Set(sources);
    this.#flagged = options.flagged ?? true;
    this.#exempt = new Set(options.exempt ?? []);
    const sinks = options.sinks ?? "writes";
    this.#sinks = sinks === "writes" ? undefined : new Set(sinks);
  }

  #isSource(tool: string): boolean {
    return !this.#trusted.has(tool) && (this.#sources === undefined || this.#sources.has(tool));
  }

  #isSink(call: GuardToolCall): boolean {
    const tool = call.tool;
    if (this.#exempt.size > 0 && this.#exempt.has(tool.name)) return false;
    return this.#sinks === undefined ? !tool.readOnly : this.#sinks.has(tool.name);
  }

  /** Sessions currently tainted (for tests: it falls as sessions end). */
  get trackedSessions(): number {
    return this.#taints.size;
  }

  beforeToolCall(call: GuardToolCall, context: GuardContext): GuardVerdict {
    // No session tainted (most calls, and every call of a guard no result taints): no key to build.
    if (this.#taints.size === 0) return ALLOW;
    const key = sessionKey(context);
    const taint = this.#taints.get(key);
    if (!taint) return ALLOW;
    if (taint.runId !== context.runId) {
      this.#taints.delete(key); // a human turn since: the taint is cleared
      return ALLOW;
    }
    if (!this.#isSink(call)) return ALLOW;
    const from = call.risk?.level ?? "HIGH";
    const to = taint.flag ? (from === "BLOCK" ? from : "HIGH") : ONE_UP[from];
    if (to === from || to === "BLOCK" || to === "LOW") return ALLOW;
    // `from` is LOW or MEDIUM here: HIGH and BLOCK are never raised (`to === from` or BLOCK above).
    const slot = from as keyof Raises;
    let verdict = taint.raises[slot];
    if (!verdict) {
      const cause = taint.flag
        ? `a likely prompt injection was flagged in the result of ${taint.tool} (call ${taint.callId}, turn ${taint.turn}; ${taint.flag.by}, severity ${taint.flag.severity})`
        : `tainted by the result of ${taint.tool} (call ${taint.callId}, turn ${taint.turn})`;
      verdict = raiseVerdict(to, `${cause}: ${from} -> ${to} until the next human turn`);
      taint.raises[slot] = verdict;
    }
    return verdict;
  }

  afterToolCall(call: GuardToolCall, outcome: GuardCallOutcome, context: GuardContext): undefined {
    this.#observe(
      context,
      context.runId,
      call.tool.name,
      call.callId,
      context.turn,
      outcome.flags ?? NO_FLAGS,
    );
    return undefined;
  }

  /**
   * The run's taint, rebuilt from its events (the executed calls' results and their flags), so a
   * crash or a pause for a durable approval does not clear it: only a human turn does.
   */
  resumed(events: readonly ReinEvent[], context: GuardContext): undefined {
    this.#taints.delete(sessionKey(context));
    const flags = new Map<string, GuardResultFlag[]>();
    for (const e of events) {
      if (e.runId !== context.runId) continue;
      if (e.type === "content_flagged") {
        const { kind, by, severity, score } = e.data;
        flags.set(e.data.callId, [...(flags.get(e.data.callId) ?? []), { kind, by, severity, score }]);
      } else if (e.type === "tool_call_finished" && e.data.executed) {
        this.#observe(
          context,
          e.runId,
          e.data.tool,
          e.data.callId,
          e.data.turn,
          flags.get(e.data.callId) ?? [],
        );
      }
    }
    return undefined;
  }

  #observe(
    scope: { readonly tenantId: string; readonly sessionId: string },
    runId: string,
    tool: string,
    callId: string,
    turn: number,
    flags: readonly GuardResultFlag[],
  ): void {
    let flag: GuardResultFlag | undefined;
    if (this.#flagged)
      for (let i = 0; i < flags.length; i++)
        if (flags[i]!.kind === "prompt_injection") {
          flag = flags[i];
          break;
        }
    if (!flag && !this.#isSource(tool)) return;
    const key = sessionKey(scope);
    const known = this.#taints.get(key);
    const current = known?.runId === runId ? known : undefined;
    // The first untrusted result since the human turn is the one that caused the taint; a detected
    // injection outranks a plain taint (its raise is stronger), the first detected one is named.
    if (!current || (flag && !current.flag)) this.#taints.set(key, taintOf(runId, tool, callId, turn, flag));
  }

  sessionEnded(scope: { readonly tenantId: string; readonly sessionId: string }): void {
    if (this.#taints.size > 0) this.#taints.delete(sessionKey(scope));
  }
}

/**
 * One instance kept for the process's life. V8 holds the shapes an instance takes as its fields are
 * set (private fields included) weakly: once every instance of a harness is collected, they go, and
 * all compiled code that read one is thrown away; the next harness's instances get new shapes, and
 * the guard's code runs unoptimized again for hundreds of calls. One live instance keeps the shapes.
 */
keepShapes(new TaintGuard());
