import { Worker } from "node:worker_threads";

/**
 * One file's part of a batch for the writer thread: its descriptor (or -1: open `path` and check it
 * is the regular file `identity` at `size` bytes first), the bytes to append, and whether to keep
 * the descriptor open afterwards.
 */
export interface ThreadOp {
  readonly fd: number;
  readonly path: string;
  readonly identity: string;
  readonly size: number;
  readonly data: string;
  readonly keep: boolean;
}

/**
 * What the thread did for one op: `n` bytes appended, the descriptor it leaves open (-1: none), and
 * either an errno failure (`code`), or a file that is not the one expected (`bad`: nothing written).
 */
export interface ThreadResult {
  readonly fd: number;
  readonly n: number;
  readonly code?: string;
  readonly message?: string;
  readonly bad?: "not-file" | "identity" | "size";
  /** `bad: "size"`: the size found. */
  readonly found?: number;
  /** `bad: "identity"`: where the descriptor resolves (/proc/self/fd), when readable. */
  readonly link?: string;
}

interface Batch {
  readonly id: number;
  /** Descriptors to close first (idle ones evicted to make room for this batch's opens). */
  readonly close: readonly number[];
  readonly ops: readonly ThreadOp[];
}

/**
 * The thread's code, as a string (run with `eval`: no file to find beside the compiled module, the
 * same from `src/` under a test runner and from `dist/`). Synchronous calls, one batch after the
 * other: an open, fstat, write and close of a file in the page cache cost a few µs each here, where
 * each round trip through the libuv pool costs the event loop tens of µs (a submission, a wake-up, a
 * callback, a promise).
 */
const SOURCE = `
const fs = process.getBuiltinModule("node:fs");
const { parentPort } = process.getBuiltinModule("node:worker_threads");
const FLAGS = fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;
function one(op) {
  let fd = op.fd;
  let opened = false;
  let n = 0;
  try {
    if (fd < 0) {
      fd = fs.openSync(op.path, FLAGS, 0o600);
      opened = true;
      const st = fs.fstatSync(fd);
      let bad;
      if (!st.isFile()) bad = { bad: "not-file" };
      else if (st.dev + ":" + st.ino !== op.identity) {
        let link;
        try { link = fs.readlinkSync("/proc/self/fd/" + fd); } catch {}
        bad = { bad: "identity", link };
      } else if (st.size !== op.size) bad = { bad: "size", found: st.size };
      if (bad) {
        fs.closeSync(fd);
        return { fd: -1, n: 0, ...bad };
      }
    }
    const total = Buffer.byteLength(op.data);
    n = fs.writeSync(fd, op.data);
    if (n < total) {
      const bytes = Buffer.from(op.data);
      while (n < total) n += fs.writeSync(fd, bytes, n, total - n);
    }
    if (!op.keep) {
      try { fs.closeSync(fd); } catch {}
      fd = -1;
    }
    return { fd, n };
  } catch (err) {
    if (opened) {
      try { fs.closeSync(fd); } catch {}
      fd = -1;
    }
    return { fd, n, code: err && err.code, message: String(err && err.message) };
  }
}
parentPort.on("message", (batch) => {
  for (const fd of batch.close) {
    try { fs.closeSync(fd); } catch {}
  }
  parentPort.postMessage({ id: batch.id, results: batch.ops.map(one) });
});
`;

/**
 * The group-commit writer's thread: takes the turn's batch of every file beyond the event loop's
 * budget of on-the-spot writes (reopens, writes, closes) in one message, and answers in one.
 * Started on first use; it keeps the process alive only while a batch is in flight.
 */
export class CommitThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (results: readonly ThreadResult[] | Error) => void>();
  #next = 1;
  #dead: Error | undefined;

  constructor() {
    this.#worker = new Worker(SOURCE, {
      eval: true,
      name: "rein-audit-writer",
      // The descriptors are the writer's (opened here or on the main thread, closed by either): the
      // thread must not track or close them as its own.
      trackUnmanagedFds: false,
    });
    this.#worker.on("message", (m: { id: number; results: ThreadResult[] }) => {
      const done = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) this.#worker.unref();
      done?.(m.results);
    });
    const die = (err: Error) => {
      this.#dead ??= err;
      const all = [...this.#pending.values()];
      this.#pending.clear();
      for (const done of all) done(this.#dead);
    };
    this.#worker.on("error", die);
    this.#worker.on("exit", (code) => die(new Error(`the audit writer thread exited (code ${code})`)));
    this.#worker.unref();
  }

  /** False once the thread failed or exited: the writer falls back to the libuv pool. */
  get alive(): boolean {
    return this.#dead === undefined;
  }

  /** Sends one batch; `done` gets one result per op, in order, or the error that ended the thread. */
  run(
    close: readonly number[],
    ops: readonly ThreadOp[],
    done: (r: readonly ThreadResult[] | Error) => void,
  ): void {
    if (this.#dead) {
      done(this.#dead);
      return;
    }
    const id = this.#next++;
    if (this.#pending.size === 0) this.#worker.ref();
    this.#pending.set(id, done);
    const batch: Batch = { id, close, ops };
    this.#worker.postMessage(batch);
  }
}
