import { SandboxError } from "../protocol/errors.js";

export interface WarmPoolOptions<T> {
  /** How many warm items to keep ready (0 disables the pool: every acquire makes one). */
  readonly size: number;
  /**
   * Makes one item and resolves once it is warm (ready to be handed out): a started container, a
   * loaded interpreter. `signal` aborts when the pool drains: stop warming and reject, so a drain does
   * not wait for a slow start. A rejection is thrown by the acquire that takes the item.
   */
  create(signal: AbortSignal): Promise<T>;
  /** Releases an item that will never be handed out (drain, or a stale item). `drain` waits for it. */
  destroy(item: T): void | Promise<void>;
  /** Whether a warm item may still be handed out (e.g. the workspace did not change under it). */
  usable?(item: T): boolean | Promise<boolean>;
}

/**
 * The one warm pool of every sandbox backend (Docker and gVisor containers, Pyodide interpreters):
 * items made ahead of time so a caller does not wait for a cold start. An item is handed out once and
 * never comes back: there is no release, so nothing one caller ran in can reach another; the caller
 * owns what it acquired. Each acquire starts a refill in the background; after a failed creation the
 * pool waits for the next acquire rather than retrying a broken setup. `drain` destroys what is ready
 * and what is still being made, stops refilling, and makes later acquires throw.
 *
 * @example
 * const pool = new WarmPool({ size: 2, create: () => startInterpreter(), destroy: (i) => i.kill() });
 * void pool.fill();
 * const interpreter = await pool.acquire(); // ready now if the pool was warm
 * await pool.drain();
 */
export class WarmPool<T> {
  readonly size: number;
  readonly #o: WarmPoolOptions<T>;
  readonly #ready: T[] = [];
  /** Items being made, in order; an acquire with nothing ready takes the oldest. */
  readonly #making: Promise<T>[] = [];
  /** Destructions under way: `drain` resolves only once they are done. */
  readonly #destroying = new Set<Promise<void>>();
  #drained = false;
  readonly #draining = new AbortController();
  #failures = 0;
  #handedOut = 0;

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

  /** How many items the pool has handed out. */
  get handedOut(): number {
    return this.#handedOut;
  }

  /** Starts warming up to `size` items; resolves when they are all ready, rejects if one failed. */
  async fill(): Promise<void> {
    this.#refill();
    await Promise.all([...this.#making]);
  }

  /** A warm item, or one made now when none is ready. Never the same item twice. */
  async acquire(): Promise<T> {
    for (;;) {
      this.#checkOpen();
      // A failure stopped refilling; this acquire is the retry.
      this.#failures = 0;
      const item = this.#ready.shift() ?? (await this.#takeMaking());
      this.#refill();
      if (!this.#o.usable || (await this.#o.usable(item))) {
        if (this.#drained) {
          this.#destroy(item);
          this.#checkOpen();
        }
        this.#handedOut++;
        return item;
      }
      this.#destroy(item);
    }
  }

  /** Destroys every ready item and every item still warming; later acquires throw. Idempotent. */
  async drain(): Promise<void> {
    this.#drained = true;
    this.#draining.abort();
    for (const item of this.#ready.splice(0)) this.#destroy(item);
    // Each one still warming is destroyed as it becomes ready (see #make).
    await Promise.allSettled([...this.#making]);
    await Promise.allSettled([...this.#destroying]);
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
    let created: Promise<T>;
    try {
      created = this.#o.create(this.#draining.signal);
    } catch (err) {
      created = Promise.reject(err);
    }
    const p = created.then(
      (item) => {
        const i = this.#making.indexOf(p);
        // Still queued: it goes to the ready list. Already taken by an acquire: that acquire gets it.
        if (pooled && i >= 0) {
          this.#making.splice(i, 1);
          if (this.#drained) this.#destroy(item);
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

  #destroy(item: T): void {
    const done: Promise<void> = Promise.resolve()
      .then(() => this.#o.destroy(item))
      .catch(() => {})
      .finally(() => this.#destroying.delete(done));
    this.#destroying.add(done);
  }

  #checkOpen(): void {
    if (this.#drained) throw new SandboxError("The warm pool was drained; no more items are handed out.");
  }
}
