import { createRequire } from "node:module";
import path from "node:path";
import { PassThrough } from "node:stream";
import { SandboxError, SandboxUnsupportedError } from "../../protocol/errors.js";
import { type BubblewrapOptions, BubblewrapSandbox } from "../bubblewrap/bubblewrap-sandbox.js";
import { DEFAULT_MASK_PATHS, maskMatcher, scanWorkspace } from "../bubblewrap/masks.js";
import { checkTimeout, resolveCwd } from "../exec-input.js";
import type { CodeLanguage, ExecOptions, ExecResult, Sandbox, SandboxCapabilities } from "../sandbox.js";
import { DEFAULT_MAX_OUTPUT_BYTES } from "../supervise.js";
import { WarmPool } from "../warm-pool.js";
import { compiledScript } from "./worker-script.js";

/** Must equal READY_MARKER in pyodide-runner.ts. */
const READY_MARKER = "\u0000rein-pyodide-ready\n";

export const DEFAULT_PYODIDE_LIMITS = Object.freeze({
  /** Node and Pyodide take ~170 MB before any Python runs. */
  memory: "768m",
  timeoutMs: 60_000,
  /** Most output a run can return (its `maxOutputBytes` is clamped to it): the process is started before the run is known. */
  maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES,
});

/** A warm interpreter lives at most this long unused before bubblewrap's timeout ends it. */
const IDLE_LIFETIME_MS = 6 * 60 * 60_000;

export interface PyodideOptions {
  /** The workspace, bound read-write as bubblewrap binds it (masks apply). Default: a temporary one the sandbox owns. */
  readonly workspace?: string;
  /** Memory of the interpreter's whole process (default 768m; Node and Pyodide need ~170 MB). */
  readonly memory?: number | string;
  /** Deadline of a run unless `runCode` gives one (default 60 s): the interpreter's process is killed at it. */
  readonly timeoutMs?: number;
  /** Warm interpreters kept ready (default 0: each run starts one, ~2 s). */
  readonly poolSize?: number;
  /** Workspace paths hidden from Python (default `DEFAULT_MASK_PATHS`). */
  readonly maskPaths?: readonly string[];
  /** Passed to the bubblewrap sandbox the interpreters run in (`limitsVia`, `user`, `bwrapPath`). */
  readonly bubblewrap?: Pick<BubblewrapOptions, "limitsVia" | "user" | "bwrapPath">;
}

/** One warm interpreter: a bubblewrap-sandboxed Node process with Pyodide loaded, waiting for one job. */
interface Interpreter {
  readonly input: PassThrough;
  readonly kill: AbortController;
  readonly result: Promise<ExecResult>;
  /** Masked workspace paths when it started: a path masked since then means it must not be used. */
  readonly masked: ReadonlySet<string>;
}

/**
 * Python in Pyodide (CPython compiled to WebAssembly). Pyodide is **not** a sandbox in process — Python
 * reaches Node's `process`, `fs` and `net` through `import js` — so each interpreter is a Node child
 * inside bubblewrap (no network, no host environment, an allowlisted read-only view plus node and the
 * pyodide package, the workspace bound with its secrets masked, cgroup memory limit), talking over
 * stdio. An interpreter runs one program and ends; a warm pool (`poolSize`) keeps interpreters loaded
 * so a run does not wait for Pyodide's start. There is no shell: `exec` throws `SandboxUnsupportedError`.
 *
 * @example
 * const py = new PyodideSandbox({ workspace: "./project", poolSize: 1 });
 * await py.warm();
 * const r = await py.runCode("python", "print(sum(range(10)))", { timeoutMs: 5000 });
 * await py.dispose();
 */
export class PyodideSandbox implements Sandbox {
  readonly name = "pyodide";
  readonly capabilities: SandboxCapabilities;
  readonly #bwrap: BubblewrapSandbox;
  readonly #pool: WarmPool<Interpreter>;
  readonly #runner: string;
  readonly #pyodideDir: string;
  readonly #timeoutMs: number;
  readonly #isMasked: (rel: string) => boolean;
  readonly #live = new Set<Interpreter>();
  #disposed = false;

  constructor(options: PyodideOptions = {}) {
    this.#runner = compiledScript(import.meta.url, "pyodide-runner");
    this.#pyodideDir = path.dirname(createRequire(import.meta.url).resolve("pyodide/package.json"));
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_PYODIDE_LIMITS.timeoutMs;
    checkTimeout(this.#timeoutMs);
    const maskPaths = options.maskPaths ?? DEFAULT_MASK_PATHS;
    this.#bwrap = new BubblewrapSandbox({
      ...options.bubblewrap,
      workspace: options.workspace,
      memory: options.memory ?? DEFAULT_PYODIDE_LIMITS.memory,
      // Node's own threads count against pids; Python in WebAssembly cannot fork.
      pids: 64,
      maskPaths,
      timeoutMs: IDLE_LIFETIME_MS,
      readOnlyBinds: [process.execPath, this.#pyodideDir, this.#runner],
    });
    this.#isMasked = maskMatcher(this.#bwrap.workspace, maskPaths);
    const limits = this.#bwrap.capabilities.limits;
    this.capabilities = Object.freeze({
      isolation: "wasm",
      network: Object.freeze(["none"] as const),
      limits: Object.freeze(limits.filter((l) => l === "time" || l === "output" || l === "memory")),
      languages: Object.freeze(["python"] as const),
    });
    this.#pool = new WarmPool<Interpreter>({
      size: options.poolSize ?? 0,
      create: (signal) => this.#start(signal),
      destroy: (i) => this.#kill(i),
      usable: (i) => this.#stillMasked(i),
    });
  }

  get workspace(): string {
    return this.#bwrap.workspace;
  }

  /** The warm pool: `ready` and `warming` counts, `fill()`. */
  get pool(): WarmPool<Interpreter> {
    return this.#pool;
  }

  /** Fills the warm pool and resolves once it is ready. */
  async warm(): Promise<void> {
    this.#checkOpen();
    await this.#pool.fill();
  }

  /** Always throws: Python runs in WebAssembly here, with no shell and no processes. */
  async exec(command: string | readonly string[], _options?: ExecOptions): Promise<ExecResult> {
    this.#checkOpen();
    throw new SandboxUnsupportedError(
      `The ${this.name} sandbox has no shell, so it cannot run ${JSON.stringify(command)}; run Python with runCode("python", …), or use the bubblewrap backend for shell commands.`,
      { backend: this.name },
    );
  }

  async runCode(
    language: CodeLanguage,
    code: string,
    options: Omit<ExecOptions, "stdin"> = {},
  ): Promise<ExecResult> {
    this.#checkOpen();
    if (language !== "python")
      throw new SandboxError(`The ${this.name} sandbox runs only python, not ${language}.`, {
        language,
        available: this.capabilities.languages,
      });
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    checkTimeout(timeoutMs);
    const cwd = await resolveCwd(this.workspace, options.cwd);
    const cap = Math.min(
      options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      DEFAULT_PYODIDE_LIMITS.maxOutputBytes,
    );
    const notRun = (): ExecResult => ({
      stdout: "",
      stderr: "",
      exitCode: null,
      signal: "SIGKILL",
      timedOut: false,
      oomKilled: false,
      truncated: false,
      durationMs: 0,
    });
    if (options.signal?.aborted) return notRun();
    const interp = await this.#pool.acquire().catch((err: unknown) => {
      if (this.#disposed) throw new SandboxError(`This ${this.name} sandbox was disposed.`);
      throw err;
    });
    if (options.signal?.aborted) {
      this.#kill(interp);
      return notRun();
    }
    const started = performance.now();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      interp.kill.abort();
    }, timeoutMs);
    const onAbort = () => interp.kill.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    interp.input.end(JSON.stringify({ code, cwd, env: { ...options.env } }));
    try {
      const r = await interp.result;
      const out = clip(
        r.stdout.startsWith(READY_MARKER) ? r.stdout.slice(READY_MARKER.length) : r.stdout,
        cap,
      );
      const err = clip(r.stderr, cap);
      return {
        ...r,
        stdout: out.text,
        stderr: err.text,
        truncated: r.truncated || out.clipped || err.clipped,
        timedOut,
        ...(timedOut ? { stoppedBy: "watchdog" as const } : {}),
        durationMs: Math.round(performance.now() - started),
      };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      this.#live.delete(interp);
    }
  }

  async putFile(p: string, data: string | Uint8Array): Promise<void> {
    this.#checkOpen();
    return this.#bwrap.putFile(p, data);
  }

  async getFile(p: string): Promise<Uint8Array> {
    this.#checkOpen();
    return this.#bwrap.getFile(p);
  }

  async reset(): Promise<void> {
    this.#checkOpen();
    for (const i of this.#live) this.#kill(i);
    await this.#bwrap.reset();
  }

  /** Drains the pool, kills every interpreter, and releases the bubblewrap sandbox. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#pool.drain();
    for (const i of this.#live) this.#kill(i);
    await this.#bwrap.dispose();
  }

  /** Starts an interpreter and resolves once Pyodide is loaded in it. */
  async #start(cancel?: AbortSignal): Promise<Interpreter> {
    this.#checkOpen();
    const scan = await scanWorkspace(this.workspace, this.#isMasked);
    const input = new PassThrough();
    const kill = new AbortController();
    let seen = "";
    let onReady!: () => void;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    const result = this.#bwrap.execStreaming(
      [process.execPath, this.#runner, this.#pyodideDir, this.workspace],
      {
        input,
        signal: kill.signal,
        maxOutputBytes: DEFAULT_PYODIDE_LIMITS.maxOutputBytes + READY_MARKER.length,
        onStdout: (chunk) => {
          if (seen.length >= READY_MARKER.length) return;
          seen += chunk.toString("latin1");
          if (seen.startsWith(READY_MARKER)) onReady();
        },
      },
    );
    const interp: Interpreter = {
      input,
      kill,
      result,
      masked: new Set(scan.masked.map((m) => m.path)),
    };
    this.#live.add(interp);
    // The pool drained while this one was still loading: kill it now rather than wait for it.
    const onCancel = () => kill.abort();
    cancel?.addEventListener("abort", onCancel, { once: true });
    if (cancel?.aborted) kill.abort();
    const ended = result.then(
      (r) => {
        throw new SandboxError(
          `The Pyodide interpreter ended before it was ready (exit ${r.exitCode ?? r.signal}${r.oomKilled ? ", out of memory" : ""}): ${r.stderr.trim().slice(0, 2000)}`,
          { exitCode: r.exitCode, signal: r.signal, oomKilled: r.oomKilled },
        );
      },
      (err: unknown) => {
        throw err;
      },
    );
    try {
      await Promise.race([ready, ended]);
    } catch (err) {
      this.#live.delete(interp);
      throw err;
    } finally {
      cancel?.removeEventListener("abort", onCancel);
    }
    return interp;
  }

  async #stillMasked(i: Interpreter): Promise<boolean> {
    // Killed while waiting (reset), or no longer masking what the workspace now holds: not usable.
    if (this.#disposed || i.kill.signal.aborted) return false;
    const now = await scanWorkspace(this.workspace, this.#isMasked);
    return now.masked.every((m) => i.masked.has(m.path));
  }

  #kill(i: Interpreter): void {
    i.kill.abort();
    i.input.destroy();
    this.#live.delete(i);
    i.result.catch(() => {});
  }

  #checkOpen(): void {
    if (this.#disposed)
      throw new SandboxError(`This ${this.name} sandbox was disposed; create a new one to run code.`);
  }
}

function clip(text: string, cap: number): { text: string; clipped: boolean } {
  if (Buffer.byteLength(text) <= cap) return { text, clipped: false };
  return { text: Buffer.from(text).subarray(0, cap).toString("utf8"), clipped: true };
}
