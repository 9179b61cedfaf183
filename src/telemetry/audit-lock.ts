import { randomUUID } from "node:crypto";
import {
  close,
  closeSync,
  constants,
  fstat,
  link,
  linkSync,
  lstat,
  open,
  openSync,
  readFileSync,
  renameSync,
  unlink,
  unlinkSync,
  write,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { AuditError } from "../protocol/errors.js";
import type { JobResult, OpenJob, ThreadJob } from "./commit-thread.js";

/** Runs a job on the shared writer's thread (`GroupCommitWriter.job`); undefined: no thread, use the pool. */
export type JobRunner = (job: ThreadJob) => Promise<JobResult> | undefined;

const TRANSIENT = new Set(["EMFILE", "ENFILE", "EAGAIN", "EINTR", "EBUSY", "ENOMEM"]);

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly nonce: string;
  readonly since: number;
}

/**
 * One writer per audit trail: a lock file beside the trail (`<trail>.lock`) holding the writer's
 * pid and host, created atomically (written under a temporary name, then hard-linked into place,
 * so it never exists half-written). A lock whose pid is dead on this host is taken over; a live
 * holder, or a holder on another host (whose pid cannot be checked from here), is an `AuditError`
 * (`REIN_AUDIT_LOCKED`) naming it.
 */
export class AuditLock {
  readonly file: string;
  readonly #trail: string;
  #owner: LockOwner | undefined;
  /**
   * `dev:ino` of the lock file this instance made (asynchronous path): release removes the lock only
   * if it is still that file. On the writer's thread it is the process's owner file for the folder,
   * shared by the locks this process holds there.
   */
  #identity: string | undefined;
  /** The owner file this lock links (thread path). */
  #template: OwnerTemplate | undefined;

  constructor(trail: string) {
    this.#trail = trail;
    this.file = `${trail}.lock`;
  }

  get held(): boolean {
    return this.#owner !== undefined;
  }

  acquire(): void {
    if (this.#owner) return;
    const owner: LockOwner = { pid: process.pid, host: hostname(), nonce: randomUUID(), since: Date.now() };
    if (this.#tryCreate(owner)) return;
    const holder = this.#readHolder();
    if (holder !== undefined && isStale(holder) && this.#removeStale(holder) && this.#tryCreate(owner))
      return;
    const current = this.#readHolder() ?? holder;
    const who =
      current === undefined
        ? "an unreadable lock"
        : `pid ${current.pid} on host ${current.host}${current.pid === process.pid && current.host === owner.host ? " (this process: another AuditTrail on the same file)" : ""}`;
    throw new AuditError(
      "REIN_AUDIT_LOCKED",
      `The audit trail ${this.#trail} is being written by ${who} (lock file ${this.file}); one writer per trail. If no Rein process is writing it, delete the lock file.`,
      { file: this.#trail, lock: this.file, holder: current ?? null },
    );
  }

  /**
   * `acquire()` without blocking the event loop: the same lock file, created the same way (written
   * under a temporary name, then hard-linked into place) by the libuv pool. A busy lock falls back to
   * `acquire()`'s checks (stale holder, who holds it), which only run when the lock is taken.
   *
   * `openJob`: the trail's open step, done by the writer's thread in the same job once the lock is
   * taken (one round trip instead of two); its answer is returned. Undefined when it was not done
   * (no thread, or the lock was busy at first): the caller then opens the trail itself.
   */
  async acquireAsync(run?: JobRunner, openJob?: OpenJob): Promise<JobResult | undefined> {
    if (this.#owner) return undefined;
    const template = run === undefined ? undefined : ownerTemplate(this.file);
    // On the writer's thread when there is one: the process's owner file linked into place.
    const viaThread =
      template === undefined
        ? undefined
        : run?.({
            kind: "lock",
            lock: this.file,
            template: template.path,
            text: template.text,
            ...(openJob === undefined ? {} : { open: openJob }),
          });
    if (template !== undefined && viaThread !== undefined) {
      let r: JobResult;
      try {
        r = await viaThread;
      } catch (err) {
        template.drop();
        throw this.#createFailed(err);
      }
      // Not taken: the owner file goes if no other lock of this process links it.
      if ((r.busy || r.code !== undefined) && template.drop())
        void run!({ kind: "remove", path: template.path });
      if (r.busy) {
        this.acquire();
        return undefined;
      }
      if (r.code !== undefined) {
        if (TRANSIENT.has(r.code)) throw Object.assign(new Error(r.message), { code: r.code });
        throw this.#createFailed(new Error(r.message));
      }
      this.#owner = template.owner;
      this.#identity = r.identity;
      this.#template = template;
      return r.opened;
    }
    template?.drop();
    const owner: LockOwner = { pid: process.pid, host: hostname(), nonce: randomUUID(), since: Date.now() };
    const temp = `${this.file}.${owner.pid}.${owner.nonce}.tmp`;
    let identity: string;
    try {
      const fd = await call<number>((cb) =>
        open(
          temp,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
          cb,
        ),
      );
      try {
        const text = `${JSON.stringify(owner)}\n`;
        await call<number>((cb) => write(fd, text, null, "utf8", cb));
        const stats = await call<{ dev: number; ino: number }>((cb) => fstat(fd, cb));
        identity = `${stats.dev}:${stats.ino}`;
      } finally {
        await call<void>((cb) => close(fd, cb)).catch(() => {});
      }
      try {
        await call<void>((cb) => link(temp, this.file, cb));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        // Taken: the synchronous path tells a stale holder from a live one (rare: only on contention).
        this.acquire();
        return undefined;
      }
    } catch (err) {
      // A transient failure (EMFILE, …) is the shared writer's to retry; the rest is final.
      if (err instanceof AuditError || TRANSIENT.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
      throw this.#createFailed(err);
    } finally {
      await call<void>((cb) => unlink(temp, cb)).catch(() => {});
    }
    this.#owner = owner;
    this.#identity = identity;
    return undefined;
  }

  /** `release()` without blocking the event loop: removes the lock file if it is still the one this instance created. */
  async releaseAsync(run?: JobRunner): Promise<void> {
    const identity = this.#identity;
    if (identity === undefined) return this.release();
    this.#owner = undefined;
    this.#identity = undefined;
    const template = this.#template;
    this.#template = undefined;
    // The last lock of this process in that folder removes the owner file too (in the same job, after the lock).
    const last = template?.drop() === true;
    const viaThread = run?.({
      kind: "unlock",
      lock: this.file,
      identity,
      ...(last ? { template: template!.path } : {}),
    });
    if (viaThread !== undefined) {
      // A failure means it is already gone: nothing to release.
      await viaThread.catch(() => {});
      return;
    }
    try {
      const stats = await call<{ dev: number; ino: number }>((cb) => lstat(this.file, cb));
      if (`${stats.dev}:${stats.ino}` === identity) await call<void>((cb) => unlink(this.file, cb));
    } catch {
      // Already gone: nothing to release.
    }
  }

  /** Releases the lock if this instance holds it (and it is still its own). */
  release(): void {
    this.#identity = undefined;
    if (this.#template?.drop() === true) {
      try {
        unlinkSync(this.#template.path);
      } catch {
        // already gone
      }
    }
    this.#template = undefined;
    const owner = this.#owner;
    if (!owner) return;
    this.#owner = undefined;
    if (this.#readHolder()?.nonce === owner.nonce) {
      try {
        unlinkSync(this.file);
      } catch {
        // Already gone: nothing to release.
      }
    }
  }

  #createFailed(err: unknown): AuditError {
    return new AuditError(
      "REIN_AUDIT_WRITE_FAILED",
      `Cannot create the audit trail's lock ${this.file}: ${(err as Error).message}`,
      { file: this.#trail, lock: this.file },
    );
  }

  #tryCreate(owner: LockOwner): boolean {
    const temp = `${this.file}.${owner.pid}.${owner.nonce}.tmp`;
    try {
      writeFileSync(temp, `${JSON.stringify(owner)}\n`, { mode: 0o600, flag: "wx" });
      try {
        linkSync(temp, this.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw err;
      }
      this.#owner = owner;
      return true;
    } catch (err) {
      throw new AuditError(
        "REIN_AUDIT_WRITE_FAILED",
        `Cannot create the audit trail's lock ${this.file}: ${(err as Error).message}`,
        { file: this.#trail, lock: this.file },
      );
    } finally {
      try {
        unlinkSync(temp);
      } catch {
        // never created
      }
    }
  }

  #readHolder(): LockOwner | undefined {
    let fd: number;
    try {
      fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      return parseOwner(readFileSync(fd, "utf8"));
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Removes a stale lock without removing a fresh one that replaced it meanwhile: the lock is moved
   * aside atomically, and if what was moved is not the stale holder it is linked back.
   */
  #removeStale(stale: LockOwner): boolean {
    const aside = `${this.file}.${process.pid}.${randomUUID()}.stale`;
    try {
      renameSync(this.file, aside);
    } catch {
      return false;
    }
    let moved: LockOwner | undefined;
    try {
      moved = parseOwner(readFileSync(aside, "utf8"));
    } catch {
      moved = undefined;
    }
    if (moved?.nonce !== stale.nonce) {
      try {
        linkSync(aside, this.file);
      } catch {
        // Someone else holds it now; theirs stays.
      }
    }
    try {
      unlinkSync(aside);
    } catch {
      // already gone
    }
    return moved?.nonce === stale.nonce;
  }
}

/** The owner file of this process in one folder: linked as the lock of each trail it writes there. */
interface OwnerTemplate {
  readonly path: string;
  readonly owner: LockOwner;
  /** The owner file's content (made once per folder, not per lock). */
  readonly text: string;
  /** Forgets one use; true when it was the last (the owner file is then removed). */
  drop(): boolean;
}

const templates = new Map<string, { path: string; owner: LockOwner; text: string; uses: number }>();
let processNonce: string | undefined;

/**
 * One lock file per trail, without a new file per lock: the process writes its owner record once
 * per folder (`.rein-lock.<pid>.<nonce>`, O_EXCL, whole before it is linked) and each lock is a hard
 * link to it, made atomically (`link(2)` fails if the lock exists). Creating an inode costs far more
 * than a link on common file systems (hundreds of µs of CPU on ext4 here, against tens for a link),
 * and the lock reads the same: the writer's pid, host and nonce. The owner file is removed with the
 * last lock of the process in that folder.
 */
function ownerTemplate(lockFile: string): OwnerTemplate {
  const dir = lockFile.slice(0, lockFile.lastIndexOf("/")) || "/";
  processNonce ??= randomUUID();
  let t = templates.get(dir);
  if (t === undefined) {
    const owner: LockOwner = { pid: process.pid, host: hostname(), nonce: processNonce, since: Date.now() };
    t = {
      path: `${dir}/.rein-lock.${owner.pid}.${processNonce}`,
      owner,
      text: `${JSON.stringify(owner)}\n`,
      uses: 0,
    };
    templates.set(dir, t);
  }
  const entry = t;
  entry.uses++;
  let dropped = false;
  return {
    path: entry.path,
    owner: entry.owner,
    text: entry.text,
    drop() {
      if (dropped) return false;
      dropped = true;
      entry.uses--;
      if (entry.uses > 0) return false;
      templates.delete(dir);
      return true;
    },
  };
}

/** A node:fs callback call as a promise (no FileHandle objects: this runs once per run of every session). */
function call<T>(start: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

function parseOwner(text: string): LockOwner | undefined {
  const o = JSON.parse(text) as Partial<LockOwner>;
  if (
    typeof o === "object" &&
    o !== null &&
    Number.isInteger(o.pid) &&
    (o.pid as number) > 0 &&
    typeof o.host === "string" &&
    typeof o.nonce === "string"
  )
    return { pid: o.pid as number, host: o.host, nonce: o.nonce, since: Number(o.since) };
  return undefined;
}

/** Stale only when we can know: same host, and no process with that pid exists. */
function isStale(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
