import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { StoreError } from "../protocol/errors.js";

/** One Redis command: its name and arguments (a custom script by its name, see redis-scripts.ts). */
export type RedisCommand = readonly [string, ...(string | number)[]];

/** A command's reply, or the error Redis (or the connection) gave for it. */
export type RedisReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: string };

export interface BridgeOptions {
  readonly url: string;
  /** How long a command may take before it fails (ms). */
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

interface Reply {
  readonly id: number;
  readonly replies?: RedisReply[];
  readonly error?: { readonly code: string; readonly message: string };
}

/** The worker script beside this module (dist), or, when run from the sources, its built copy. */
function workerScript(): string {
  const here = fileURLToPath(new URL("./redis-worker.js", import.meta.url));
  if (existsSync(here)) return here;
  const at = here.lastIndexOf("/src/");
  const dist = at < 0 ? here : `${here.slice(0, at)}/dist/${here.slice(at + 5)}`;
  if (dist !== here && existsSync(dist)) return dist;
  throw new StoreError("REIN_STORE_FAILED", `redis-worker.js is missing beside ${here} (run npm run build).`);
}

/**
 * A Redis connection that answers synchronously. The store's interfaces are synchronous (an
 * append's order never depends on I/O timing, a reservation is refused or made before the call),
 * so ioredis runs in a worker thread and this thread waits for a command's reply on a shared flag
 * (`Atomics.wait`), as node:sqlite waits for the disk. Writes that need no answer (`post`) do not
 * wait: they go to the same worker in the same order, so a later synchronous read sees them.
 */
export class RedisBridge {
  readonly #worker: Worker;
  readonly #syncPort: MessagePort;
  readonly #flag: Int32Array;
  readonly #waitMs: number;
  readonly #pending = new Map<number, { resolve(r: Reply): void }>();
  #next = 1;
  #closed = false;
  #broken: StoreError | undefined;
  readonly url: string;

  private constructor(options: BridgeOptions) {
    this.url = options.url;
    this.#flag = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    this.#syncPort = port1;
    // A reply later than ioredis's own command timeout means the worker is stuck: fail, never hang.
    this.#waitMs = options.commandTimeoutMs + 5000;
    this.#worker = new Worker(workerScript(), {
      workerData: { ...options, flag: this.#flag, port: port2 },
      transferList: [port2],
    });
    this.#worker.on("message", (r: Reply) => this.#settle(r));
    this.#worker.on("error", (err) => this.#fail(`the Redis worker failed: ${err.message}`));
    this.#worker.on("exit", () => this.#fail("the Redis worker exited"));
    this.#worker.unref();
  }

  /** Starts the worker and connects; rejects with `REIN_STORE_UNREACHABLE` when Redis does not answer. */
  static async open(options: BridgeOptions): Promise<RedisBridge> {
    const bridge = new RedisBridge(options);
    const r = await bridge.#request({ op: "connect" });
    if (r.error) {
      await bridge.close();
      throw new StoreError(storeCode(r.error.code), r.error.message, { url: redactUrl(options.url) });
    }
    return bridge;
  }

  /** Runs the commands in one round trip (`atomic`: MULTI/EXEC) and waits for the replies. */
  call(commands: readonly RedisCommand[], atomic = false): RedisReply[] {
    this.#usable();
    const id = this.#next++;
    const before = Atomics.load(this.#flag, 0);
    this.#worker.postMessage({ id, op: "run", commands, atomic, sync: true });
    for (;;) {
      const waited = Atomics.wait(this.#flag, 0, before, this.#waitMs);
      const got = receiveMessageOnPort(this.#syncPort)?.message as Reply | undefined;
      if (got?.id === id) return this.#replies(got);
      if (waited === "timed-out") {
        this.#fail(`Redis at ${redactUrl(this.url)} did not answer within ${this.#waitMs} ms`);
        throw this.#broken as StoreError;
      }
    }
  }

  /** One command, waiting for its reply; a Redis error becomes `REIN_STORE_FAILED`. */
  one(command: RedisCommand): unknown {
    const [reply] = this.call([command]);
    if (!reply?.ok) throw this.storeError(reply?.error ?? "no reply");
    return reply.value;
  }

  /** Runs the commands without waiting; they reach Redis before any command sent after them. */
  post(commands: readonly RedisCommand[]): Promise<RedisReply[]> {
    this.#usable();
    return this.#request({ op: "run", commands, atomic: false }).then((r) => this.#replies(r));
  }

  storeError(message: string): StoreError {
    return new StoreError("REIN_STORE_FAILED", `Redis at ${redactUrl(this.url)}: ${message}`, {
      url: redactUrl(this.url),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (!this.#broken) await this.#request({ op: "quit" }).catch(() => {});
    this.#closed = true;
    await this.#worker.terminate();
  }

  #replies(r: Reply): RedisReply[] {
    if (r.error) {
      throw new StoreError(storeCode(r.error.code), r.error.message, { url: redactUrl(this.url) });
    }
    return r.replies ?? [];
  }

  #request(message: Record<string, unknown>): Promise<Reply> {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#next++;
    // Referenced while a reply is awaited: a process waiting on the store does not exit under it.
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise<Reply>((resolve) => {
      this.#pending.set(id, { resolve });
      this.#worker.postMessage({ ...message, id });
    });
  }

  #settle(r: Reply): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    if (this.#pending.size === 0) this.#worker.unref();
    p.resolve(r);
  }

  #usable(): void {
    if (this.#broken) throw this.#broken;
    if (this.#closed) throw this.storeError("the store is closed");
  }

  #fail(message: string): void {
    if (this.#closed) return;
    this.#broken ??= new StoreError("REIN_STORE_UNREACHABLE", `${message}.`, { url: redactUrl(this.url) });
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.resolve({ id, error: { code: "REIN_STORE_UNREACHABLE", message: this.#broken.message } });
    }
    this.#worker.unref();
  }
}

function storeCode(code: string): "REIN_STORE_UNREACHABLE" | "REIN_STORE_UNAVAILABLE" | "REIN_STORE_FAILED" {
  return code === "REIN_STORE_UNREACHABLE" || code === "REIN_STORE_UNAVAILABLE" ? code : "REIN_STORE_FAILED";
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an invalid URL)";
  }
}
