/**
 * A promise whose resolvers are handed over without a closure per promise: every `parkedPromise()`
 * runs the same module-level executor, which parks the resolvers here, and the caller takes them
 * right after (`takeReject()` first if it wants it, then `takeResolve()`, which clears both slots so
 * nothing is kept past the hand-over). For hot paths that make a promise per step: a
 * `new Promise((resolve) => …)` there allocates a closure and its context each time.
 *
 * @example
 * const done = parkedPromise<void>();
 * queue.push(takeResolve<void>());
 * return done;
 */
let parkedResolve: ((value: never) => void) | undefined;
let parkedReject: ((reason: unknown) => void) | undefined;

const park = (resolve: (value: never) => void, reject: (reason: unknown) => void): void => {
  parkedResolve = resolve;
  parkedReject = reject;
};

/** A new pending promise; its resolvers wait in the slots for `takeReject()` and `takeResolve()`. */
export function parkedPromise<T>(): Promise<T> {
  return new Promise<T>(park as (resolve: (value: T) => void, reject: (reason: unknown) => void) => void);
}

/** The last `parkedPromise()`'s reject (take it before `takeResolve()`, which clears the slots). */
export function takeReject(): (reason: unknown) => void {
  return parkedReject!;
}

/** The last `parkedPromise()`'s resolve; both slots are cleared. */
export function takeResolve<T>(): (value: T) => void {
  const resolve = parkedResolve as unknown as (value: T) => void;
  parkedResolve = undefined;
  parkedReject = undefined;
  return resolve;
}
