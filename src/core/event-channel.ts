/**
 * A single-consumer async queue: the session pushes events, `stream()`'s reader pulls them.
 * The producer never waits; events buffer until read.
 */
export class EventChannel<T> implements AsyncIterable<T> {
  #buffer: T[] = [];
  #head = 0;
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #ended = false;
  readonly #onReturn: () => void;
  readonly #onSecondReader: () => never;
  #claimed = false;

  /** `onSecondReader` throws the typed error a second reader gets (one consumer, never two sharing events). */
  constructor(onReturn: () => void, onSecondReader: () => never) {
    this.#onReturn = onReturn;
    this.#onSecondReader = onSecondReader;
  }

  push(value: T): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value, done: false });
    } else this.#buffer.push(value);
  }

  end(): void {
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#claimed) return this.#onSecondReader();
    this.#claimed = true;
    return {
      next: () => {
        if (this.#head < this.#buffer.length) {
          const value = this.#buffer[this.#head++] as T;
          if (this.#head === this.#buffer.length) {
            this.#buffer = [];
            this.#head = 0;
          }
          return Promise.resolve({ value, done: false });
        }
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        const wasEnded = this.#ended;
        this.#ended = true;
        if (!wasEnded) this.#onReturn();
        this.#buffer = [];
        this.#head = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
