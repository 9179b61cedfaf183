import type { ChildProcess } from "node:child_process";
import { SandboxError } from "../protocol/errors.js";

/** Default cap on stdout and on stderr, each. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/**
 * How long to keep reading after the command exited and its tree was killed. Only a descendant that
 * escaped the kill can hold the pipes open that long; its output after that is dropped.
 */
const PIPE_GRACE_MS = 250;

/** @internal */
export interface SupervisedRun {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly durationMs: number;
  /** See `ExecResult.startupMs`; set by the backend, not by `supervise`. */
  readonly startupMs?: number;
}

/** @internal */
export interface SuperviseOptions {
  /** What was started, for error messages. */
  readonly file: string;
  readonly started: number;
  readonly maxOutputBytes: number;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly stdin?: string | Uint8Array | NodeJS.ReadableStream;
  /** Called with each stdout chunk as it arrives (a long-lived child that reports readiness). */
  readonly onStdout?: (chunk: Buffer) => void;
  /** Kills the command's whole process tree; called on exit, timeout and abort. Must not throw. */
  readonly killTree: () => void;
}

/** @internal
 * Collects a spawned child's output under caps and settles once it exited and its pipes closed. The
 * tree is killed when the command exits (background jobs do not outlive it), on timeout and on abort;
 * an abort never rejects (the result has the kill's signal).
 */
export function supervise(child: ChildProcess, o: SuperviseOptions): Promise<SupervisedRun> {
  return new Promise((resolve, reject) => {
    const stdout = new CappedOutput(o.maxOutputBytes);
    const stderr = new CappedOutput(o.maxOutputBytes);
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let openPipes = 2;
    let timedOut = false;
    let settled = false;
    let timeout: NodeJS.Timeout | undefined;
    let grace: NodeJS.Timeout | undefined;
    const kill = () => o.killTree();
    const cleanup = () => {
      settled = true;
      clearTimeout(timeout);
      clearTimeout(grace);
      o.signal?.removeEventListener("abort", kill);
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    const finish = () => {
      if (settled || exit === undefined) return;
      cleanup();
      resolve({
        stdout: stdout.bytes(),
        stderr: stderr.bytes(),
        exitCode: exit.code,
        signal: exit.signal,
        timedOut,
        truncated: stdout.truncated || stderr.truncated,
        durationMs: Math.round(performance.now() - o.started),
      });
    };
    const pipeClosed = () => {
      openPipes--;
      if (openPipes === 0) finish();
    };

    child.on("error", (err: NodeJS.ErrnoException) => {
      if (settled || child.pid !== undefined) return; // after a successful spawn only exit/close matter
      cleanup();
      const hint = err.code === "ENOENT" ? " (no such executable on PATH)" : "";
      reject(
        new SandboxError(
          `Could not start ${JSON.stringify(o.file)}: ${err.message}${hint}`,
          { file: o.file },
          { cause: err },
        ),
      );
    });
    if (child.pid === undefined) return; // spawn failed; the "error" event follows
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      o.onStdout?.(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.stdout?.on("close", pipeClosed);
    child.stderr?.on("close", pipeClosed);
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      // Background jobs die with the command; this also releases pipes they hold open.
      kill();
      if (openPipes === 0) finish();
      else grace = setTimeout(finish, PIPE_GRACE_MS);
    });
    if (o.timeoutMs !== undefined) {
      timeout = setTimeout(() => {
        timedOut = true;
        kill();
      }, o.timeoutMs);
    }
    o.signal?.addEventListener("abort", kill, { once: true });
    if (o.signal?.aborted) kill(); // aborted while the command was being started
    // The child never shares our stdin; EPIPE from a command that does not read it is expected.
    child.stdin?.on("error", () => {});
    if (o.stdin && typeof o.stdin === "object" && "pipe" in o.stdin) o.stdin.pipe(child.stdin!);
    else child.stdin?.end(o.stdin);
  });
}

/** @internal SIGKILL to a whole process group; false when it is already gone. */
export function killGroup(pid: number): boolean {
  try {
    process.kill(-pid, "SIGKILL");
    return true;
  } catch {
    return false; // ESRCH: the group is already gone
  }
}

/** @internal The result of a command that was never started because its signal was already aborted. */
export function killedBeforeStart(): SupervisedRun {
  return {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    exitCode: null,
    signal: "SIGKILL",
    timedOut: false,
    truncated: false,
    durationMs: 0,
  };
}

/** @internal Keeps the first `max` bytes of a stream and counts the rest as dropped, so the pipe keeps draining. */
export class CappedOutput {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  truncated = false;

  constructor(readonly max: number) {}

  push(chunk: Buffer): void {
    const room = this.max - this.#size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#chunks.push(kept);
    this.#size += kept.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }
}
