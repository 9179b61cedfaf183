import { Worker } from "node:worker_threads";

/**
 * A batch's file operations, `OP_FIELDS` numbers each in one `Float64Array` (posted by transfer: no
 * object per file is serialised): the descriptor (or -1: open the file named by the batch's next
 * `opens` pair, path then `dev:ino`, and check it is that regular file at `size` bytes first; with a
 * descriptor, `size` is not read), where the bytes to append are in the batch's buffer, and whether
 * to keep the descriptor open afterwards (1) or close it (0).
 */
export const OP_FIELDS = 5;
export const OP_FD = 0;
export const OP_START = 1;
export const OP_LENGTH = 2;
export const OP_KEEP = 3;
export const OP_SIZE = 4;

/**
 * What the thread did for one op, beyond the two numbers every op answers (the descriptor it leaves
 * open, -1 for none, and the bytes appended: `RESULT_FIELDS` per op in the reply's `Float64Array`):
 * an errno failure (`code`), or a file that is not the one expected (`bad`: nothing written). Only
 * an op that did not simply succeed has one (in the reply's `extra`, by op index).
 */
export interface ThreadResult {
  readonly code?: string;
  readonly message?: string;
  readonly bad?: "not-file" | "identity" | "size";
  /** `bad: "size"`: the size found. */
  readonly found?: number;
  /** `bad: "identity"`: where the descriptor resolves (/proc/self/fd), when readable. */
  readonly link?: string;
}
export const RESULT_FIELDS = 2;

/**
 * A trail's opening and closing steps, run by the thread with the turn's batch (each one the same
 * system calls as on the libuv pool, in one message instead of one round trip each):
 * - `lock`: the process's owner file `template` (written once, O_EXCL, when it is missing)
 *   hard-linked to `lock`; answers its `dev:ino`, or `busy` when the lock exists;
 * - `open`: the trail opened (its folder made again if it went away), its type, place (through
 *   /proc) and size found, and, when the size is `size`, its last `tail.length` bytes compared to `tail`;
 * - `unlock`: the lock removed if it is still the file `identity` (then `template`, when given);
 * - `close`: a descriptor closed;
 * - `remove`: a file removed (an owner file no lock links any more).
 */
export type ThreadJob =
  | {
      readonly kind: "lock";
      readonly lock: string;
      readonly template: string;
      readonly text: string;
      /** Once the lock is taken, the trail's `open` step in the same job (answered as `opened`). */
      readonly open?: OpenJob;
    }
  | OpenJob
  | { readonly kind: "unlock"; readonly lock: string; readonly identity: string; readonly template?: string }
  | { readonly kind: "close"; readonly fd: number }
  | { readonly kind: "remove"; readonly path: string };

/** A trail's `open` step (see `ThreadJob`). */
export interface OpenJob {
  readonly kind: "open";
  readonly path: string;
  readonly size: number;
  readonly tail: Uint8Array;
  /** False: the descriptor is closed once the checks ran (answered as fd -1 with the rest). */
  readonly keep?: boolean;
}

/** What a job did: an errno failure (`code`), or its answer. */
export interface JobResult {
  readonly code?: string;
  readonly message?: string;
  /** lock: the lock exists (held by someone). */
  readonly busy?: boolean;
  /** lock: `dev:ino` of the lock file created; open: of the trail. */
  readonly identity?: string;
  /** open: the descriptor (-1 when not a regular file, or asked not to keep it: closed). */
  readonly fd?: number;
  readonly size?: number;
  /** open: what the path is when not a regular file ("a directory", …). */
  readonly kind?: string;
  /** open: where the descriptor resolves (/proc/self/fd), when readable. */
  readonly link?: string;
  /** open: the file ends with `tail` at the expected size. */
  readonly tailOk?: boolean;
  /** lock with `open`: what the open step did, when the lock was taken. */
  readonly opened?: JobResult;
}

/** The thread's answer to one batch. */
export interface Reply {
  /** Per op: the descriptor left open (-1: none) and the bytes appended (`RESULT_FIELDS` each). */
  readonly results: Float64Array;
  /** Op index, then what went wrong, for every op that did not simply succeed (usually empty). */
  readonly extra: readonly (number | ThreadResult)[];
  readonly jobs: readonly JobResult[];
  /** The batch's bytes, handed back (transferred both ways, never copied): a failed op's rest is re-queued from them. */
  readonly data: Uint8Array;
}

interface Batch {
  readonly id: number;
  /** Every op's bytes, one after the other. */
  readonly data: Uint8Array;
  /** Descriptors to close first (idle ones evicted to make room for this batch's opens). */
  readonly close: readonly number[];
  readonly ops: Float64Array;
  /** Path and `dev:ino` of each op the thread opens (descriptor -1), in op order. */
  readonly opens: readonly string[];
  readonly jobs: readonly ThreadJob[];
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
function one(fd, path, identity, size, start, total, keep, data) {
  let opened = false;
  let n = 0;
  try {
    if (fd < 0) {
      fd = fs.openSync(path, FLAGS, 0o600);
      opened = true;
      const st = fs.fstatSync(fd);
      let bad;
      if (!st.isFile()) bad = { bad: "not-file" };
      else if (st.dev + ":" + st.ino !== identity) {
        let link;
        try { link = fs.readlinkSync("/proc/self/fd/" + fd); } catch {}
        bad = { bad: "identity", link };
      } else if (st.size !== size) bad = { bad: "size", found: st.size };
      if (bad) {
        fs.closeSync(fd);
        fd = -1;
        return bad;
      }
    }
    n = fs.writeSync(fd, data, start, total);
    while (n < total) n += fs.writeSync(fd, data, start + n, total - n);
    if (!keep) {
      try { fs.closeSync(fd); } catch {}
      fd = -1;
    }
    return undefined;
  } catch (err) {
    if (opened) {
      try { fs.closeSync(fd); } catch {}
      fd = -1;
    }
    return { code: err && err.code, message: String(err && err.message) };
  } finally {
    out[0] = fd;
    out[1] = n;
  }
}
const out = [0, 0];
function kindOf(st) {
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isDirectory()) return "a directory";
  if (st.isSocket()) return "a socket";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}
function failed(err) {
  return { code: err && err.code, message: String(err && err.message) };
}
function link(job) {
  try {
    fs.linkSync(job.template, job.lock);
    return true;
  } catch (err) {
    if (err && err.code === "EEXIST") return false;
    if (err && err.code === "ENOENT") {
      try { fs.lstatSync(job.template); } catch { return undefined; }
    }
    throw err;
  }
}
// dev:ino of each owner file this thread wrote: a lock linked to it is that file (no lstat per lock).
const owners = new Map();
function lock(job) {
  try {
    let linked = link(job);
    if (linked === undefined) {
      // The owner file is missing: written whole, then linked (a lock never exists half-written).
      const fd = fs.openSync(job.template, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
      try {
        fs.writeSync(fd, job.text);
        const st = fs.fstatSync(fd);
        owners.set(job.template, st.dev + ":" + st.ino);
      } finally {
        try { fs.closeSync(fd); } catch {}
      }
      linked = link(job);
    }
    if (!linked) return { busy: true };
    let identity = owners.get(job.template);
    if (identity === undefined) {
      const st = fs.lstatSync(job.lock);
      identity = st.dev + ":" + st.ino;
    }
    return job.open === undefined ? { identity } : { identity, opened: open(job.open) };
  } catch (err) {
    return failed(err);
  }
}
function open(job) {
  let fd = -1;
  try {
    try {
      fd = fs.openSync(job.path, FLAGS, 0o600);
    } catch (err) {
      if (!err || err.code !== "ENOENT") throw err;
      fs.mkdirSync(job.path.slice(0, job.path.lastIndexOf("/")) || "/", { recursive: true, mode: 0o700 });
      fd = fs.openSync(job.path, FLAGS, 0o600);
    }
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      fs.closeSync(fd);
      return { fd: -1, kind: kindOf(st) };
    }
    let link;
    try { link = fs.readlinkSync("/proc/self/fd/" + fd); } catch {}
    const tail = Buffer.from(job.tail.buffer, job.tail.byteOffset, job.tail.length);
    let tailOk = st.size === job.size;
    if (tailOk && tail.length > 0) {
      tailOk = false;
      if (st.size >= tail.length) {
        const buf = Buffer.alloc(tail.length);
        const n = fs.readSync(fd, buf, 0, tail.length, st.size - tail.length);
        tailOk = n === tail.length && buf.equals(tail);
      }
    }
    if (job.keep === false) {
      // Forgotten before it is closed: a failed close is never retried on a number reused since.
      const checked = fd;
      fd = -1;
      try { fs.closeSync(checked); } catch {}
    }
    return { fd, size: st.size, identity: st.dev + ":" + st.ino, link, tailOk };
  } catch (err) {
    if (fd >= 0) try { fs.closeSync(fd); } catch {}
    return failed(err);
  }
}
function unlock(job) {
  try {
    const st = fs.lstatSync(job.lock);
    if (st.dev + ":" + st.ino === job.identity) fs.unlinkSync(job.lock);
    return {};
  } catch (err) {
    return failed(err);
  } finally {
    if (job.template) {
      owners.delete(job.template);
      try { fs.unlinkSync(job.template); } catch {}
    }
  }
}
function job(j) {
  if (j.kind === "lock") return lock(j);
  if (j.kind === "open") return open(j);
  if (j.kind === "unlock") return unlock(j);
  if (j.kind === "remove") {
    owners.delete(j.path);
    try { fs.unlinkSync(j.path); return {}; } catch (err) { return failed(err); }
  }
  try { fs.closeSync(j.fd); return {}; } catch (err) { return failed(err); }
}
parentPort.on("message", (batch) => {
  for (const fd of batch.close) {
    try { fs.closeSync(fd); } catch {}
  }
  const jobs = batch.jobs.map(job);
  const ops = batch.ops;
  const count = ops.length / ${OP_FIELDS};
  const results = new Float64Array(count * ${RESULT_FIELDS});
  const extra = [];
  let opened = 0;
  for (let i = 0; i < count; i++) {
    const o = i * ${OP_FIELDS};
    const fd = ops[o + ${OP_FD}];
    let path = "";
    let identity = "";
    if (fd < 0) {
      path = batch.opens[opened++];
      identity = batch.opens[opened++];
    }
    const bad = one(fd, path, identity, ops[o + ${OP_SIZE}], ops[o + ${OP_START}], ops[o + ${OP_LENGTH}], ops[o + ${OP_KEEP}] === 1, batch.data);
    results[i * ${RESULT_FIELDS}] = out[0];
    results[i * ${RESULT_FIELDS} + 1] = out[1];
    if (bad !== undefined) extra.push(i, bad);
  }
  // The numbers and the bytes go back by transfer: nothing per op is serialised.
  parentPort.postMessage({ id: batch.id, results, extra, jobs, data: batch.data }, [results.buffer, batch.data.buffer]);
});
`;

/**
 * The group-commit writer's thread: takes the turn's batch of every file beyond the event loop's
 * budget of on-the-spot writes (reopens, writes, closes) in one message, and answers in one.
 * Started on first use; it keeps the process alive only while a batch is in flight.
 */
export class CommitThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (results: Reply | Error) => void>();
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
    this.#worker.on("message", (m: Reply & { id: number }) => {
      const done = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) this.#worker.unref();
      done?.(m);
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

  /**
   * Sends one batch (`data`: the ops' bytes, in a buffer of its own, and `ops`: transferred, so
   * neither can be used until `done` gets `data` back); `done` gets one result per op and per job,
   * in order, or the error that ended the thread.
   */
  run(
    data: Uint8Array,
    close: readonly number[],
    ops: Float64Array,
    opens: readonly string[],
    jobs: readonly ThreadJob[],
    done: (r: Reply | Error) => void,
  ): void {
    if (this.#dead) {
      done(this.#dead);
      return;
    }
    const id = this.#next++;
    if (this.#pending.size === 0) this.#worker.ref();
    this.#pending.set(id, done);
    const batch: Batch = { id, data, close, ops, opens, jobs };
    this.#worker.postMessage(batch, [data.buffer as ArrayBuffer, ops.buffer as ArrayBuffer]);
  }
}
