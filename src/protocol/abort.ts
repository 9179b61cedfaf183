import type { ErrorCode } from "./errors.js";

/** Why a signal was aborted. The loop reads `signal.reason` to turn an abort into a stop reason. */
export type AbortCause =
  | { readonly kind: "cancelled"; readonly reason: string }
  | { readonly kind: "timeout"; readonly scope: "run" | "model_call" | "tool"; readonly limitMs: number }
  | { readonly kind: "fatal"; readonly code: ErrorCode; readonly message: string };

export function isAbortCause(value: unknown): value is AbortCause {
  return typeof value === "object" && value !== null && "kind" in value;
}

export interface ScopedSignal {
  readonly signal: AbortSignal;
  /** Clears the timer and the listener on the parent. Always call it; nothing is left behind. */
  dispose(): void;
}

/**
 * A child signal that aborts with its parent, or on its own after `timeoutMs`.
 * Not `AbortSignal.any`/`AbortSignal.timeout`: those leave a listener or timer per call on a
 * long-lived parent until GC, and a 10,000-call session must not accumulate them.
 */
export function scopedSignal(
  parent: AbortSignal,
  timeoutMs: number | undefined,
  onTimeout?: () => AbortCause,
): ScopedSignal {
  const controller = new AbortController();
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, dispose() {} };
  }
  const forward = () => controller.abort(parent.reason);
  parent.addEventListener("abort", forward, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
    timer = setTimeout(
      () => controller.abort(onTimeout?.() ?? { kind: "timeout", scope: "tool", limitMs: timeoutMs }),
      timeoutMs,
    );
  }
  return {
    signal: controller.signal,
    dispose() {
      if (timer) clearTimeout(timer);
      parent.removeEventListener("abort", forward);
    },
  };
}
