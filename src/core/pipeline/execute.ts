import { type AbortCause, isAbortCause } from "../../protocol/abort.js";
import { errorMessage } from "../../protocol/errors.js";
import type { SandboxStart } from "../../protocol/events.js";
import { parkedPromise, takeResolve } from "../../protocol/parked-promise.js";
import {
  capText,
  errorOutcome,
  okOutcome,
  ToolFailure,
  type ToolOutcome,
} from "../../protocol/tool-result.js";
import type { Tool } from "../../tools/tool.js";
import type { CallScope } from "../call-scopes.js";
import type { RunContext } from "../run-context.js";

type Settled =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/**
 * Stage 5: run the tool with its timeout and the run's signal. `tool_call_started` is recorded before
 * and `tool_call_finished` after (by the caller), so a call started but never finished is visible
 * after a crash and is not blindly re-run.
 *
 * On abort (cancel, timeout) the tool is given `abortGraceMs` to stop. Only a tool that settles in
 * that time is reported `cancelled` or `timeout`; one that does not is `outcome_unknown`, and the
 * run's result lists it in `unsettledToolCalls`: Rein never says a tool stopped when it may still be
 * changing the workspace.
 */
export function executeCall(
  ctx: RunContext,
  tool: Tool,
  input: unknown,
  callId: string,
  idempotencyKey: string,
  /** Filled when the tool reports a sandboxed command (recorded on `tool_call_finished`). */
  observed: { sandbox?: SandboxStart },
): Promise<ToolOutcome> {
  const limitMs = tool.timeoutMs ?? ctx.deps.limits.toolTimeoutMs;
  const scope = ctx.scopes.open(limitMs, toolTimeout);
  const cap = ctx.deps.limits.maxToolOutputBytes;
  let running: Promise<Settled>;
  try {
    running = Promise.resolve(
      tool.execute(input, {
        signal: scope.signal,
        callId,
        idempotencyKey,
        sessionId: ctx.deps.sessionId,
        runId: ctx.runId,
        tenantId: ctx.deps.tenantId,
        turn: ctx.turn,
        // A literal, not a spread: the context is built once per call.
        sandboxStarted: (start: SandboxStart) => {
          observed.sandbox = { backend: String(start.backend), startupMs: Number(start.startupMs) };
        },
      }),
    ).then(fulfilled, rejected);
  } catch (error) {
    running = Promise.resolve({ ok: false, error });
  }
  // Not an async function: the usual end (the tool settles before any abort) costs one `then`, not
  // an async frame and its await per call. `untilAbort` never rejects; the scope is disposed on
  // every path (here, or by `stopped`).
  return untilAbort(running, scope).then((first) => {
    if (first === undefined) return stopped(ctx, tool, running, scope, limitMs, callId, cap);
    try {
      return settledOutcome(tool, first, cap);
    } finally {
      scope.dispose();
    }
  });
}

/** Aborted while running: waits (bounded) for the tool to actually stop, and says what is known. */
async function stopped(
  ctx: RunContext,
  tool: Tool,
  running: Promise<Settled>,
  scope: CallScope,
  limitMs: number,
  callId: string,
  cap: number,
): Promise<ToolOutcome> {
  try {
    const cause = scope.signal.reason;
    const after = await withinGrace(running, ctx.deps.limits.abortGraceMs);
    if (!after) {
      ctx.unsettledToolCalls.push({ callId, tool: tool.name });
      const why = describeCause(cause, limitMs);
      return errorOutcome(
        "outcome_unknown",
        `Tool "${tool.name}" was asked to stop (${why}) and had not stopped ${ctx.deps.limits.abortGraceMs} ms later; ` +
          "it may still be running and changing things, so its outcome is unknown.",
        { cause: why, graceMs: ctx.deps.limits.abortGraceMs },
      );
    }
    if (after.ok) return settledOutcome(tool, after, cap); // it finished its work after all: say what it did
    if (isAbortCause(cause) && cause.kind === "timeout" && cause.scope === "tool") {
      return errorOutcome(
        "timeout",
        `Tool "${tool.name}" did not finish within ${limitMs} ms and was aborted.`,
      );
    }
    return errorOutcome(
      "cancelled",
      `Tool "${tool.name}" was stopped because the run ended (${describeCause(cause, limitMs)}).`,
    );
  } finally {
    scope.dispose();
  }
}

/** What a tool call's time limit aborts with (one function for every call: no closure per call). */
const toolTimeout = (limitMs: number): AbortCause => ({ kind: "timeout", scope: "tool", limitMs });
const fulfilled = (value: unknown): Settled => ({ ok: true, value });
const rejected = (error: unknown): Settled => ({ ok: false, error });

function settledOutcome(tool: Tool, settled: Settled, cap: number): ToolOutcome {
  if (settled.ok) return okOutcome(settled.value, cap);
  const err = settled.error;
  if (err instanceof ToolFailure) return errorOutcome(err.type, capText(err.message, cap), err.details);
  return errorOutcome("tool_error", capText(`Tool "${tool.name}" failed: ${errorMessage(err)}`, cap));
}

function describeCause(cause: unknown, limitMs: number): string {
  if (!isAbortCause(cause)) return "aborted";
  if (cause.kind === "cancelled") return cause.reason;
  if (cause.kind === "timeout")
    return cause.scope === "tool" ? `timeout after ${limitMs} ms` : `${cause.scope} timeout`;
  return cause.kind;
}

/** The settled tool, or undefined if the scope aborted first. No listener: the scope calls back. */
function untilAbort(running: Promise<Settled>, scope: CallScope): Promise<Settled | undefined> {
  if (scope.signal.aborted) return Promise.resolve(undefined);
  // One executor for every call (protocol/parked-promise.ts): no closure per call.
  const first = parkedPromise<Settled | undefined>();
  const resolve = takeResolve<Settled | undefined>();
  // The resolver itself is the waiter (called with no value: undefined), not a closure around it.
  scope.onAbort = resolve as () => void;
  running.then(resolve);
  return first;
}

/** The settled tool, or undefined if it has not settled within `graceMs`. Leaves no timer behind. */
function withinGrace(running: Promise<Settled>, graceMs: number): Promise<Settled | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), graceMs);
    running.then((settled) => {
      clearTimeout(timer);
      resolve(settled);
    });
  });
}
