import { parkedPromise, takeResolve } from "../protocol/parked-promise.js";

/**
 * Cooperative time slices: a run gives the event loop back once the loop has been held for a
 * slice's budget, so timers, I/O and the other sessions of the process are served within a few ms
 * whatever one run or a burst of runs does.
 *
 * Without it, a model that answers without waiting runs a whole run without ever returning to the
 * event loop (its run timeout, an abort from a timer, every other request of the process wait for
 * it), and a thousand sessions whose model answers land in one turn of the loop (their timers or
 * sockets fire together) each run a step back to back: tens of ms in which nothing else runs.
 *
 * The loop asks {@link TimeSlice.pass} where a run resumes after a model answer (core/model-call.ts):
 * every step calls the model, so a run that never waits still asks once per step. Not at the start
 * of a step as well: what a step does before its first wait (the reservation, then the results'
 * barrier or the model call) is a few µs, and a run deferred there started that wait behind the
 * whole queue, so every step of every run added the queue's length to its critical path and the
 * waits stopped overlapping the other runs' work (1,000 sessions: 34–75 ms more per step from the
 * last tool result to the next model call, wall time 810 → 1,051 ms at the same CPU). A slice starts at the first ask after the event loop was given back (a `setImmediate`
 * marks its end); within the budget the ask answers `undefined` (one clock read, no allocation).
 * Past it, the run waits in a queue that later turns of the event loop resume, a budget's worth per
 * turn, oldest first (at least one per turn, so the queue always drains). Nothing in a run is
 * skipped or reordered: a step only starts later.
 */

// Captured at load: a test that fakes the clock (vi.useFakeTimers) must not freeze every run.
const realSetImmediate = globalThis.setImmediate;
const nextTick = process.nextTick;
const microtask = globalThis.queueMicrotask;
const now = (): number => performance.now();

/** Default budget of one slice, in ms: the longest the loop holds the event loop at once, give or take one step. */
export const DEFAULT_SLICE_MS = 1;

export class TimeSlice {
  #budgetMs: number;
  /** When the current slice started; -1 between slices. */
  #start = -1;
  /** A turn is scheduled: it ends the current slice and resumes the queue. */
  #scheduled = false;
  /** Waiting runs, oldest first from `#head` (an array and an index: no shift per resume). */
  #queue: (() => void)[] = [];
  #head = 0;
  /** Resumed in the current turn: at least one per turn, however slow, so the queue drains. */
  #resumedInTurn = 0;
  /** The last round of resumes: when it started and how many runs it resumed. */
  #roundStart = 0;
  #roundSize = 1;
  /** Estimated ms of work per resumed run (the rounds' sizes follow it). */
  #perRunMs = 0.05;
  /** Turns that resumed waiting runs (a diagnostic for tests and benchmarks). */
  #turns = 0;

  constructor(budgetMs = DEFAULT_SLICE_MS) {
    this.#budgetMs = checkedBudget(budgetMs);
  }

  /** The budget of one slice, in ms. @internal (tests set it; 0: one resume per turn of the event loop). */
  get budgetMs(): number {
    return this.#budgetMs;
  }

  set budgetMs(ms: number) {
    this.#budgetMs = checkedBudget(ms);
  }

  /** Runs waiting for a later turn of the event loop. @internal */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  /** Turns of the event loop that resumed waiting runs so far. @internal */
  get turns(): number {
    return this.#turns;
  }

  /**
   * `undefined`: go on now. A promise: the slice's budget is spent (or runs wait already); it resolves
   * in a later turn of the event loop, after the runs queued before it. Never rejects.
   */
  pass(): Promise<void> | undefined {
    if (this.#start < 0) {
      this.#start = now();
      this.#schedule();
      return undefined;
    }
    if (this.#head === this.#queue.length && now() - this.#start < this.#budgetMs) return undefined;
    // One executor for every wait (protocol/parked-promise.ts): no closure and context per waiting run.
    const waiting = parkedPromise<void>();
    this.#queue.push(takeResolve<void>());
    return waiting;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    realSetImmediate(this.#turn);
  }

  /** A turn of the event loop: the slice ends; a new one resumes the queue until its budget is spent. */
  readonly #turn = (): void => {
    this.#scheduled = false;
    if (this.#head === this.#queue.length) {
      this.#start = -1;
      return;
    }
    this.#turns++;
    this.#start = now();
    this.#resumedInTurn = 0;
    // Under lasting load the queue may never empty: drop its resumed part now and then.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#resumeNext();
  };

  /**
   * Resumes the next waiting runs, as many as the rest of the budget holds at the cost per run
   * measured so far (one in a turn's first round); the next round only once everything they started
   * synchronously has run. Rounds, not one run at a time: a round costs a microtask and a tick.
   */
  readonly #resumeNext = (): void => {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      // The slice ends when this turn does: the next ask schedules the turn that marks it.
      this.#schedule();
      return;
    }
    const t = now();
    const left = this.#budgetMs - (t - this.#start);
    let n = 1;
    if (this.#resumedInTurn > 0) {
      if (left <= 0) {
        this.#schedule();
        return;
      }
      // What the last round cost per run (a moving estimate: one slow run does not stall the queue).
      const perRun = (t - this.#roundStart) / this.#roundSize;
      this.#perRunMs = (this.#perRunMs + perRun) / 2;
      n = Math.min(MAX_ROUND, Math.max(1, Math.floor(left / this.#perRunMs)));
    }
    n = Math.min(n, this.#queue.length - this.#head);
    this.#roundStart = t;
    this.#roundSize = n;
    this.#resumedInTurn += n;
    for (let i = 0; i < n; i++) {
      const resolve = this.#queue[this.#head]!;
      this.#queue[this.#head++] = NOOP;
      resolve();
    }
    // Queued behind the resumed runs' continuations; the tick it queues runs once the microtask
    // queue is empty, so their whole synchronous cascades (and every microtask they queued) come first.
    microtask(this.#afterMicrotasks);
  };

  readonly #afterMicrotasks = (): void => {
    nextTick(this.#resumeNext);
  };
}

const NOOP = (): void => {};

/** Runs resumed in one round at most: an estimate gone wrong overshoots the budget by little. */
const MAX_ROUND = 32;

function checkedBudget(ms: number): number {
  if (!(ms >= 0) || !Number.isFinite(ms))
    throw new RangeError(`budgetMs must be a finite number >= 0, got ${ms}`);
  return ms;
}

/** The process's slices: the event loop is the process's, so every run of every harness shares them. */
export const processTimeSlice = new TimeSlice();
