/**
 * Keeps the event loop responsive when many sessions resume at once. A thousand sessions whose model
 * answers land in the same turn of the event loop (their timers or sockets fire together) would each
 * run their step back to back — tens of milliseconds in which no timer, socket or request of the
 * process is served. A session resuming from a wait asks `admit()`: within the current slice's budget
 * it goes on at once (no promise, no cost); past it, it queues, and the queue is resumed in later
 * turns of the event loop, `budgetMs` at a time, in the order the sessions arrived. Nothing is
 * skipped or reordered within a session: a step only starts later.
 */

// Captured at load: a test's fake timers must not be able to hold the loop's own pacing.
const immediate = globalThis.setImmediate;
const nextTick = process.nextTick;

export interface PacerOptions {
  /** Work per slice of the event loop before resuming sessions waits for its next turn (default 2 ms). */
  readonly budgetMs?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

export class Pacer {
  #budgetMs: number;
  readonly #now: () => number;
  /** When the current slice started; undefined between slices. */
  #sliceStart: number | undefined = undefined;
  /** An end-of-slice turn is scheduled (it also resumes the queue). */
  #scheduled = false;
  /** Waiting resumes, oldest first from `#head` (an array and an index: no shift per resume). */
  #queue: (() => void)[] = [];
  #head = 0;
  /** Resumed in this turn: at least one per turn, however slow it is, so the queue always drains. */
  #resumedInTurn = 0;

  constructor(options: PacerOptions = {}) {
    this.#budgetMs = checkedBudget(options.budgetMs ?? 2);
    this.#now = options.now ?? performance.now.bind(performance);
  }

  /** Work per slice, in ms. @internal (tests set 0: one resume per turn, whatever the clock says). */
  get budgetMs(): number {
    return this.#budgetMs;
  }

  set budgetMs(ms: number) {
    this.#budgetMs = checkedBudget(ms);
  }

  /** Sessions waiting for a later turn of the event loop. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * `undefined`: go on now. A promise: this slice's budget is spent (or others wait already): it
   * resolves in a later turn of the event loop, after the sessions queued before it. Never rejects.
   */
  admit(): Promise<void> | undefined {
    const now = this.#now();
    if (this.#sliceStart === undefined) {
      this.#sliceStart = now;
      this.#schedule();
      return undefined;
    }
    if (this.#head === this.#queue.length && now - this.#sliceStart < this.#budgetMs) return undefined;
    return new Promise<void>((resolve) => {
      this.#queue.push(resolve);
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    immediate(this.#turn);
  }

  /** A new turn of the event loop: a new slice, in which the queue resumes until the budget is spent. */
  readonly #turn = (): void => {
    this.#scheduled = false;
    this.#sliceStart = this.#now();
    this.#resumedInTurn = 0;
    // Under lasting load the queue may never empty: drop the resumed part now and then.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#resumeNext();
  };

  /** Resumes one waiter; the next one only once everything that one started synchronously has run. */
  readonly #resumeNext = (): void => {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      // The slice ends with this turn: the next resume to ask starts a new one.
      this.#sliceStart = undefined;
      return;
    }
    if (this.#resumedInTurn > 0 && this.#now() - this.#sliceStart! >= this.#budgetMs) {
      this.#schedule();
      return;
    }
    this.#resumedInTurn++;
    const resolve = this.#queue[this.#head]!;
    this.#queue[this.#head++] = NOOP;
    resolve();
    // Queued behind the resumed session's continuation: its microtasks (and the ones they queue) all
    // run before this one, whose tick runs after the microtask queue is empty.
    queueMicrotask(this.#afterMicrotasks);
  };

  readonly #afterMicrotasks = (): void => {
    nextTick(this.#resumeNext);
  };
}

const NOOP = (): void => {};

function checkedBudget(ms: number): number {
  if (!(ms >= 0) || !Number.isFinite(ms))
    throw new RangeError(`budgetMs must be a finite number >= 0, got ${ms}`);
  return ms;
}

/** The process's pacer: the event loop is the process's, so every harness in it shares one. */
export const processPacer = new Pacer();
