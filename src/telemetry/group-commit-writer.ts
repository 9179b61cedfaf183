import { close, constants, readlink, write, writeSync, writevSync } from "node:fs";
import { AuditError, errorMessage } from "../protocol/errors.js";
import { parkedPromise, takeReject, takeResolve } from "../protocol/parked-promise.js";
import {
  CommitThread,
  type JobResult,
  OP_FD,
  OP_FIELDS,
  OP_KEEP,
  OP_LENGTH,
  OP_SIZE,
  OP_START,
  RESULT_FIELDS,
  type Reply,
  type ThreadJob,
  type ThreadResult,
} from "./commit-thread.js";
import { fstatFd, openFd } from "./fs-calls.js";

/**
 * Descriptors the shared writer keeps open at most (idle ones are closed first when it needs
 * another): a quarter of the common `ulimit -n` of 1024, so sockets and the rest keep room.
 */
export const DEFAULT_MAX_OPEN_FILES = 256;
/** Attempts for a transient failure (EMFILE, ENFILE, EAGAIN, EINTR, ENOSPC, EIO) before the file's writers fail. */
const MAX_ATTEMPTS = 8;
const FIRST_BACKOFF_MS = 5;
/**
 * The real timers, taken when this module loads: the writer is I/O, and a test that fakes the
 * clock (vi.useFakeTimers) must not freeze every audit trail's writes.
 */
const realSetImmediate = globalThis.setImmediate;
const realSetTimeout = globalThis.setTimeout;
const RETRIED = new Set(["EMFILE", "ENFILE", "EAGAIN", "EINTR", "ENOSPC", "EIO", "EBUSY", "ENOMEM"]);

/**
 * Files and jobs the thread answered that are settled per turn of the event loop: each resumes a
 * session's step (~0.1 ms of work), so one turn holds the loop for a few ms at most, not for every
 * session of the batch.
 */
const SETTLE_PER_TURN = 64;
/**
 * The event loop's time one turn of settling may take, in ms, what the resumed sessions did
 * included (each resumes up to its next wait: a tool run, its records, the next model call): a
 * count alone let 64 sessions' steps hold the loop for 5–10 ms at once. At least one per turn.
 */
const SETTLE_BUDGET_MS = 1;
const microtask = globalThis.queueMicrotask;
const nextTick = process.nextTick;
/** The end of a batch's answers in the settling queue. */
const BATCH_END = Object.freeze({ end: true as const });
/** One settled promise for every barrier already passed (awaiting it costs no allocation). */
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * With the writer's thread, a file's idle descriptor is closed to give its slot to another file only
 * once it was not used for this long (ms). Sessions write every few tens of ms (each waits for its
 * model between two records): with more of them than slots, closing the least recently used one for
 * each open made every write an open, a check, a write and a close (the next file to be written was
 * always the one closed longest ago). Files beyond the slots are written through the slot the thread
 * keeps for that, opened and closed in turn; those holding a slot keep it while they are written.
 */
export const DEFAULT_EVICT_IDLE_MS = 1000;

/** Default of `threadFrom`. */
export const DEFAULT_THREAD_FROM = 8;

/**
 * Default of `syncWritesPerTick`: as many as the files and jobs settled per turn. Each write costs a
 * few µs, so a turn holds the event loop for well under a millisecond; a smaller budget made a lone
 * session in a tight loop yield to the event loop every few calls (each yield cost more CPU than
 * the writes it spread out, see bench/hardening-cost.ts).
 */
export const DEFAULT_SYNC_WRITES_PER_TICK = 64;

export interface GroupCommitWriterOptions {
  /** Descriptors open at most, whatever the number of files (default 256). */
  readonly maxOpenFiles?: number;
  /**
   * Writes per event-loop turn that a `sync()` may do on the spot, with `writeSync` on a descriptor
   * already open (default 64; 0: never). A write to the page cache takes a few µs on the event loop,
   * where a round trip through the libuv pool costs ~20 µs of CPU: a lone session pays the cheap
   * one, while many sessions exhaust the budget at once and share one asynchronous batch per turn,
   * so the event loop never blocks for more than this many small writes per turn.
   */
  readonly syncWritesPerTick?: number;
  /**
   * Whatever the turn's budget leaves over goes, as one batch across all files, to a writer thread
   * (default true): one message per turn instead of one to four libuv round trips per file (open,
   * check, write, close), which cost the event loop tens of µs each once hundreds of files share
   * the bounded descriptors. False: the libuv pool, file by file. A failure in the thread falls back
   * to the pool (retries, typed errors).
   */
  readonly writerThread?: boolean;
  /**
   * Trails opening at once from which the opening steps (lock, open, checks) start the thread
   * (default 8; 0: at once). Starting it costs ~45 ms of CPU and ~19 MB once per process, more than
   * the libuv round trips of a few sessions: a lone session (a CLI run) never pays it; many
   * concurrent sessions, or a batch that outruns the turn's budget of on-the-spot writes, do.
   */
  readonly threadFrom?: number;
  /**
   * With the writer's thread, how long (ms) a file's descriptor must have been idle before it is
   * closed to give its slot to another file (default 1000): files beyond the slots are written
   * through the thread's transient slot meanwhile. 0: the least recently used idle one at once.
   */
  readonly evictIdleMs?: number;
}

/**
 * What the writer checks each time it opens the file: the file it expects (a regular file, the
 * inode it first opened, the size it last left) so a file swapped, cut or written by someone else
 * between two batches is an error, not a silent append.
 */
export interface CommitFileOptions {
  /** The path as the user gave it (for messages). */
  readonly display: string;
  /** The path with its directory resolved: the descriptor must resolve to it (checked through /proc). */
  readonly realFile: string;
  /** Bytes the file holds now (what this writer's first batch appends to). */
  readonly size: number;
  /** A descriptor the owner opened and checked (O_APPEND): the writer owns it from here on. */
  readonly fd: number;
  /** `dev:ino` of that descriptor's file: every reopen must find the same file. */
  readonly identity: string;
}

/**
 * What `prepare` of a `PreparedFileOptions` gives: the file opened and checked by its owner; `fd`
 * -1 when it was asked not to keep the descriptor (no slot was free: see `PreparedFileOptions.prepare`).
 */
export interface PreparedFile {
  readonly size: number;
  readonly fd: number;
  readonly identity: string;
}

/**
 * A file its owner opens asynchronously (taking a lock, checking what the file holds) when the
 * writer first needs it, inside the bound on open descriptors: nothing blocks the event loop, and
 * lines appended meanwhile wait in the queue. A `prepare` that rejects fails the file like a write.
 */
export interface PreparedFileOptions {
  readonly display: string;
  readonly realFile: string;
  /**
   * `keep` false: every descriptor slot is held by a file written recently, so the owner checks the
   * file and closes it again (answering `fd` -1); the writer's thread then reopens it, checked, for
   * each batch through the slot it keeps for that (see `GroupCommitWriter`), and gives it a slot of
   * its own once one is free.
   */
  readonly prepare: (keep: boolean) => Promise<PreparedFile>;
}

/** What one turn sends the writer thread. */
interface Batch {
  /** Idle descriptors evicted for this batch's opens: the thread closes them first. */
  readonly close: number[];
  readonly sent: Sent[];
  /** The batch holds one slot for its transient opens. */
  transient: boolean;
  /** Every file's queued bytes, in order (copied into `data`, one buffer, when the batch is sent). */
  readonly parts: Uint8Array[];
  bytes: number;
  /** The batch's bytes, each op's at `start`, `length` (set when sent). */
  data: Uint8Array | undefined;
}

/** One file's entry in a batch sent to the writer thread (encoded as numbers when the batch is sent). */
interface Sent {
  readonly f: CommitFile;
  /** The thread opens it (a slot was taken for it). */
  readonly opens: boolean;
  /** `appended` when the batch was taken: what counts as written once the thread wrote it. */
  readonly upTo: number;
  /** The descriptor it is written through (-1: the thread opens `f`'s file, checked, first). */
  readonly fd: number;
  /** Where its bytes are in the batch's buffer. */
  readonly start: number;
  readonly length: number;
  /** The thread keeps the descriptor open afterwards. */
  readonly keep: boolean;
  /** The batch it went with (its `data` holds the op's bytes). */
  readonly batch: Batch;
  /** What the thread answered: the descriptor it left open (-1: none) and the bytes it appended. */
  resultFd: number;
  written: number;
}

/** A job waiting for the thread's answer. */
interface PendingJob {
  readonly job: ThreadJob;
  readonly resolve: (r: JobResult) => void;
  readonly reject: (err: unknown) => void;
}

/** What an answer of the thread settles: a file's part of a batch, a job, or the batch's end. */
type Settling = Sent | PendingJob | typeof BATCH_END;

interface Waiter {
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * One file's queue in the shared writer: what its owner appended and what reached the kernel.
 * Obtained from `GroupCommitWriter.file()`.
 */
export class CommitFile {
  readonly #writer: GroupCommitWriter;
  readonly options: CommitFileOptions | PreparedFileOptions;
  /** The owner's asynchronous open, until it ran (then undefined). */
  prepare: ((keep: boolean) => Promise<PreparedFile>) | undefined;
  /** Settles once `prepare` ran (or failed): what sync() waits for before anything is appended. */
  ready: Promise<void> | undefined;
  /**
   * Bytes appended and not yet handed to write(2), in order: each chunk one or more whole lines
   * (adjacent lines in memory are merged into one chunk), or the rest of a short write.
   */
  chunks: Uint8Array[] = [];
  /** Bytes in `chunks`: counted as they are appended, never recounted. */
  pendingBytes = 0;
  appended = 0;
  /** Lines `sync()` waits for: every line but those appended with `appendLater` since the last `append`. */
  required = 0;
  written = 0;
  size: number;
  fd: number | undefined;
  /** dev:ino of the file first opened: a reopen must find the same file. */
  identity = "";
  busy = false;
  waiters: Waiter[] = [];
  failure: AuditError | undefined;
  released = false;
  /** release() started: the batch that writes the last lines closes the descriptor (no close of its own). */
  closing = false;
  /** Called once the descriptor is closed (release() waits for it). */
  closedWaiters: (() => void)[] = [];
  /** Last use (the writer's clock, ms), for closing an idle descriptor not used for a while. */
  used = 0;

  constructor(writer: GroupCommitWriter, options: CommitFileOptions | PreparedFileOptions) {
    this.#writer = writer;
    this.options = options;
    this.size = "prepare" in options ? 0 : options.size;
    this.prepare = "prepare" in options ? options.prepare : undefined;
  }

  /**
   * Queues `line` (one or more whole lines; a string is written as UTF-8); written with every other
   * file's lines at the next tick. The bytes are the caller's and must not change afterwards.
   */
  append(line: Uint8Array | string): void {
    if (this.failure) throw this.failure;
    if (this.released) throw new Error(`internal: append to released commit file ${this.options.display}`);
    this.#queue(line);
    this.required = ++this.appended;
    this.#writer.schedule(this);
  }

  /**
   * Queues `line` like `append`, but `sync()` does not wait for it: it is written, in order, with
   * the next line that is waited for (one write for both), or with the writer's next batch (the next
   * turn of the event loop) at the latest, or on `release()`. For a record that must reach the file
   * soon but not before the caller goes on (a finished call's record; the next call's intent, which
   * must be durable before that call runs, carries it).
   */
  appendLater(line: Uint8Array | string): void {
    if (this.failure) throw this.failure;
    if (this.released) throw new Error(`internal: append to released commit file ${this.options.display}`);
    this.#queue(line);
    this.appended++;
    this.#writer.schedule(this);
  }

  #queue(line: Uint8Array | string): void {
    const bytes = typeof line === "string" ? Buffer.from(line) : line;
    if (bytes.length === 0) return;
    const chunks = this.chunks;
    const last = chunks.length > 0 ? chunks[chunks.length - 1]! : undefined;
    // The line right after the last one in memory (lines carved one after the other from one
    // buffer): one chunk, so the usual batch is one write of one buffer, not a writev of several.
    if (
      last !== undefined &&
      last.buffer === bytes.buffer &&
      last.byteOffset + last.length === bytes.byteOffset
    )
      chunks[chunks.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + bytes.length);
    else chunks.push(bytes);
    this.pendingBytes += bytes.length;
  }

  /** Takes the queue as one buffer (a copy when it is several chunks), leaving the queue empty. */
  takeBytes(): Uint8Array {
    const chunks = this.chunks;
    const data = chunks.length === 1 ? chunks[0]! : concatBytes(chunks, this.pendingBytes);
    this.chunks = [];
    this.pendingBytes = 0;
    return data;
  }

  /** Puts bytes that were taken and not written back in front of the queue. */
  putBack(rest: Uint8Array): void {
    if (rest.length === 0) return;
    this.chunks.unshift(rest);
    this.pendingBytes += rest.length;
  }

  /** Drops the first `n` bytes of the queue (written by a short write). */
  dropWritten(n: number): void {
    const chunks = this.chunks;
    let left = n;
    let i = 0;
    while (i < chunks.length && left >= chunks[i]!.length) left -= chunks[i++]!.length;
    const rest = chunks.slice(i);
    if (left > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(left);
    this.chunks = rest;
    this.pendingBytes -= n;
  }

  /** From now on `sync()` waits for every line appended so far, those appended with `appendLater` included. */
  requireAll(): void {
    this.required = this.appended;
  }

  /**
   * Resolves once every line appended so far with `append` (and every line before it) was written
   * (write(2) returned: in the kernel, so it survives a crash of this process; not fsync'ed, so not a
   * power loss); lines appended with `appendLater` after the last `append` are not waited for. Rejects with the file's
   * `AuditError` when it cannot be written.
   */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    // Not open yet: the owner's checks (its lock, what the file holds) pass before anything counts as written.
    if (this.ready !== undefined) return this.ready.then(() => this.sync());
    if (this.written >= this.required) return RESOLVED;
    if (this.#writer.writeNow(this)) return RESOLVED;
    // Its resolvers handed over without a closure (one barrier per tool call of every session).
    const done = parkedPromise<void>();
    const reject = takeReject();
    this.waiters.push({ upTo: this.required, resolve: takeResolve<void>(), reject });
    return done;
  }

  /** Resolves once the owner's `prepare` ran (at once for a file given a descriptor); rejects with the file's failure. */
  opened(): Promise<void> {
    if (this.ready !== undefined) return this.ready.then(() => this.opened());
    return this.failure ? Promise.reject(this.failure) : Promise.resolve();
  }

  /** Waits for the queue to drain, then closes the descriptor and forgets the file. */
  async release(): Promise<void> {
    try {
      // Everything, the lines appended with appendLater included.
      this.requireAll();
      this.closing = true;
      await this.sync();
    } finally {
      this.released = true;
      // The descriptor is closed when release() resolves: nothing of this file stays open.
      await this.#writer.forget(this);
    }
  }
}

/**
 * Group commit for append-only files (the audit trails): every file's lines appended during one
 * tick of the event loop are written in one `write` per file: on the spot with `writeSync` while
 * the turn's budget (`syncWritesPerTick`) lasts, else on the libuv pool, so the event loop never
 * blocks for more than that many small writes per turn; and through a bounded set of descriptors, so the number of
 * open files does not grow with the number of sessions. A transient failure (EMFILE, ENOSPC, EIO,
 * …) is retried with backoff; a lasting one fails that file's owner with `REIN_AUDIT_WRITE_FAILED`.
 *
 * @example
 * const writer = sharedGroupCommitWriter();
 * const f = writer.file({ display: "a.jsonl", realFile: "/tmp/a.jsonl", size: 0 });
 * f.append('{"n":1}\n');
 * await f.sync(); // written
 * await f.release();
 */
export class GroupCommitWriter {
  readonly maxOpenFiles: number;
  readonly syncWritesPerTick: number;
  #useThread: boolean;
  readonly #threadFrom: number;
  readonly #evictIdleMs: number;
  /** Files whose owner's open (`prepare`) is under way. */
  #preparing = 0;
  /** What the thread answered, settled a round at a time (see #settleSome), from #settleHead on. */
  readonly #settling: (Settling | ThreadResult | JobResult | Error | undefined)[] = [];
  #settleHead = 0;
  #settleScheduled = false;
  /** When this turn's settling started, and the answers of it that resumed someone so far. */
  #settleTurnStart = 0;
  #settledInTurn = 0;
  /** The current round: when it started, the answers it may still resume, how many it resumed. */
  #roundStart = 0;
  #roundLeft = 0;
  #roundSize = 0;
  /** Estimated ms of work per resumed answer (the rounds' sizes follow it). */
  #perResumeMs = 0.05;
  /** Waiters and jobs resumed so far (a round of settling ends after one that resumed someone). */
  #resumed = 0;
  /** Jobs for the thread's next batch. */
  #jobs: PendingJob[] = [];
  #thread: CommitThread | undefined;
  #syncWrites = 0;
  /** Writes done on the spot so far (`writesOnTheSpot`). */
  #onTheSpot = 0;
  /** Batches sent to the thread and not answered yet. */
  #inFlight = 0;
  /** Batches sent to the thread so far (`threadBatches`). */
  #batches = 0;
  /** A flush was put off until the batch in flight comes back. */
  #flushDeferred = false;
  /** Files the last flush sent to the thread. */
  #lastBatchFiles = 0;
  readonly #files = new Set<CommitFile>();
  /**
   * Files holding a descriptor and not writing, least recently used first (a Set keeps insertion
   * order): the next descriptor to close is found in O(1), whatever the number of files.
   */
  readonly #idle = new Set<CommitFile>();
  #due = new Set<CommitFile>();
  /** The other set of due files, swapped with `#due` by each flush (no array copied per turn). */
  #dueSpare = new Set<CommitFile>();
  /** Files the thread had no descriptor for this turn: scheduled again when a batch returns. */
  readonly #slotless = new Set<CommitFile>();
  #scheduled = false;
  #open = 0;
  /** Files waiting for a descriptor slot. */
  readonly #waitingForSlot: (() => void)[] = [];

  constructor(options: GroupCommitWriterOptions = {}) {
    const max = options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxOpenFiles must be an integer >= 1, got ${max}`);
    this.maxOpenFiles = max;
    const perTick = options.syncWritesPerTick ?? DEFAULT_SYNC_WRITES_PER_TICK;
    if (!Number.isInteger(perTick) || perTick < 0)
      throw new RangeError(`syncWritesPerTick must be an integer >= 0, got ${perTick}`);
    this.syncWritesPerTick = perTick;
    this.#useThread = options.writerThread ?? true;
    const from = options.threadFrom ?? DEFAULT_THREAD_FROM;
    if (!Number.isInteger(from) || from < 0)
      throw new RangeError(`threadFrom must be an integer >= 0, got ${from}`);
    this.#threadFrom = from;
    const idle = options.evictIdleMs ?? DEFAULT_EVICT_IDLE_MS;
    if (!Number.isFinite(idle) || idle < 0)
      throw new RangeError(`evictIdleMs must be a number >= 0, got ${idle}`);
    this.#evictIdleMs = idle;
  }

  /**
   * Writes `f`'s queue on the spot when this turn's budget of synchronous writes allows it and its
   * descriptor is open; false leaves it to the next batch. Never throws: a failure is left to the
   * batch, which retries.
   * @internal
   */
  writeNow(f: CommitFile): boolean {
    if (
      f.busy ||
      f.fd === undefined ||
      f.chunks.length === 0 ||
      this.#syncWrites >= this.syncWritesPerTick ||
      this.#threadBusy()
    )
      return false;
    if (this.#syncWrites === 0) this.#scheduleTick();
    this.#syncWrites++;
    this.#onTheSpot++;
    const chunks = f.chunks;
    let n: number;
    try {
      // The bytes as queued, in one system call: no copy, no re-encoding.
      n = chunks.length === 1 ? writeSync(f.fd, chunks[0]!) : writevSync(f.fd, chunks);
    } catch {
      return false; // nothing was written: the batch retries
    }
    f.size += n;
    if (n !== f.pendingBytes) {
      // A short write to a regular file (disk full, quota): the rest goes through the batch.
      f.dropWritten(n);
      return false;
    }
    chunks.length = 0;
    f.pendingBytes = 0;
    f.written = f.appended;
    this.#touch(f);
    return true;
  }

  /**
   * Many files are being written through the thread (a batch in flight, the last one carried
   * `threadFrom` files or more, or `threadFrom` of a batch's answers or more still wait to be
   * settled: settled a round at a time, the sessions they resume come back in small groups, each
   * smaller than `threadFrom`): then no write is done on the spot. Each one costs the event loop a
   * system call (~5 µs), where joining the thread's batch costs it well under one: with many
   * sessions the event loop is what limits them, and the thread writes for all of them at once.
   */
  #threadBusy(): boolean {
    return (
      this.#thread !== undefined &&
      (this.#inFlight > 0 ||
        this.#lastBatchFiles >= this.#threadFrom ||
        this.#settling.length - this.#settleHead >= 2 * this.#threadFrom)
    );
  }

  /** Writes done on the spot (`writeSync` on the event loop) so far, by `sync()` or a flush. */
  get writesOnTheSpot(): number {
    return this.#onTheSpot;
  }

  /** Batches sent to the writer's thread so far (one message each way per batch). */
  get threadBatches(): number {
    return this.#batches;
  }

  /** Whether the writer's thread was started (it is only for many files at once: see `threadFrom`). */
  get threadStarted(): boolean {
    return this.#thread !== undefined;
  }

  /** Descriptors open now (never more than `maxOpenFiles`). */
  get openFiles(): number {
    return this.#open;
  }

  /**
   * Takes over `options.fd` (closed at once, to be reopened on the first write, when every slot is
   * taken); or, given `prepare`, starts the owner's asynchronous open at once, inside the bound.
   */
  file(options: CommitFileOptions | PreparedFileOptions): CommitFile {
    const f = new CommitFile(this, options);
    this.#files.add(f);
    if ("prepare" in options) {
      f.ready = this.#prepare(f);
      return f;
    }
    f.identity = options.identity;
    const limit = this.#heldLimit();
    if (this.#open >= limit) this.#closeIdle(f);
    if (this.#open < limit) {
      f.fd = options.fd;
      this.#touch(f);
      this.#open++;
    } else {
      close(options.fd, () => {});
    }
    return f;
  }

  /** @internal */
  schedule(f: CommitFile): void {
    this.#due.add(f);
    this.#scheduleTick();
  }

  /**
   * One callback per turn of the event loop both renews the budget of synchronous writes and flushes
   * what is due, in that order: the flush spends the new turn's budget first (a lone session's
   * batch is one cheap write, not a round trip through the libuv pool), and the rest goes to the pool.
   */
  #scheduleTick(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    realSetImmediate(() => {
      this.#scheduled = false;
      this.#syncWrites = 0;
      this.#flush();
    });
  }

  /** @internal */
  forget(f: CommitFile): Promise<void> {
    this.#files.delete(f);
    this.#due.delete(f);
    this.#slotless.delete(f);
    this.#idle.delete(f);
    if (f.fd === undefined) return Promise.resolve();
    // A batch in flight closes it when it ends (see #drain).
    const closed = new Promise<void>((resolve) => f.closedWaiters.push(resolve));
    if (!f.busy) this.#closeFd(f);
    return closed;
  }

  /** Runs the owner's open in a descriptor slot; a failure fails the file (its sync() rejects). */
  async #prepare(f: CommitFile): Promise<void> {
    this.#preparing++;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          if (this.#threadInUse()) await this.#openPrepared(f, f.prepare!);
          else await this.#descriptor(f);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (
            err instanceof AuditError ||
            attempt >= MAX_ATTEMPTS ||
            code === undefined ||
            !RETRIED.has(code)
          )
            throw err;
          if (code === "EMFILE" || code === "ENFILE") this.#closeIdle(f);
          await delay(FIRST_BACKOFF_MS * 2 ** (attempt - 1));
        }
      }
    } catch (err) {
      this.#fail(f, err);
    } finally {
      this.#preparing--;
      f.ready = undefined;
      // Lines appended while it opened: written with the next batch.
      if (f.chunks.length > 0 && !f.failure) this.schedule(f);
      this.#wakeSlotWaiter();
    }
  }

  /**
   * Runs a trail's opening or closing step (`ThreadJob`) on the writer thread with the next turn's
   * batch; undefined when there is no thread (`writerThread: false`, or it failed): the caller then
   * does it on the libuv pool.
   * @internal
   */
  job(j: ThreadJob): Promise<JobResult> | undefined {
    // Not started yet: only for many trails opening at once (see `threadFrom`).
    if (this.#thread === undefined && this.#preparing < this.#threadFrom) return undefined;
    if (!this.#threadReady()) return undefined;
    const done = parkedPromise<JobResult>();
    const reject = takeReject();
    this.#jobs.push({ job: j, resolve: takeResolve<JobResult>(), reject });
    this.#scheduleTick();
    return done;
  }

  #threadReady(): boolean {
    if (!this.#useThread) return false;
    if (this.#thread === undefined) {
      try {
        this.#thread = new CommitThread();
      } catch {
        this.#useThread = false;
        return false;
      }
    }
    return this.#thread.alive;
  }

  #flush(): void {
    if (this.#due.size === 0 && this.#jobs.length === 0) return;
    // Busy: what is due waits for the batch in flight to come back, then goes in one batch (one
    // message each way for all of it, not one per turn of the event loop).
    if (this.#inFlight > 0) {
      this.#flushDeferred = true;
      return;
    }
    // Swapped, not copied: a file scheduled while this turn's are handled goes into the fresh set.
    const due = this.#due;
    this.#due = this.#dueSpare;
    const b: Batch = { close: [], sent: [], transient: false, parts: [], bytes: 0, data: undefined };
    const rest: CommitFile[] = [];
    for (const f of due) {
      // A file still opening is written when its prepare ends.
      if (f.busy || f.ready !== undefined) continue;
      if (this.writeNow(f)) this.#settle(f);
      else rest.push(f);
    }
    // A few files left over go to the pool rather than start the thread (see `threadFrom`).
    const thread = this.#thread !== undefined || rest.length >= this.#threadFrom;
    for (const f of rest) if (!thread || !this.#toThread(f, b)) void this.#drain(f);
    this.#lastBatchFiles = b.sent.length;
    if (b.sent.length > 0 || this.#jobs.length > 0) this.#sendBatch(b);
    due.clear();
    this.#dueSpare = due;
  }

  /**
   * Puts `f`'s queue in the thread's batch: its descriptor, or a slot for the thread to reopen it in
   * (an idle descriptor evicted for it is closed by the thread first). False leaves it to the pool
   * (no thread, a short write's raw bytes pending, a file its owner has not opened, no slot free).
   */
  #toThread(f: CommitFile, b: Batch): boolean {
    if (f.prepare !== undefined || f.failure || f.chunks.length === 0 || !this.#threadReady()) return false;
    let opens = f.fd === undefined;
    let transient = false;
    if (opens) {
      // One slot is left for the batch's transient opens (opened, written and closed in turn by the
      // thread): more files than slots are written in one batch, within the bound. A file gets a slot
      // of its own when one is free or held by a file idle for `evictIdleMs`; descriptors held since
      // before the thread ran (every slot) give one up at once, so the thread has its transient slot.
      if (this.#open >= this.maxOpenFiles - 1) {
        const overLimit = this.#open >= this.maxOpenFiles && !b.transient;
        const evicted = this.#evictIdle(f, overLimit ? 0 : this.#evictIdleMs);
        if (evicted !== undefined) b.close.push(evicted);
      }
      if (this.#open < this.maxOpenFiles - 1) this.#open++;
      else if (b.transient) transient = true;
      else if (this.#open < this.maxOpenFiles) {
        this.#open++;
        b.transient = true;
        transient = true;
      } else {
        // No slot at all (every descriptor is busy): written once a batch in flight returns.
        this.#slotless.add(f);
        return true;
      }
      if (transient) opens = false;
    }
    f.busy = true;
    this.#idle.delete(f);
    // The bytes join the batch's one buffer (see #sendBatch); the path and what a reopen checks only
    // go with a file the thread opens.
    const start = b.bytes;
    const length = f.pendingBytes;
    for (const chunk of f.chunks) b.parts.push(chunk);
    b.bytes += length;
    f.chunks = [];
    f.pendingBytes = 0;
    b.sent.push({
      f,
      opens,
      upTo: f.appended,
      batch: b,
      fd: f.fd ?? -1,
      start,
      length,
      // A file being released is closed by the thread once written: no close of its own.
      keep: !f.released && !f.closing && !transient,
      resultFd: -1,
      written: 0,
    });
    return true;
  }

  #sendBatch(b: Batch): void {
    const jobs = this.#jobs.splice(0);
    // One buffer of its own for the whole batch, transferred to the thread and back (posting a view
    // would copy the whole buffer under it; a buffer per file is an allocation and a cloned object each).
    b.data = concatBytes(b.parts, b.bytes);
    b.parts.length = 0;
    // The ops as numbers (transferred, nothing serialised per file); a path only for a file the thread opens.
    const sent = b.sent;
    const ops = new Float64Array(sent.length * OP_FIELDS);
    const opens: string[] = [];
    for (let i = 0; i < sent.length; i++) {
      const s = sent[i]!;
      const o = i * OP_FIELDS;
      ops[o + OP_FD] = s.fd;
      ops[o + OP_START] = s.start;
      ops[o + OP_LENGTH] = s.length;
      ops[o + OP_KEEP] = s.keep ? 1 : 0;
      if (s.fd < 0) {
        ops[o + OP_SIZE] = s.f.size;
        opens.push(s.f.options.realFile, s.f.identity);
      }
    }
    this.#inFlight++;
    this.#batches++;
    this.#thread!.run(
      b.data,
      b.close,
      ops,
      opens,
      jobs.map((j) => j.job),
      (reply: Reply | Error) => {
        this.#inFlight--;
        if (this.#flushDeferred) {
          this.#flushDeferred = false;
          this.#scheduleTick();
        }
        // The transient slot first: the files below may close descriptors and wake waiters.
        if (b.transient) this.#open--;
        const failed = reply instanceof Error ? reply : undefined;
        if (!(reply instanceof Error)) {
          b.data = reply.data;
          const results = reply.results;
          for (let i = 0; i < sent.length; i++) {
            sent[i]!.resultFd = results[i * RESULT_FIELDS]!;
            sent[i]!.written = results[i * RESULT_FIELDS + 1]!;
          }
        }
        // An op that did not simply succeed: what went wrong, by index (usually none).
        const extra = reply instanceof Error ? undefined : reply.extra;
        let next = extra !== undefined && extra.length > 0 ? (extra[0] as number) : -1;
        let at = 0;
        // Two entries per answer (what, its outcome), no closure each: see #settleSome.
        const settle = this.#settling;
        for (let i = 0; i < jobs.length; i++) settle.push(jobs[i]!, failed ?? (reply as Reply).jobs[i]!);
        for (let i = 0; i < sent.length; i++) {
          let outcome: ThreadResult | Error | undefined = failed;
          if (i === next) {
            outcome = extra![at + 1] as ThreadResult;
            at += 2;
            next = at < extra!.length ? (extra![at] as number) : -1;
          }
          settle.push(sent[i]!, outcome);
        }
        settle.push(BATCH_END, undefined);
        if (!this.#settleScheduled) this.#settleSome();
      },
    );
  }

  /** What a batch's end does once its answers are settled: wakes the files that waited for a slot. */
  #batchEnded(): void {
    if (this.#slotless.size > 0) {
      const waiting = [...this.#slotless];
      this.#slotless.clear();
      for (const f of waiting) this.schedule(f);
    }
    this.#wakeSlotWaiters();
  }

  /**
   * Settles what the thread answered. Each answer may resume a session (its tool runs, its next
   * step starts), so a turn of the event loop settles answers in rounds: a round resumes as many as
   * the rest of the turn's budget holds at the cost per resume measured so far (one in a turn's
   * first round), and the next round starts only once everything they resumed has run to its next
   * wait (a microtask, then a tick: the tick runs once the microtask queue is empty). A turn stops
   * after SETTLE_BUDGET_MS of that (what the sessions did included) or SETTLE_PER_TURN resumed
   * answers, at least one; the rest waits for the next turn: a batch of a thousand sessions does
   * not hold the event loop for all their steps at once.
   */
  readonly #settleSome = (): void => {
    this.#settleTurnStart = performance.now();
    this.#settledInTurn = 0;
    this.#roundSize = 0;
    this.#settleRound();
  };

  readonly #settleRound = (): void => {
    const queue = this.#settling;
    if (this.#roundSize > 0) {
      // The round that just ran: what it cost per resume (a moving estimate, so one slow session
      // does not stall the queue), then the next round's size from the turn's budget left.
      const t = performance.now();
      this.#perResumeMs = (this.#perResumeMs + (t - this.#roundStart) / this.#roundSize) / 2;
      const left = SETTLE_BUDGET_MS - (t - this.#settleTurnStart);
      if (this.#settleHead < queue.length && (left <= 0 || this.#settledInTurn >= SETTLE_PER_TURN)) {
        this.#settleScheduled = true;
        realSetImmediate(this.#settleSome);
        return;
      }
      this.#roundLeft = Math.min(
        SETTLE_PER_TURN - this.#settledInTurn,
        Math.max(1, Math.floor(left / this.#perResumeMs)),
      );
    } else this.#roundLeft = 1;
    this.#roundStart = performance.now();
    this.#roundSize = 0;
    while (this.#settleHead < queue.length) {
      const what = queue[this.#settleHead] as Settling;
      const result = queue[this.#settleHead + 1];
      queue[this.#settleHead] = BATCH_END;
      queue[this.#settleHead + 1] = undefined;
      this.#settleHead += 2;
      const resumed = this.#resumed;
      if ("upTo" in what) this.#afterThread(what, result as ThreadResult | Error | undefined);
      else if (!("job" in what)) this.#batchEnded();
      else {
        this.#resumed++;
        if (result instanceof Error) what.reject(result);
        else what.resolve(result as JobResult);
      }
      if (this.#resumed !== resumed) {
        this.#settledInTurn++;
        this.#roundSize++;
        if (--this.#roundLeft === 0) break;
      }
    }
    if (this.#roundSize > 0) {
      this.#settleScheduled = true;
      microtask(this.#afterResumed);
      return;
    }
    queue.length = 0;
    this.#settleHead = 0;
    this.#settleScheduled = false;
  };

  /** Queued behind what the round resumed; its tick runs once every microtask they queued has run. */
  readonly #afterResumed = (): void => {
    nextTick(this.#settleRound);
  };

  /**
   * Books what the thread did for one file (the same outcomes as #drain's), then lets it go on:
   * `r` is undefined when the op simply succeeded, what went wrong when it did not, or the error
   * that ended the thread.
   */
  #afterThread(s: Sent, r: ThreadResult | Error | undefined): void {
    const f = s.f;
    f.busy = false;
    if (r instanceof Error) {
      // The thread is gone and whether it wrote is unknown: fail this file, never guess.
      if (s.opens) this.#open--;
      else this.#closeFd(f);
      f.fd = undefined;
      this.#fail(f, r);
      this.#afterWrite(f);
      return;
    }
    const n = s.written;
    f.size += n;
    if (s.resultFd < 0 && (s.opens || f.fd !== undefined)) {
      this.#open--;
      f.fd = undefined;
    } else if (s.resultFd >= 0) f.fd = s.resultFd;
    if (r?.bad !== undefined) {
      this.#fail(f, this.#badFile(f, r));
    } else if (r?.code !== undefined || n < s.length) {
      // A failure (or a short write): the rest goes back in front of the queue, and the pool path
      // retries it with backoff, then fails typed, as for any batch.
      f.putBack(s.batch.data!.slice(s.start + n, s.start + s.length));
      this.#touch(f);
      void this.#drain(f);
      return;
    } else {
      f.written = s.upTo;
      this.#settle(f);
    }
    this.#afterWrite(f);
  }

  #afterWrite(f: CommitFile): void {
    this.#touch(f);
    // Idle now: give the slot to a file waiting for one (closing wakes it), or keep it for next time.
    if (f.released || f.failure || this.#waitingForSlot.length > 0) this.#closeFd(f);
    if (f.chunks.length > 0 && !f.failure) this.schedule(f);
    if (f.released && f.fd === undefined) for (const resolve of f.closedWaiters.splice(0)) resolve();
  }

  #badFile(f: CommitFile, r: ThreadResult): AuditError {
    if (r.bad === "not-file") return invalid(f, "it is no longer a regular file");
    if (r.bad === "identity") {
      if (r.link !== undefined && r.link !== f.options.realFile)
        return placeError(f.options.display, f.options.realFile, r.link);
      return invalid(f, "it was replaced by another file since this writer last wrote it");
    }
    return invalid(
      f,
      `it changed since this writer last wrote it (expected ${f.size} bytes, found ${r.found}): it was truncated, edited or written by another writer`,
    );
  }

  /**
   * Takes the least recently used idle descriptor (not `except`'s) away from its file, if it was not
   * used for `minIdleMs`; the caller closes it.
   */
  #evictIdle(except: CommitFile, minIdleMs: number): number | undefined {
    const cutoff = minIdleMs > 0 ? performance.now() - minIdleMs : Number.POSITIVE_INFINITY;
    for (const f of this.#idle) {
      // Least recently used first: the rest were used later still.
      if (f.used > cutoff) return undefined;
      if (f === except || f.busy || f.fd === undefined) continue;
      const fd = f.fd;
      f.fd = undefined;
      this.#idle.delete(f);
      this.#open--;
      return fd;
    }
    return undefined;
  }

  #wakeSlotWaiters(): void {
    while (this.#open < this.#heldLimit() && this.#waitingForSlot.length > 0) this.#waitingForSlot.shift()!();
  }

  /** The writer's thread is running: it keeps one slot for the files it opens and closes in turn. */
  #threadInUse(): boolean {
    return this.#thread?.alive === true;
  }

  /** Descriptors the files may hold at once (one fewer while the thread keeps one for its transient opens). */
  #heldLimit(): number {
    return this.#threadInUse() ? this.maxOpenFiles - 1 : this.maxOpenFiles;
  }

  /**
   * The owner's open of `f` with the writer's thread running: in a slot of its own when one is free
   * (or held by a file idle for `evictIdleMs`), else checked and closed again by the owner, to be
   * written through the thread's transient slot (see #toThread): a session never waits for another
   * to end, and the files being written keep their descriptors.
   */
  async #openPrepared(f: CommitFile, prepare: (keep: boolean) => Promise<PreparedFile>): Promise<void> {
    const limit = this.maxOpenFiles - 1;
    const keep = this.#open < limit || (this.#closeIdle(f, this.#evictIdleMs) && this.#open < limit);
    if (keep) this.#open++;
    let opened: PreparedFile;
    try {
      opened = await prepare(keep);
    } catch (err) {
      if (keep) {
        this.#open--;
        this.#wakeSlotWaiter();
      }
      throw err;
    }
    f.prepare = undefined;
    f.size = opened.size;
    f.identity = opened.identity;
    if (keep && opened.fd >= 0) f.fd = opened.fd;
    else {
      // An owner that kept a descriptor it was asked not to: closed, so the bound holds.
      if (opened.fd >= 0) close(opened.fd, () => {});
      if (keep) {
        this.#open--;
        this.#wakeSlotWaiter();
      }
    }
    this.#touch(f);
  }

  /** Writes everything queued for `f`, batch after batch, until its queue is empty. */
  async #drain(f: CommitFile): Promise<void> {
    f.busy = true;
    this.#idle.delete(f);
    try {
      while (f.chunks.length > 0 && !f.failure) {
        const batch = f.takeBytes();
        const upTo = f.appended;
        try {
          await this.#writeBatch(f, batch);
        } catch (err) {
          this.#fail(f, err);
          break;
        }
        f.written = upTo;
        this.#settle(f);
      }
    } finally {
      f.busy = false;
      this.#touch(f);
      // Idle now: give the slot to a file waiting for one (closing wakes it), or keep it for next time.
      if (f.released || f.failure || this.#waitingForSlot.length > 0) this.#closeFd(f);
      this.#wakeSlotWaiter();
    }
  }

  async #writeBatch(f: CommitFile, batch: Uint8Array): Promise<void> {
    let data = batch;
    let remaining = batch.length;
    for (let attempt = 1; ; attempt++) {
      try {
        const fd = await this.#descriptor(f);
        while (remaining > 0) {
          const n = await writeFd(fd, data);
          remaining -= n;
          f.size += n;
          if (remaining > 0) data = data.subarray(n);
        }
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (err instanceof AuditError || attempt >= MAX_ATTEMPTS || code === undefined || !RETRIED.has(code))
          throw err;
        if (code === "EMFILE" || code === "ENFILE") this.#closeIdle(f);
        await delay(FIRST_BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
  }

  /** The file's descriptor: opened (or reopened) and checked, within the bound on open files. */
  async #descriptor(f: CommitFile): Promise<number> {
    if (f.fd !== undefined) return f.fd;
    while (this.#open >= this.#heldLimit()) {
      if (!this.#closeIdle(f)) await new Promise<void>((resolve) => this.#waitingForSlot.push(resolve));
    }
    this.#open++;
    let fd: number | undefined;
    const prepare = f.prepare;
    if (prepare !== undefined) {
      // The first open is the owner's (its lock and checks); later reopens are the writer's, below.
      try {
        const opened = await prepare(true);
        f.prepare = undefined;
        f.fd = opened.fd;
        f.size = opened.size;
        f.identity = opened.identity;
        this.#touch(f);
        return opened.fd;
      } catch (err) {
        this.#open--;
        this.#wakeSlotWaiter();
        throw err;
      }
    }
    try {
      fd = await openFd(
        f.options.realFile,
        constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      );
      const stats = await fstatFd(fd);
      if (!stats.isFile()) throw invalid(f, "it is no longer a regular file");
      const identity = `${stats.dev}:${stats.ino}`;
      if (identity !== f.identity) {
        await checkPlace(f, fd);
        throw invalid(f, "it was replaced by another file since this writer last wrote it");
      }
      if (stats.size !== f.size)
        throw invalid(
          f,
          `it changed since this writer last wrote it (expected ${f.size} bytes, found ${stats.size}): it was truncated, edited or written by another writer`,
        );
      f.fd = fd;
      this.#touch(f);
      return fd;
    } catch (err) {
      this.#open--;
      if (fd !== undefined) close(fd, () => {});
      this.#wakeSlotWaiter();
      throw err;
    }
  }

  /**
   * Closes the least recently used idle descriptor (not `except`'s), if it was not used for
   * `minIdleMs`; false when none is.
   */
  #closeIdle(except: CommitFile, minIdleMs = 0): boolean {
    const cutoff = minIdleMs > 0 ? performance.now() - minIdleMs : Number.POSITIVE_INFINITY;
    for (const f of this.#idle) {
      if (f.used > cutoff) return false;
      if (f === except || f.busy || f.fd === undefined) continue;
      this.#closeFd(f);
      return true;
    }
    return false;
  }

  /** Marks `f` used now: the most recently used of the idle files if it holds a descriptor and is not writing. */
  #touch(f: CommitFile): void {
    f.used = performance.now();
    this.#idle.delete(f);
    if (f.fd !== undefined && !f.busy && !f.released) this.#idle.add(f);
  }

  #closeFd(f: CommitFile): void {
    const fd = f.fd;
    if (fd === undefined) return;
    f.fd = undefined;
    this.#idle.delete(f);
    this.#open--;
    // Asynchronous: a close error on a file already written loses nothing; release() waits for it.
    const waiters = f.closedWaiters.splice(0);
    const done = () => {
      for (const resolve of waiters) resolve();
    };
    const viaThread = this.job({ kind: "close", fd });
    if (viaThread !== undefined) void viaThread.then(done, done);
    else close(fd, done);
    this.#wakeSlotWaiter();
  }

  #wakeSlotWaiter(): void {
    if (this.#open < this.#heldLimit()) this.#waitingForSlot.shift()?.();
  }

  #settle(f: CommitFile): void {
    const waiters = f.waiters;
    if (waiters.length === 0) return;
    // In place: the waiters still waiting keep their order, and no array is made per write.
    let kept = 0;
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      if (w.upTo <= f.written) {
        this.#resumed++;
        w.resolve();
      } else waiters[kept++] = w;
    }
    waiters.length = kept;
  }

  #fail(f: CommitFile, err: unknown): void {
    f.failure =
      err instanceof AuditError
        ? err
        : new AuditError(
            "REIN_AUDIT_WRITE_FAILED",
            `Cannot append to the audit trail ${f.options.display}: ${errorMessage(err)}`,
            { file: f.options.display },
            { cause: err },
          );
    f.chunks = [];
    f.pendingBytes = 0;
    this.#resumed += f.waiters.length;
    for (const w of f.waiters) w.reject(f.failure);
    f.waiters = [];
  }
}

let shared: GroupCommitWriter | undefined;

/** The process's writer: every audit trail of every harness in this process writes through it. */
export function sharedGroupCommitWriter(): GroupCommitWriter {
  shared ??= new GroupCommitWriter();
  return shared;
}

function invalid(f: CommitFile, why: string): AuditError {
  return new AuditError(
    "REIN_AUDIT_INVALID",
    `Cannot continue the audit trail ${f.options.display}: ${why}. Run "rein audit verify ${f.options.display}"`,
    { file: f.options.display },
  );
}

/** The descriptor must be the file resolved at construction (no directory on its path swapped since). */
function checkPlace(f: CommitFile, fd: number): Promise<void> {
  return checkDescriptorPlace(f.options.display, f.options.realFile, fd);
}

/** `fd` must be `realFile` (read through /proc): no directory on its path was swapped since it was resolved. */
export async function checkDescriptorPlace(display: string, realFile: string, fd: number): Promise<void> {
  const actual = await new Promise<string | undefined>((resolve) =>
    readlink(`/proc/self/fd/${fd}`, (err, link) => resolve(err ? undefined : link)),
  );
  if (actual === undefined) return; // no /proc: the O_NOFOLLOW open is the only check
  if (actual !== realFile) throw placeError(display, realFile, actual);
}

/** The descriptor of `display` resolves to `actual`, not `realFile`. */
export function placeError(display: string, realFile: string, actual: string): AuditError {
  return new AuditError(
    "REIN_AUDIT_WRITE_FAILED",
    `The audit trail ${display} now resolves to ${actual}, not ${realFile}: a directory on its path was replaced. Refusing to write.`,
    { file: display, actual },
  );
}

/** A thread's errno failure as the Error the libuv pool would have given (with its `code`). */
export function errnoError(r: {
  readonly code?: string;
  readonly message?: string;
}): Error & { code?: string } {
  return Object.assign(new Error(r.message ?? r.code ?? "unknown error"), { code: r.code });
}

function writeFd(fd: number, data: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    write(fd, data, 0, data.length, null, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** The chunks as one buffer of its own (`total`: their bytes). */
function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}
