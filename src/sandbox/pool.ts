import { errorMessage, SandboxError } from "../protocol/errors.js";

/** Something a pool holds: it can be made ready ahead of time and released when not handed out. */
export interface Poolable {
  dispose(): Promise<void>;
}

export interface SandboxPoolOptions<T extends Poolable> {
  /** How many ready items the pool keeps (at least 1). */
  readonly size: number;
  /**
   * Makes one item and resolves once it is ready to use (e.g. a started container, a loaded interpreter).
   * A rejection is kept and thrown by the next `acquire` that would have taken it.
   */
  readonly create: () => Promise<T>;
}

/**
 * A warm pool: keeps `size` items made ahead of time and hands each out once. `acquire()` takes a
 * ready item (or waits for the next one) and starts making its replacement in the background; the
 * pool forgets an item when it hands it out, so the caller owns it and disposes it, and no item is ever
 * handed out twice. `close()` drains the pool: it disposes every item not handed out, including those
 * still being made, and later `acquire` calls throw.
 *
 * @example
 * const pool = new SandboxPool({ size: 2, create: async () => { const s = new DockerSandbox(); await s.ready(); return s; } });
 * const sandbox = await pool.acquire(); // a started container, used by this session only
 * try { await sandbox.exec("echo hi"); } finally { await sandbox.dispose(); }
 * await pool.close();
 */
export class SandboxPool<T extends Poolable> {
  readonly size: number;
  readonly #create: () => Promise<T>;
  /** Items being made or made, oldest first; `item` is set once made. */
  readonly #slots: { readonly made: Promise<T>; item?: T }[] = [];
  #handedOut = 0;
  #closed = false;

  constructor(o: SandboxPoolOptions<T>) {
    if (!Number.isSafeInteger(o.size) || o.size < 1)
      throw new SandboxError(`A pool's size must be a positive integer, got ${o.size}.`, { size: o.size });
    this.size = o.size;
    this.#create = o.create;
    this.#refill();
  }

  /** Items made and waiting, not yet handed out. */
  get ready(): number {
    return this.#slots.filter((s) => s.item !== undefined).length;
  }

  /** How many items the pool has handed out since it was made. */
  get handedOut(): number {
    return this.#handedOut;
  }

  /** Resolves once every creation under way has settled (made or failed): the pool is as full as it gets. */
  async whenFull(): Promise<void> {
    await Promise.allSettled(this.#slots.map((s) => s.made));
  }

  /** Takes one item, for the caller alone; the pool makes another in the background. */
  async acquire(): Promise<T> {
    if (this.#closed) throw new SandboxError("This sandbox pool was closed; create a new one.");
    // A made item first, else the oldest one being made.
    const i = this.#slots.findIndex((s) => s.item !== undefined);
    const [slot] = this.#slots.splice(i === -1 ? 0 : i, 1);
    this.#handedOut++;
    this.#refill();
    return await (slot ?? this.#make()).made;
  }

  /** Drains the pool: disposes every item not handed out (also those still being made). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.made.then((item) => item.dispose()).catch(() => {})));
  }

  #refill(): void {
    while (!this.#closed && this.#slots.length < this.size) this.#slots.push(this.#make());
  }

  #make(): { readonly made: Promise<T>; item?: T } {
    let made: Promise<T>;
    try {
      made = this.#create();
    } catch (err) {
      made = Promise.reject(err);
    }
    const slot: { made: Promise<T>; item?: T } = {
      made: made.then(
        (item) => {
          slot.item = item;
          return item;
        },
        (err: unknown) => {
          throw err instanceof Error
            ? err
            : new SandboxError(`The pool could not make an item: ${errorMessage(err)}`);
        },
      ),
    };
    slot.made.catch(() => {}); // thrown by the acquire that takes it
    return slot;
  }
}
