import { rm } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { SandboxError, SandboxUnsupportedError } from "../../protocol/errors.js";
import { DEFAULT_MASK_PATHS } from "../bubblewrap/masks.js";
import { checkTimeout, resolveCwd } from "../exec-input.js";
import type { CodeLanguage, ExecOptions, ExecResult, Sandbox, SandboxCapabilities } from "../sandbox.js";
import { parseSize } from "../size.js";
import { DEFAULT_MAX_OUTPUT_BYTES } from "../supervise.js";
import { emptyDirectory, getHostFile, openWorkspace, putHostFile } from "../workspace-files.js";
import type { QuickJSJob, QuickJSOutcome, QuickJSStarted } from "./quickjs-worker.js";
import { compiledScript } from "./worker-script.js";

export const DEFAULT_QUICKJS_LIMITS = Object.freeze({
  memory: "64m",
  stackSize: "1m",
  timeoutMs: 30_000,
  /** How long past the deadline the worker may take to notice its interrupt before it is terminated. */
  watchdogGraceMs: 200,
});

/** How long a cold worker may take to load QuickJS before its run's deadline starts counting. */
const WORKER_START_ALLOWANCE_MS = 30_000;

export interface QuickJSOptions {
  /** Workspace the guest's `workspace.readFile/writeFile/listFiles` reach. Default: a temporary one the sandbox owns. */
  readonly workspace?: string;
  /** QuickJS heap limit (default 64m); past it the run fails with `oomKilled`. */
  readonly memory?: number | string;
  /** QuickJS stack limit (default 1m); deep recursion fails with a RangeError. */
  readonly stackSize?: number | string;
  /** Deadline of a run unless `runCode` gives one (default 30 s). */
  readonly timeoutMs?: number;
  /** Grace after the deadline before the worker thread is terminated (default 200 ms). */
  readonly watchdogGraceMs?: number;
  /** Workspace paths the guest may not read or write (default `DEFAULT_MASK_PATHS`, as bubblewrap masks). */
  readonly maskPaths?: readonly string[];
}

/**
 * JavaScript in QuickJS compiled to WebAssembly, in a worker thread: no Node API, no file system but
 * the workspace's text files through a `workspace` object, no network, no processes. A run has a heap
 * limit, a stack limit and an interrupt deadline; a run that outlives its deadline anyway (a native
 * built-in that never reaches an interrupt check) has its worker terminated by a watchdog. There is no
 * shell: `exec` throws `SandboxUnsupportedError`.
 *
 * @example
 * const js = new QuickJSSandbox({ memory: "32m" });
 * const r = await js.runCode("javascript", "console.log(6 * 7)", { timeoutMs: 1000 });
 * console.log(r.stdout); // "42\n"
 * await js.dispose();
 */
export class QuickJSSandbox implements Sandbox {
  readonly name = "quickjs";
  readonly capabilities: SandboxCapabilities = Object.freeze({
    isolation: "wasm",
    network: Object.freeze(["none"] as const),
    limits: Object.freeze(["time", "output", "memory"] as const),
    languages: Object.freeze(["javascript"] as const),
  });
  readonly workspace: string;
  readonly #owned: boolean;
  readonly #memoryBytes: number;
  readonly #stackBytes: number;
  readonly #timeoutMs: number;
  readonly #graceMs: number;
  readonly #maskPaths: readonly string[];
  /** A loaded worker waiting for the next run (the QuickJS module loads once per worker). */
  #idle: Worker | undefined;
  readonly #busy = new Set<Worker>();
  #nextId = 1;
  #disposed = false;

  constructor(options: QuickJSOptions = {}) {
    const d = DEFAULT_QUICKJS_LIMITS;
    this.#memoryBytes = parseSize(options.memory ?? d.memory, "memory");
    this.#stackBytes = parseSize(options.stackSize ?? d.stackSize, "stackSize");
    this.#timeoutMs = options.timeoutMs ?? d.timeoutMs;
    checkTimeout(this.#timeoutMs);
    this.#graceMs = options.watchdogGraceMs ?? d.watchdogGraceMs;
    checkTimeout(this.#graceMs);
    this.#maskPaths = options.maskPaths ?? DEFAULT_MASK_PATHS;
    const { root, owned } = openWorkspace(options.workspace);
    this.workspace = root;
    this.#owned = owned;
  }

  /** Always throws: WebAssembly has no shell and no processes. */
  async exec(command: string | readonly string[], _options?: ExecOptions): Promise<ExecResult> {
    this.#checkOpen();
    throw new SandboxUnsupportedError(
      `The ${this.name} sandbox has no shell, so it cannot run ${JSON.stringify(command)}; run JavaScript with runCode("javascript", …), or use the bubblewrap backend for shell commands.`,
      { backend: this.name },
    );
  }

  async runCode(
    language: CodeLanguage,
    code: string,
    options: Omit<ExecOptions, "stdin"> = {},
  ): Promise<ExecResult> {
    this.#checkOpen();
    if (language !== "javascript")
      throw new SandboxError(`The ${this.name} sandbox runs only javascript, not ${language}.`, {
        language,
        available: this.capabilities.languages,
      });
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    checkTimeout(timeoutMs);
    const cwd = await resolveCwd(this.workspace, options.cwd);
    const started = performance.now();
    const result = (r: Partial<ExecResult>): ExecResult => ({
      stdout: "",
      stderr: "",
      exitCode: null,
      signal: null,
      timedOut: false,
      oomKilled: false,
      truncated: false,
      ...r,
      durationMs: Math.round(performance.now() - started),
    });
    // Disposed, reset or aborted while the cwd was being checked: start nothing.
    if (options.signal?.aborted || this.#disposed) return result({ signal: "SIGKILL" });
    const worker = this.#take();
    const id = this.#nextId++;
    const job: QuickJSJob = {
      id,
      code,
      timeoutMs,
      memoryBytes: this.#memoryBytes,
      stackBytes: this.#stackBytes,
      maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      workspace: this.workspace,
      cwd,
      maskPaths: this.#maskPaths,
      env: { ...options.env },
    };
    return await new Promise<ExecResult>((resolve) => {
      let done = false;
      const finish = (r: ExecResult, keepWorker: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(watchdog);
        options.signal?.removeEventListener("abort", onAbort);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        this.#busy.delete(worker);
        if (keepWorker && !this.#disposed && !this.#idle) this.#idle = worker;
        else void worker.terminate();
        resolve(r);
      };
      // The deadline's last resort: the worker thread dies with whatever it was doing. Until the code
      // starts, a cold worker may still be loading QuickJS: that gets its own allowance.
      const expire = () =>
        finish(result({ timedOut: true, signal: "SIGKILL", stoppedBy: "watchdog" }), false);
      let watchdog = setTimeout(expire, timeoutMs + this.#graceMs + WORKER_START_ALLOWANCE_MS);
      const onAbort = () => finish(result({ signal: "SIGKILL" }), false);
      const onMessage = (o: QuickJSOutcome | QuickJSStarted) => {
        if (o.id !== id) return;
        if ("started" in o) {
          clearTimeout(watchdog);
          watchdog = setTimeout(expire, timeoutMs + this.#graceMs);
          return;
        }
        finish(
          result({
            stdout: o.stdout,
            stderr: o.stderr,
            exitCode: o.exitCode,
            timedOut: o.interrupted,
            oomKilled: o.outOfMemory,
            truncated: o.truncated,
            ...(o.interrupted ? { stoppedBy: "interrupt" as const } : {}),
          }),
          // A runtime that ran out of memory or was interrupted may not have freed cleanly: start afresh.
          !o.outOfMemory && !o.interrupted,
        );
      };
      const onError = (err: Error) =>
        finish(result({ stderr: `QuickJS worker failed: ${err.message}\n`, exitCode: null }), false);
      const onExit = () => finish(result({ signal: "SIGKILL" }), false);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      worker.postMessage(job);
    });
  }

  async putFile(p: string, data: string | Uint8Array): Promise<void> {
    this.#checkOpen();
    return putHostFile(this.workspace, p, data);
  }

  async getFile(p: string): Promise<Uint8Array> {
    this.#checkOpen();
    return getHostFile(this.workspace, p);
  }

  async reset(): Promise<void> {
    this.#checkOpen();
    this.#terminateAll();
    if (this.#owned) await emptyDirectory(this.workspace);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#terminateAll();
    if (this.#owned) await rm(this.workspace, { recursive: true, force: true });
  }

  /** Starts loading a worker now, so the first run does not pay for it. */
  warm(): void {
    this.#checkOpen();
    this.#idle ??= this.#spawn();
  }

  #take(): Worker {
    const w = this.#idle ?? this.#spawn();
    this.#idle = undefined;
    this.#busy.add(w);
    return w;
  }

  #spawn(): Worker {
    const w = new Worker(compiledScript(import.meta.url, "quickjs-worker"), {
      // The guest never sees these; they bound the worker's own JS heap besides QuickJS's limit.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
      env: {},
      stdout: false,
      stderr: false,
    });
    w.unref();
    w.on("error", () => {}); // reported to the run that owns it
    return w;
  }

  #terminateAll(): void {
    for (const w of this.#busy) void w.terminate();
    if (this.#idle) void this.#idle.terminate();
    this.#idle = undefined;
  }

  #checkOpen(): void {
    if (this.#disposed)
      throw new SandboxError(`This ${this.name} sandbox was disposed; create a new one to run code.`);
  }
}
