import type { AttemptLedger, ModelRequest, ModelResponse } from "../models/model.js";
import { type AbortCause, isAbortCause } from "../protocol/abort.js";
import { isNativePromise } from "../protocol/answers.js";
import { type ErrorCode, errorMessage, ReinError } from "../protocol/errors.js";
import type { AssistantMessage } from "../protocol/messages.js";
import type { StopReason } from "../protocol/stop-reason.js";
import { reservationStop } from "./budget-refusal.js";
import { estimateInputTokens, settleInputEstimate } from "./input-estimate.js";
import { beforeModelCallGuards } from "./pipeline/guards.js";
import { syncResults } from "./pipeline/tool-call.js";
import { type RunContext, systemPrompt } from "./run-context.js";
import { processTimeSlice } from "./time-slice.js";

export type ModelCallOutcome =
  | { readonly ok: true; readonly message: AssistantMessage; readonly response: ModelResponse }
  | { readonly ok: false; readonly stop: StopReason };

/** Turns an abort cause into the stop reason it means. */
export function stopFromAbort(reason: unknown): StopReason {
  if (isAbortCause(reason)) {
    if (reason.kind === "cancelled") return { type: "cancelled", reason: reason.reason };
    if (reason.kind === "fatal") return { type: "error", code: reason.code, message: reason.message };
    return {
      type: "timeout",
      scope: reason.scope === "tool" ? "run" : reason.scope,
      limitMs: reason.limitMs,
    };
  }
  return { type: "cancelled", reason: errorMessage(reason) };
}

function errorStop(err: unknown, fallbackCode: ErrorCode): StopReason {
  return err instanceof ReinError
    ? { type: "error", code: err.code, message: err.message }
    : { type: "error", code: fallbackCode, message: errorMessage(err) };
}

/** A stop before the model is called still leaves the last turn's results durable (fatal if not). */
async function stoppedBefore(ctx: RunContext, stop: StopReason): Promise<ModelCallOutcome> {
  try {
    await syncResults(ctx);
  } catch {
    // The failure has stopped the run (fatal); the stop that was found first is answered.
  }
  return { ok: false, stop };
}

/** What a model call's time limit aborts with (one function for every call: no closure per call). */
const modelCallTimeout = (limitMs: number): AbortCause => ({ kind: "timeout", scope: "model_call", limitMs });

/**
 * The request's callbacks, made once per run (at its first model call) rather than two closures per
 * call: each emits for the run's current turn, which is the call's own while it runs.
 */
function modelCallbacks(ctx: RunContext): NonNullable<RunContext["modelCallbacks"]> {
  let callbacks = ctx.modelCallbacks;
  if (callbacks === undefined) {
    callbacks = {
      onTextDelta: (delta) => ctx.emit("text_delta", { turn: ctx.turn, delta }),
      onEvent: (event) => ctx.emit(event.type, { ...event.data, turn: ctx.turn } as never),
    };
    ctx.modelCallbacks = callbacks;
  }
  return callbacks;
}

/**
 * One model call: reserve its worst-case cost, call with a timeout, settle the reservation with the
 * real usage, append the assistant message to the history (in place), and record it.
 */
export async function callModel(ctx: RunContext): Promise<ModelCallOutcome> {
  const { deps, turn, scope } = ctx;
  const { model, pricing, ledger, limits } = deps;
  const key = `${ctx.runId}:${turn}`;
  if (deps.guards.length > 0) {
    const g = beforeModelCallGuards(ctx);
    const stop = isNativePromise(g) ? await g : g;
    if (stop) return stoppedBefore(ctx, stop);
  }
  // Reserve the worst case before anything else: a ledger refusing it (a ceiling would be crossed)
  // stops the run before the model is called, and before the call is announced. A model that makes
  // several provider calls (the gateway) reserves each attempt itself, through the same ledger.
  const attempts = model.accountsAttempts ? attemptLedger(ctx, key) : undefined;
  if (!attempts) {
    const refused = reserveCall(ctx, key);
    if (refused) return stoppedBefore(ctx, refused);
  }
  // The last turn's results (and, in a store whose reserve is a transaction, the reservation with
  // them) are durable before the model sees them; a failure has stopped the run (fatal).
  if (ctx.resultsUnsynced) {
    const synced = syncResults(ctx);
    if (synced !== undefined) {
      try {
        await synced;
      } catch {
        // The failure has stopped the run (fatal): the signal is aborted.
      }
    }
    if (ctx.signal.aborted) {
      if (!attempts) ledger.release(scope, key);
      return { ok: false, stop: stopFromAbort(ctx.signal.reason) };
    }
  }

  ctx.emit("model_call_started", { turn, model: model.id });
  if (deps.hooks.beforeModelCall) {
    try {
      await deps.hooks.beforeModelCall({ turn, messages: deps.history });
    } catch (err) {
      if (!attempts) ledger.release(scope, key);
      return { ok: false, stop: hookStop("beforeModelCall", err) };
    }
  }

  const timeout = ctx.scopes.open(limits.modelCallTimeoutMs, modelCallTimeout);
  const started = performance.now();
  let response: ModelResponse;
  try {
    response = await model.generate(modelRequest(ctx, timeout.signal, attempts));
    if (timeout.signal.aborted) throw timeout.signal.reason;
    checkResponse(response);
  } catch (err) {
    if (attempts) attempts.releaseOpen();
    else ledger.release(scope, key);
    // An attempt the ledger refused was never sent: the run stops on the budget, not on the error.
    if (attempts?.refused) return { ok: false, stop: attempts.refused };
    if (timeout.signal.aborted) return { ok: false, stop: stopFromAbort(timeout.signal.reason) };
    return { ok: false, stop: errorStop(err, "REIN_MODEL_CALL_FAILED") };
  } finally {
    timeout.dispose();
  }
  // Many sessions' answers can land in one turn of the event loop (their timers or sockets fire
  // together): past the slice's budget, this one is handled in a later turn (time-slice.ts).
  const passed = processTimeSlice.pass();
  if (passed !== undefined) await passed;

  let costUsd: number;
  if (attempts) {
    attempts.releaseOpen();
    // A model that claims to account its attempts but began none is settled here (fail closed: its
    // usage is never left out of the ledger).
    if (attempts.begun === 0) attempts.begin(model.id).end(response.usage, response.model);
    costUsd = attempts.settledUsd;
  } else {
    try {
      costUsd = pricing.cost(response.model, response.usage);
    } catch (err) {
      ledger.release(scope, key);
      return { ok: false, stop: errorStop(err, "REIN_PRICE_UNKNOWN") };
    }
    ledger.settle(scope, key, { usage: response.usage, costUsd });
  }
  settleInputEstimate(deps, response.usage);
  // The audit trail opens off the event loop while the model answers (its lock, its checks): a
  // failure there stops the run here, before the answer's tool calls are handled.
  const opened = ctx.ready();
  if (opened !== undefined) {
    await opened.catch(() => {});
    if (ctx.signal.aborted) return { ok: false, stop: stopFromAbort(ctx.signal.reason) };
  }

  const message = recordAnswer(ctx, response, costUsd, started);
  if (deps.hooks.afterModelCall) {
    try {
      await deps.hooks.afterModelCall({ turn, message });
    } catch (err) {
      // The message is already in the history: stop after this step, so its tool calls still get
      // (cancelled) results and the history stays valid.
      ctx.pendingStop ??= hookStop("afterModelCall", err);
    }
  }
  return { ok: true, message, response };
}

/*
 * callModel's synchronous parts, apart: what an async function holds across its awaits is a register
 * file allocated per call, sized by everything in its body (37 registers there, 8 bytes each).
 */

/** Reserves the call's worst case; the stop when the ledger refuses it or it cannot be priced. */
function reserveCall(ctx: RunContext, key: string): StopReason | undefined {
  const { deps } = ctx;
  const { model, pricing, ledger } = deps;
  try {
    const inputTokens = estimateInputTokens(deps);
    return reservationStop(
      ledger.reserve(ctx.scope, {
        key,
        model: model.id,
        estimateUsd: pricing.worstCase(model.id, inputTokens, deps.maxTokens),
        estimateTokens: inputTokens + deps.maxTokens,
        runId: ctx.runId,
      }),
      `model call ${ctx.turn}`,
    );
  } catch (err) {
    return errorStop(err, "REIN_PRICE_UNKNOWN");
  }
}

/** The request of the run's current model call. */
function modelRequest(
  ctx: RunContext,
  signal: AbortSignal,
  attempts: ReturnType<typeof attemptLedger> | undefined,
): ModelRequest {
  const { deps } = ctx;
  const callbacks = modelCallbacks(ctx);
  let system = ctx.system;
  if (system === undefined) system = ctx.system = systemPrompt(deps) ?? null;
  const request: ModelRequest = {
    system: system ?? undefined,
    messages: deps.history,
    tools: deps.tools.specs(),
    maxTokens: deps.maxTokens,
    signal,
    onTextDelta: callbacks.onTextDelta,
    onEvent: callbacks.onEvent,
  };
  // No `...(cond ? {...} : {})` in the literal: a spread there is the slow generic path, every turn.
  return attempts ? { ...request, attempts } : request;
}

/** The answer joins the history (in place) and is recorded. */
function recordAnswer(
  ctx: RunContext,
  response: ModelResponse,
  costUsd: number,
  started: number,
): AssistantMessage {
  const { deps } = ctx;
  const message: AssistantMessage = { role: "assistant", content: response.content };
  deps.history.push(message);
  ctx.emit("model_call_finished", {
    turn: ctx.turn,
    model: response.model,
    stopReason: response.stopReason,
    usage: response.usage,
    costUsd,
    sessionCostUsd: sessionCostUsd(deps.ledger, ctx.scope),
    durationMs: performance.now() - started,
    message,
  });
  return message;
}

/** The ledger, one attempt at a time (keys `<run>:<turn>:<n>`), for a model that accounts its attempts. */
function attemptLedger(
  ctx: RunContext,
  key: string,
): AttemptLedger & {
  releaseOpen(): void;
  readonly settledUsd: number;
  readonly begun: number;
  readonly refused: StopReason | undefined;
} {
  const { ledger, pricing, maxTokens } = ctx.deps;
  const scope = ctx.scope;
  const open = new Set<string>();
  let n = 0;
  let settledUsd = 0;
  let refused: StopReason | undefined;
  return {
    begin(model) {
      const k = `${key}:${++n}`;
      const inputTokens = estimateInputTokens(ctx.deps);
      const stop = reservationStop(
        ledger.reserve(scope, {
          key: k,
          model,
          estimateUsd: pricing.worstCase(model, inputTokens, maxTokens),
          estimateTokens: inputTokens + maxTokens,
          runId: ctx.runId,
        }),
        `model call ${ctx.turn} (attempt ${n}, ${model})`,
      );
      if (stop) {
        refused ??= stop;
        // Thrown before the attempt is sent; callModel answers with `refused`, not with this error.
        throw new Error(
          stop.type === "cost_ceiling" ? (stop.diagnostic ?? "budget refused") : "ledger failed",
        );
      }
      open.add(k);
      return {
        end(usage, answeredAs = model) {
          if (!open.delete(k)) return;
          if (!usage) return ledger.release(scope, k);
          // A snapshot name the price book lacks is priced as the model that was asked (checked at createHarness).
          const costUsd = pricing.cost(pricing.find(answeredAs) ? answeredAs : model, usage);
          settledUsd += costUsd;
          ledger.settle(scope, k, { usage, costUsd });
        },
      };
    },
    releaseOpen() {
      for (const k of open) ledger.release(scope, k);
      open.clear();
    },
    get settledUsd() {
      return settledUsd;
    },
    get begun() {
      return n;
    },
    get refused() {
      return refused;
    },
  };
}

function hookStop(hook: string, err: unknown): StopReason {
  return { type: "error", code: "REIN_HOOK_FAILED", message: `${hook} hook threw: ${errorMessage(err)}` };
}

/** Checks the shape of one response (O(its own content), never the history). */
function checkResponse(response: ModelResponse): void {
  if (!response || !Array.isArray(response.content)) badResponse("content is not an array");
  if (typeof response.model !== "string" || response.model === "") badResponse("model is missing");
  const u = response.usage;
  if (
    !u ||
    !isTokenCount(u.inputTokens) ||
    !isTokenCount(u.outputTokens) ||
    !isTokenCount(u.cacheReadTokens) ||
    !isTokenCount(u.cacheWriteTokens)
  ) {
    badResponse("usage must hold four non-negative integer token counts");
  }
  const content = response.content;
  // Duplicate ids: compared pairwise among the first few calls (most answers hold one or none), a
  // Set past them.
  let ids: Set<string> | undefined;
  for (let i = 0; i < content.length; i++) {
    const block = content[i]!;
    if (block.type === "tool_use") {
      if (typeof block.id !== "string" || block.id === "" || typeof block.name !== "string")
        badResponse("a tool_use block lacks an id or name");
      if (ids === undefined && i >= PAIRWISE_IDS) {
        ids = new Set();
        for (let j = 0; j < i; j++) {
          const earlier = content[j]!;
          if (earlier.type === "tool_use") ids.add(earlier.id);
        }
      }
      if (ids !== undefined) {
        if (ids.has(block.id)) duplicateId(block.id);
        ids.add(block.id);
      } else {
        for (let j = 0; j < i; j++) {
          const earlier = content[j]!;
          if (earlier.type === "tool_use" && earlier.id === block.id) duplicateId(block.id);
        }
      }
    } else if (block.type !== "text")
      badResponse(`unexpected content block type "${(block as { type: string }).type}"`);
  }
}

/** Blocks before which duplicate ids are found by comparing pairs (at most 28 comparisons). */
const PAIRWISE_IDS = 8;

function isTokenCount(n: unknown): boolean {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function duplicateId(id: string): never {
  return badResponse(`tool_use id "${id}" appears twice`);
}

function badResponse(what: string): never {
  throw new ReinError("REIN_MODEL_RESPONSE_INVALID", `The model returned an invalid response: ${what}.`);
}

/** The session's settled spend: the ledger's own accessor (no snapshot per model call), else its totals. */
function sessionCostUsd(ledger: RunContext["deps"]["ledger"], scope: RunContext["scope"]): number {
  return typeof ledger.sessionCostUsd === "function"
    ? ledger.sessionCostUsd(scope)
    : ledger.totals(scope).costUsd;
}
