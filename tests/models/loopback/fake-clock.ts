import type { Clock } from "../../../src/models/gateway/clock.js";

/** A clock whose sleeps return at once and move time forward by what was asked; every sleep is recorded. */
export function fakeClock(): Clock & { readonly sleeps: number[]; advance(ms: number): void } {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    advance(ms) {
      t += ms;
    },
    sleep(ms, signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}
