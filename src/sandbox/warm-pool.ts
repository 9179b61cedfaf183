import { SandboxError } from "../protocol/errors.js";

export interface WarmPoolOptions<T> {
  /** How many warm items to keep ready (0 disables the pool: every acquire makes one). */
  readonly size: number;
  /**
   * Makes one item and resolves once it is warm (ready to be handed out). `signal` aborts when the
   * pool drains: stop warming and reject, so a drain does not wait for a slow start.
   */
  create(signal: AbortSignal): Promise<T>;
  /** Releases an item that will never be handed out (drain, or a stale item). Must not throw. */
  destroy(item: T): void;
  /** Whether a warm item may still be handed out (e.g. the workspace did not change under it). */
  usable?(item: T): boolean | Promise<boolean>;
}

/**
 * Pre-warmed items (Pyodide interpreters, containers) kept ready so a caller does not wait for a cold
 * start. An item is handed out once and never comes back: there is no release, so nothing one caller
 * ran in can reach another. Each acquire starts a refill in the background; `drain` destroys what is
 * ready, stops refilling, and makes later acquires throw.
 *
 * @example
 * const pool = new WarmPool({ size: 2, create: startInterpreter, destroy: (i) => i.kill() });
 * const interpreter = await pool.acquire(); // ready now if the pool was warm
 * await pool.drain();
 */
export class WarmPool<T> {
  readonly size: number;
  readonly #o: WarmPoolOptions<T>;
  readonly #ready: T[] = [];
  /** Items being made, in order; an acquire with nothing ready takes the oldest. */
  readonly #making: Promise<T>[] = [];
  #drained = false;
  readonly #draining = new AbortController();
  #failures = 0;

  constructor(options: WarmPoolOptions<T>) {
    if (!Number.isSafeInteger(options.size) || options.size < 0)
      throw new SandboxError(`pool size must be a non-negative integer, got ${options.size}.`, {
        size: options.size,
      });
    this.size = options.size;
    this.#o = options;
  }

  /** Items warm and waiting. */
  get ready(): number {
    return this.#ready.length;
  }

  /** Items being warmed now. */
  get warming(): number {
    return this.#making.length;
  }

  /** Starts warming up to `size` items; resolves when they are all ready (or one failed). */
  async fill(): Promise<void> {
    this.#refill();
    await Promise.all([...this.#making]);
  }

  /** A warm item, or one made now when none is ready. Never the same item twice. */
  async acquire(): Promise<T> {
    for (;;) {
      this.#checkOpen();
      const item = this.#ready.shift() ?? (await this.#takeMaking());
      this.#refill();
      if (!this.#o.usable || (await this.#o.usable(item))) {
        if (this.#drained) {
          this.#o.destroy(item);
          this.#checkOpen();
        }
        return item;
      }
      this.#o.destroy(item);
    }
  }

  /** Destroys every ready item and every item still warming; later acquires throw. Idempotent. */
  async drain(): Promise<void> {
    this.#drained = true;
    this.#draining.abort();
    for (const item of this.#ready.splice(0)) this.#o.destroy(item);
    // Each one still warming is destroyed as it becomes ready (see #make).
    await Promise.allSettled([...this.#making]);
  }

  async #takeMaking(): Promise<T> {
    const p = this.#making.shift() ?? this.#make(false);
    return await p;
  }

  #refill(): void {
    // After a failure, wait for the next acquire to try again rather than spinning on a broken setup.
    if (this.#drained || this.#failures > 0) return;
    while (this.#ready.length + this.#making.length < this.size) this.#making.push(this.#make(true));
  }

  #make(pooled: boolean): Promise<T> {
    const p = this.#o.create(this.#draining.signal).then(
      (item) => {
        this.#failures = 0;
        if (!pooled) return item;
        const i = this.#making.indexOf(p);
        // Still queued: it goes to the ready list. Already taken by an acquire: that acquire gets it.
        if (i >= 0) {
          this.#making.splice(i, 1);
          if (this.#drained) this.#o.destroy(item);
          else this.#ready.push(item);
        }
        return item;
      },
      (err: unknown) => {
        this.#failures++;
        const i = this.#making.indexOf(p);
        if (i >= 0) this.#making.splice(i, 1);
        throw err;
      },
    );
    // A background refill nobody waits for must not become an unhandled rejection.
    p.catch(() => {});
    return p;
  }

  #checkOpen(): void {
    if (this.#drained) throw new SandboxError("The warm pool was drained; no more items are handed out.");
  }
}
