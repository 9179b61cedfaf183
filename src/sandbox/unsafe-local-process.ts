import { type ChildProcess, spawn } from "node:child_process";
import { realpathSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { ReinError, SandboxError } from "../protocol/errors.js";
import type { ExecOptions, ExecResult, Sandbox, SandboxCapabilities } from "./sandbox.js";

/** Default cap on stdout and on stderr, each. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/**
 * How long to keep reading after the command exited and its process group was killed. Only a descendant
 * that left the group (`setsid`) can hold the pipes open that long; its output after that is dropped.
 */
const PIPE_GRACE_MS = 250;
const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

export interface UnsafeLocalProcessOptions {
  /** The directory commands run in; must exist. */
  readonly workspace: string;
}

/**
 * Runs commands as plain child processes of this one, with NO isolation: they see the host's files,
 * network and user. Only the environment is clean (never the host's `process.env`), each command runs
 * in its own process group, and time and output are limited.
 *
 * Lifetime: when the command exits its whole process group is killed, so background jobs (`cmd &`) do
 * not outlive it. On timeout, abort or `dispose()` the group is killed with SIGKILL.
 *
 * Abort: an aborted `signal` never rejects; `exec` resolves with `signal: "SIGKILL"` (and spawns nothing
 * if the signal was already aborted). Check your own signal to tell an abort from an external kill.
 *
 * @example
 * const sandbox = new UnsafeLocalProcess({ workspace: "/home/me/project" });
 * const { stdout } = await sandbox.exec("ls -la", { timeoutMs: 10_000 });
 */
export class UnsafeLocalProcess implements Sandbox {
  readonly name = "unsafe-local-process";
  readonly capabilities: SandboxCapabilities = Object.freeze({
    isolation: "none",
    network: Object.freeze(["host"] as const),
    limits: Object.freeze(["time", "output"] as const),
  });
  readonly workspace: string;
  readonly #running = new Set<number>();
  #disposed = false;

  /** @throws ReinError `REIN_WORKSPACE_INVALID` if the workspace is not an existing directory. */
  constructor(options: UnsafeLocalProcessOptions) {
    const { workspace } = options;
    let real: string;
    try {
      real = realpathSync(workspace);
    } catch (err) {
      throw new ReinError(
        "REIN_WORKSPACE_INVALID",
        `Workspace "${workspace}" does not exist.`,
        { workspace },
        { cause: err },
      );
    }
    if (!statSync(real).isDirectory()) {
      throw new ReinError("REIN_WORKSPACE_INVALID", `Workspace "${workspace}" is not a directory.`, {
        workspace,
      });
    }
    this.workspace = real;
  }

  async exec(command: string | readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.#disposed)
      throw new SandboxError(`Sandbox ${this.name} was disposed; create a new one to run commands.`);
    const [file, args] = toArgv(command);
    const { timeoutMs, maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES, signal } = options;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new SandboxError(`timeoutMs must be a positive number, got ${timeoutMs}.`, { timeoutMs });
    }
    const cwd = await this.#resolveCwd(options.cwd);
    if (signal?.aborted) return killedBeforeStart();
    const env = { PATH: DEFAULT_PATH, HOME: this.workspace, LANG: "C.UTF-8", ...options.env };
    const started = performance.now();
    let child: ChildProcess;
    try {
      // detached: the child leads a new process group, so one kill(-pid) reaches every descendant.
      child = spawn(file, args, { cwd, env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    } catch (err) {
      throw new SandboxError(
        `Could not start ${JSON.stringify(file)}: ${(err as Error).message}`,
        { file },
        { cause: err },
      );
    }
    return await this.#supervise(child, file, {
      started,
      maxOutputBytes,
      timeoutMs,
      signal,
      stdin: options.stdin,
    });
  }

  /** Kills every command still running; later `exec` calls throw. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    for (const pid of this.#running) killGroup(pid);
  }

  #supervise(
    child: ChildProcess,
    file: string,
    o: { started: number; maxOutputBytes: number; timeoutMs?: number; signal?: AbortSignal; stdin?: string },
  ): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const stdout = new CappedOutput(o.maxOutputBytes);
      const stderr = new CappedOutput(o.maxOutputBytes);
      const pid = child.pid;
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let openPipes = 2;
      let timedOut = false;
      let settled = false;
      let timeout: NodeJS.Timeout | undefined;
      let grace: NodeJS.Timeout | undefined;
      const kill = () => pid !== undefined && killGroup(pid);
      const cleanup = () => {
        settled = true;
        clearTimeout(timeout);
        clearTimeout(grace);
        o.signal?.removeEventListener("abort", kill);
        if (pid !== undefined) this.#running.delete(pid);
        child.stdout?.destroy();
        child.stderr?.destroy();
      };
      const finish = () => {
        if (settled || exit === undefined) return;
        cleanup();
        resolve({
          stdout: stdout.text(),
          stderr: stderr.text(),
          exitCode: exit.code,
          signal: exit.signal,
          timedOut,
          oomKilled: false,
          truncated: stdout.truncated || stderr.truncated,
          durationMs: Math.round(performance.now() - o.started),
        });
      };
      const pipeClosed = () => {
        openPipes--;
        if (openPipes === 0) finish();
      };

      child.on("error", (err: NodeJS.ErrnoException) => {
        if (settled || pid !== undefined) return; // after a successful spawn only exit/close matter
        cleanup();
        const hint = err.code === "ENOENT" ? " (no such executable on PATH)" : "";
        reject(
          new SandboxError(
            `Could not start ${JSON.stringify(file)}: ${err.message}${hint}`,
            { file },
            { cause: err },
          ),
        );
      });
      if (pid === undefined) return; // spawn failed; the "error" event follows
      this.#running.add(pid);
      child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
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
      // The child never shares our stdin; EPIPE from a command that does not read it is expected.
      child.stdin?.on("error", () => {});
      child.stdin?.end(o.stdin);
    });
  }

  /** `cwd` must be a directory inside the workspace, also after following symlinks. */
  async #resolveCwd(cwd: string | undefined): Promise<string> {
    if (cwd === undefined || cwd === "" || cwd === ".") return this.workspace;
    const refuse = (why: string) =>
      new SandboxError(`cwd ${JSON.stringify(cwd)} ${why}.`, { cwd, workspace: this.workspace });
    if (cwd.includes("\0")) throw refuse("contains a NUL byte");
    if (path.isAbsolute(cwd)) throw refuse("is absolute; it must be relative to the workspace");
    const lexical = path.resolve(this.workspace, cwd);
    if (!isInside(this.workspace, lexical)) throw refuse('leaves the workspace through ".."');
    let real: string;
    try {
      real = await fs.realpath(lexical);
    } catch {
      throw refuse("does not exist");
    }
    if (!isInside(this.workspace, real))
      throw refuse(`resolves to ${JSON.stringify(real)}, outside the workspace`);
    if (!(await fs.stat(real)).isDirectory()) throw refuse("is not a directory");
    return real;
  }
}

function toArgv(command: string | readonly string[]): [string, string[]] {
  if (typeof command === "string") return ["/bin/sh", ["-c", command]];
  const [file, ...args] = command;
  if (file === undefined || file === "")
    throw new SandboxError("The argv to run is empty; give at least the program name.");
  return [file, args];
}

function killGroup(pid: number): boolean {
  try {
    process.kill(-pid, "SIGKILL");
    return true;
  } catch {
    return false; // ESRCH: the group is already gone
  }
}

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root === "/" ? "/" : `${root}/`);
}

function killedBeforeStart(): ExecResult {
  return {
    stdout: "",
    stderr: "",
    exitCode: null,
    signal: "SIGKILL",
    timedOut: false,
    oomKilled: false,
    truncated: false,
    durationMs: 0,
  };
}

/** Keeps the first `max` bytes of a stream and counts the rest as dropped, so the pipe keeps draining. */
class CappedOutput {
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

  text(): string {
    return Buffer.concat(this.#chunks, this.#size).toString("utf8");
  }
}
