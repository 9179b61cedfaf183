import { z } from "zod/v4";
import { errorMessage } from "../protocol/errors.js";
import type { ApprovalDecision, ApprovalGate, ApprovalRequest, ToolCallShape } from "./approval-gate.js";

/** What a callback may answer. Only `true` and `{ approve: true }` approve; anything else denies. */
export type CallbackAnswer =
  | boolean
  | { readonly approve: true; readonly reason?: string }
  | { readonly approve: false; readonly reason?: string };

/**
 * The answers that approve, exactly. Strict: `{ approve: true, scope: "session" }` is not an
 * approval this gate understands, so it denies rather than guess.
 */
const approval = z.union([
  z.literal(true),
  z.strictObject({ approve: z.literal(true), reason: z.string().optional() }),
]);
/** A well-formed refusal, whose reason (if any) is passed on. */
const refusal = z.union([
  z.literal(false),
  z.strictObject({ approve: z.literal(false), reason: z.string().optional() }),
]);

/**
 * An approval gate that asks a function of yours. It approves ONLY on boolean `true` or
 * `{ approve: true }` (optionally with a reason); every other answer (`"yes"`, `1`, `{}`,
 * `{ approve: "true" }`, `undefined`, a throw) denies, with a reason that says what was received.
 * The answer may be a promise or any thenable: it is awaited, then validated. The signal aborts on
 * the approval timeout or when the run stops; the gate then stops waiting and rejects with its reason.
 *
 * @example
 * const gate = callbackGate(async (req) =>
 *   req.tool === "delete_file" ? { approve: false, reason: "no deletes today" } : true,
 * );
 */
export function callbackGate<C extends ToolCallShape = ToolCallShape>(
  decide: (request: ApprovalRequest<C>, signal: AbortSignal) => CallbackAnswer | PromiseLike<CallbackAnswer>,
  name = "callback",
): ApprovalGate<C> {
  return {
    name,
    async decide(request: ApprovalRequest<C>, signal: AbortSignal): Promise<ApprovalDecision> {
      const answer = await untilAborted(() => decide(request, signal), signal);
      return judge(answer, name);
    },
  };
}

/** Settles with the callback's awaited answer, or rejects with `signal.reason` once it aborts. */
function untilAborted(ask: () => unknown, signal: AbortSignal | undefined): Promise<unknown> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = (): void => signal?.removeEventListener("abort", onAbort);
    // Resolving a promise with a value adopts it if it is a thenable (calling its `then` properly);
    // a `then` getter or method that throws rejects. The settled value is validated afterwards.
    // A callback that throws or rejects makes the gate reject: the pipeline denies ("gate failed").
    new Promise((inner) => inner(ask())).then(
      (value) => {
        done();
        resolve(value);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}

function judge(answer: unknown, by: string): ApprovalDecision {
  try {
    if (approval.safeParse(answer).success) return { outcome: "approved", by, scope: "once" };
    const refused = refusal.safeParse(answer);
    if (refused.success) {
      const reason = refused.data === false ? undefined : refused.data.reason;
      return { outcome: "denied", by, reason: reason || "denied by the approval callback" };
    }
    return {
      outcome: "denied",
      by,
      reason: `the approval callback answered ${describe(answer)}; only true or { approve: true } approves (fail closed)`,
    };
  } catch (err) {
    // A getter or proxy that throws while being read.
    return {
      outcome: "denied",
      by,
      reason: `the approval callback's answer could not be read: ${errorMessage(err)} (fail closed)`,
    };
  }
}

/** A short, safe description of any value: `the string "yes"`, `the number 1`, `{"approve":"true"}`. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing (undefined)";
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(clip(value))}`;
    case "number":
    case "bigint":
      return `the number ${String(value)}`;
    case "boolean":
      return String(value);
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return `${Array.isArray(value) ? "the array" : "the object"} ${clip(json)}`;
  } catch {
    // cyclic, a BigInt inside, a throwing toJSON: fall through
  }
  return Array.isArray(value) ? "an array" : "an object";
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
