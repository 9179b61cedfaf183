import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import fs from "node:fs/promises";
import { SandboxError } from "../protocol/errors.js";
import { checkTimeout, codeArgv, resolveCwd, toArgv } from "./exec-input.js";
import type { CodeLanguage, ExecOptions, ExecResult, Sandbox, SandboxCapabilities } from "./sandbox.js";
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  killedBeforeStart,
  killGroup,
  type SupervisedRun,
  supervise,
} from "./supervise.js";
import { emptyDirectory, getHostFile, openWorkspace, putHostFile } from "./workspace-files.js";

export { DEFAULT_MAX_OUTPUT_BYTES } from "./supervise.js";

const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

export interface UnsafeLocalProcessOptions {
  /** The directory commands run in; must exist. Default: a new temporary directory the sandbox owns. */
  readonly workspace?: string;
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
  readonly capabilities: SandboxCapabilities;
  readonly workspace: string;
  readonly #owned: boolean;
  readonly #running = new Set<number>();
  #disposed = false;

  /** @throws ReinError `REIN_WORKSPACE_INVALID` if the workspace is not an existing directory. */
  constructor(options: UnsafeLocalProcessOptions = {}) {
    const { root, owned } = openWorkspace(options.workspace);
    this.workspace = root;
    this.#owned = owned;
    this.capabilities = Object.freeze({
      isolation: "none",
      network: Object.freeze(["host"] as const),
      limits: Object.freeze(["time", "output"] as const),
      languages: Object.freeze(hostLanguages()),
    });
  }

  async exec(command: string | readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const run = await this.#run(command, options);
    return {
      ...run,
      stdout: run.stdout.toString("utf8"),
      stderr: run.stderr.toString("utf8"),
      oomKilled: false,
    };
  }

  async runCode(
    language: CodeLanguage,
    code: string,
    options: Omit<ExecOptions, "stdin"> = {},
  ): Promise<ExecResult> {
    if (!this.capabilities.languages.includes(language))
      throw new SandboxError(
        `${this.name} cannot run ${language}: no interpreter for it on ${DEFAULT_PATH}.`,
        { language },
      );
    return this.exec(codeArgv(language), { ...options, stdin: code });
  }

  async putFile(path: string, data: string | Uint8Array): Promise<void> {
    this.#checkOpen();
    await putHostFile(this.workspace, path, data);
  }

  async getFile(path: string): Promise<Uint8Array> {
    this.#checkOpen();
    return getHostFile(this.workspace, path);
  }

  async reset(): Promise<void> {
    this.#checkOpen();
    for (const pid of this.#running) killGroup(pid);
    if (this.#owned) await emptyDirectory(this.workspace);
  }

  /** Kills every command still running; later `exec` calls throw. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const pid of this.#running) killGroup(pid);
    if (this.#owned) await fs.rm(this.workspace, { recursive: true, force: true });
  }

  #checkOpen(): void {
    if (this.#disposed)
      throw new SandboxError(`Sandbox ${this.name} was disposed; create a new one to run commands.`);
  }

  async #run(command: string | readonly string[], options: ExecOptions): Promise<SupervisedRun> {
    this.#checkOpen();
    const [file, args] = toArgv(command);
    const { timeoutMs, maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES, signal } = options;
    checkTimeout(timeoutMs);
    const cwd = await resolveCwd(this.workspace, options.cwd);
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
    let startupMs: number | undefined;
    child.once("spawn", () => {
      startupMs = Math.round((performance.now() - started) * 10) / 10;
    });
    const pid = child.pid;
    if (pid !== undefined) this.#running.add(pid);
    // dispose() may have run while this command was being prepared.
    if (this.#disposed && pid !== undefined) killGroup(pid);
    try {
      const run = await supervise(child, {
        file,
        started,
        maxOutputBytes,
        timeoutMs,
        signal,
        stdin: options.stdin,
        killTree: () => pid !== undefined && killGroup(pid),
      });
      return startupMs === undefined ? run : { ...run, startupMs };
    } finally {
      if (pid !== undefined) this.#running.delete(pid);
    }
  }
}

function hostLanguages(): CodeLanguage[] {
  const has = (name: string) =>
    DEFAULT_PATH.split(":").some((dir) => {
      try {
        accessSync(`${dir}/${name}`, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const out: CodeLanguage[] = [];
  if (has("python3")) out.push("python");
  if (has("node")) out.push("javascript");
  out.push("shell");
  return out;
}
