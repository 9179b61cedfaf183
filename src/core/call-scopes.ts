import type { AbortCause } from "../protocol/abort.js";

/**
 * The signal of one tool or model call: it aborts when the run's signal does, or on its own after
 * the call's time limit. Obtained from `CallScopes.open`; `dispose()` it when the call ends.
 */
export class CallScope {
  readonly #controller = new AbortController();
  readonly #owner: CallScopes;
  /** Called once, right after the signal aborts: how the loop waits for "settled or aborted" without a listener. */
  onAbort: (() => void) | undefined = undefined;
  /** What the time limit aborts with, given the limit (one function for many calls: no closure per call). */
  cause: ((limitMs: number) => AbortCause) | undefined = undefined;
  /** The call's time limit, given to `cause`. */
  limitMs = 0;
  /** The call's own timer, when it ran alongside another call with the same limit (see `CallScopes`). */
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The limit's shared timer this call holds, when it holds one (released by `dispose`). */
  slot: Slot | undefined = undefined;
  disposed = false;

  constructor(owner: CallScopes) {
    this.#owner = owner;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Aborts the signal (once) and tells the waiter. */
  abort(reason: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
    this.onAbort?.();
  }

  /** Stops the time limit and forgets the scope: nothing of it is left behind. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.#owner.closed(this);
  }
}

/** One limit's re-armed timer and the call it measures now. */
interface Slot {
  readonly timer: ReturnType<typeof setTimeout>;
  owner: CallScope | undefined;
}

/**
 * The call scopes of one run: a single listener on the run's signal for all its calls, and, per
 * time limit, a single timer re-armed (`refresh`) for each call in turn, instead of a listener, a
 * timer and a timer list created and destroyed per call (`scopedSignal`). A call that starts while
 * another with the same limit is still running (concurrent read-only calls) gets its own timer.
 * Between calls the timers are unreferenced (they keep no process alive); `close()` at the end of
 * the run clears them and the listener.
 */
export class CallScopes {
  readonly #run: AbortSignal;
  /** Scopes not yet disposed: an array, not a Set (a Set's add/delete per call churns its table). */
  readonly #live: CallScope[] = [];
  readonly #slots = new Map<number, Slot>();
  #listening = false;
  readonly #onRunAbort = () => {
    const reason = this.#run.reason;
    for (const scope of this.#live.slice()) scope.abort(reason);
  };

  constructor(run: AbortSignal) {
    this.#run = run;
  }

  /** A scope that aborts with the run, or after `timeoutMs` (none when undefined or not finite) with `cause(timeoutMs)`. */
  open(timeoutMs: number | undefined, cause: (limitMs: number) => AbortCause): CallScope {
    const scope = new CallScope(this);
    if (this.#run.aborted) {
      scope.abort(this.#run.reason);
      return scope;
    }
    if (!this.#listening) {
      this.#run.addEventListener("abort", this.#onRunAbort, { once: true });
      this.#listening = true;
    }
    this.#live.push(scope);
    if (timeoutMs === undefined || !Number.isFinite(timeoutMs)) return scope;
    scope.cause = cause;
    scope.limitMs = timeoutMs;
    const slot = this.#slots.get(timeoutMs);
    if (slot === undefined) {
      const created: Slot = {
        timer: setTimeout(() => {
          const owner = created.owner;
          created.owner = undefined;
          owner?.abort(owner.cause?.(owner.limitMs));
        }, timeoutMs),
        owner: scope,
      };
      this.#slots.set(timeoutMs, created);
      scope.slot = created;
    } else if (slot.owner === undefined) {
      slot.owner = scope;
      scope.slot = slot;
      // From now, for this call (refresh re-arms it even after it fired); it keeps the process alive again.
      slot.timer.refresh();
      slot.timer.ref?.();
    } else {
      scope.timer = setTimeout(() => scope.abort(cause(timeoutMs)), timeoutMs);
    }
    return scope;
  }

  /** @internal `CallScope.dispose`. */
  closed(scope: CallScope): void {
    const live = this.#live;
    const i = live.lastIndexOf(scope);
    if (i >= 0) {
      live[i] = live[live.length - 1]!;
      live.pop();
    }
    if (scope.timer !== undefined) {
      clearTimeout(scope.timer);
      scope.timer = undefined;
      return;
    }
    // The slot it holds, found without walking the limits (one per call ending).
    const slot = scope.slot;
    if (slot === undefined) return;
    scope.slot = undefined;
    if (slot.owner !== scope) return;
    slot.owner = undefined;
    // Idle until the next call re-arms it: if it fires meanwhile it finds no owner and does nothing.
    slot.timer.unref?.();
  }

  /** The run ended: clears every timer and the listener on the run's signal. */
  close(): void {
    for (const slot of this.#slots.values()) clearTimeout(slot.timer);
    this.#slots.clear();
    for (const scope of this.#live) if (scope.timer !== undefined) clearTimeout(scope.timer);
    this.#live.length = 0;
    if (this.#listening) {
      this.#run.removeEventListener("abort", this.#onRunAbort);
      this.#listening = false;
    }
  }
}
