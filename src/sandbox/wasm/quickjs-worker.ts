/**
 * The worker thread that evaluates JavaScript in QuickJS for `QuickJSSandbox`. One QuickJS runtime and
 * context per run, with a memory limit, a stack limit and an interrupt deadline; the main thread
 * terminates this whole worker if a run outlives the deadline anyway (a native built-in that never
 * reaches an interrupt check). The guest sees no Node API: only `console`, `env` (what the caller
 * passed) and `workspace` (text files of the workspace, confined and masked like bubblewrap's view).
 */
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { parentPort } from "node:worker_threads";
import type { QuickJSContext, QuickJSHandle, QuickJSWASMModule } from "quickjs-emscripten";
import { maskMatcher } from "../bubblewrap/masks.js";

export interface QuickJSJob {
  readonly id: number;
  readonly code: string;
  /** The run's time limit, counted from when the code starts (not from the worker's start). */
  readonly timeoutMs: number;
  readonly memoryBytes: number;
  readonly stackBytes: number;
  readonly maxOutputBytes: number;
  readonly workspace: string;
  /** Host directory the guest's relative paths start from (inside the workspace). */
  readonly cwd: string;
  readonly maskPaths: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** Sent when the code starts running: the main thread's watchdog counts from here. */
export interface QuickJSStarted {
  readonly id: number;
  readonly started: true;
}

export interface QuickJSOutcome {
  readonly id: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly interrupted: boolean;
  readonly outOfMemory: boolean;
  readonly truncated: boolean;
}

/** Largest workspace file the guest may read, and the most bytes it may write per file. */
const MAX_GUEST_FILE_BYTES = 16 * 1024 * 1024;

let module: Promise<QuickJSWASMModule> | undefined;

/**
 * QuickJS's own memory limit misses many allocations in this build (its accounting counts block
 * overhead, not sizes: 200 MB of typed arrays passed a 64 MB limit), so the hard limit is the
 * WebAssembly memory itself: it may grow to the module's initial 16 MiB plus the sandbox's memory, no
 * further, and an allocation past it fails inside QuickJS as "out of memory".
 */
async function loadModule(memoryBytes: number): Promise<QuickJSWASMModule> {
  const { newQuickJSWASMModuleFromVariant, newVariant } = await import("quickjs-emscripten");
  const { default: base } = await import("@jitl/quickjs-wasmfile-release-sync");
  const page = 65536;
  const initial = 256; // the variant's own initial size (16 MiB)
  // (WebAssembly is a Node global the ES2023 lib does not declare.)
  const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: object) => never } }).WebAssembly;
  const wasmMemory = new wasm.Memory({ initial, maximum: initial + Math.ceil(memoryBytes / page) });
  return newQuickJSWASMModuleFromVariant(newVariant(base as never, { wasmMemory }));
}

parentPort?.on("message", (job: QuickJSJob) => {
  module ??= loadModule(job.memoryBytes);
  module.then(
    (qjs) => {
      parentPort?.postMessage({ id: job.id, started: true } satisfies QuickJSStarted);
      parentPort?.postMessage(run(qjs, job, Date.now() + job.timeoutMs));
    },
    (err: unknown) =>
      parentPort?.postMessage({
        id: job.id,
        stdout: "",
        stderr: `QuickJS could not load: ${String(err)}\n`,
        exitCode: null,
        interrupted: false,
        outOfMemory: false,
        truncated: false,
      } satisfies QuickJSOutcome),
  );
});

class Capped {
  text = "";
  bytes = 0;
  truncated = false;
  constructor(readonly max: number) {}
  push(s: string): void {
    const b = Buffer.byteLength(s);
    if (this.bytes + b <= this.max) {
      this.text += s;
      this.bytes += b;
      return;
    }
    this.truncated = true;
    const room = this.max - this.bytes;
    if (room > 0) {
      this.text += Buffer.from(s).subarray(0, room).toString("utf8");
      this.bytes = this.max;
    }
  }
}

function run(qjs: QuickJSWASMModule, job: QuickJSJob, deadline: number): QuickJSOutcome {
  const stdout = new Capped(job.maxOutputBytes);
  const stderr = new Capped(job.maxOutputBytes);
  const rt = qjs.newRuntime();
  rt.setMemoryLimit(job.memoryBytes);
  rt.setMaxStackSize(job.stackBytes);
  let interrupted = false;
  rt.setInterruptHandler(() => {
    if (Date.now() >= deadline) interrupted = true;
    return interrupted;
  });
  const ctx = rt.newContext();
  let exitCode: number | null = 0;
  let outOfMemory = false;
  try {
    installGlobals(ctx, job, stdout, stderr);
    const result = ctx.evalCode(job.code, "main.js");
    if (result.error) {
      exitCode = 1;
      const message = describeError(ctx, result.error);
      result.error.dispose();
      if (/out of memory/i.test(message)) outOfMemory = true;
      stderr.push(`${message}\n`);
    } else {
      result.value.dispose();
      // Promise callbacks (async functions, then) run until none is left or the deadline interrupts.
      for (;;) {
        const jobs = rt.executePendingJobs();
        if (jobs.error) {
          exitCode = 1;
          const message = describeError(ctx, jobs.error);
          jobs.error.dispose();
          if (/out of memory/i.test(message)) outOfMemory = true;
          stderr.push(`${message}\n`);
          break;
        }
        if (jobs.value === 0) break;
      }
    }
  } catch (err) {
    exitCode = 1;
    stderr.push(`${String(err)}\n`);
  }
  if (interrupted) exitCode = null;
  try {
    ctx.dispose();
    rt.dispose();
  } catch {
    // A runtime that ran out of memory may not free cleanly; the worker is discarded after an error run.
  }
  return {
    id: job.id,
    stdout: stdout.text,
    stderr: stderr.text,
    exitCode,
    interrupted,
    outOfMemory,
    truncated: stdout.truncated || stderr.truncated,
  };
}

function describeError(ctx: QuickJSContext, handle: QuickJSHandle): string {
  const e = ctx.dump(handle) as unknown;
  if (e && typeof e === "object") {
    const o = e as { name?: unknown; message?: unknown; stack?: unknown };
    const head = `${String(o.name ?? "Error")}: ${String(o.message ?? "")}`;
    if (typeof o.stack !== "string" || o.stack === "") return head;
    // A stack overflow's trace repeats one frame thousands of times: keep the top.
    const frames = o.stack.trimEnd().split("\n");
    const kept = frames.slice(0, 20).join("\n");
    return frames.length > 20
      ? `${head}\n${kept}\n    … ${frames.length - 20} more frames`
      : `${head}\n${kept}`;
  }
  return `Uncaught ${String(e)}`;
}

function installGlobals(ctx: QuickJSContext, job: QuickJSJob, stdout: Capped, stderr: Capped): void {
  const text = (args: QuickJSHandle[]) =>
    args
      .map((a) => {
        const v = ctx.dump(a) as unknown;
        return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
      })
      .join(" ");
  const consoleObj = ctx.newObject();
  for (const [name, sink] of [
    ["log", stdout],
    ["info", stdout],
    ["error", stderr],
    ["warn", stderr],
  ] as const) {
    const fn = ctx.newFunction(name, (...args) => {
      sink.push(`${text(args)}\n`);
    });
    ctx.setProp(consoleObj, name, fn);
    fn.dispose();
  }
  ctx.setProp(ctx.global, "console", consoleObj);
  consoleObj.dispose();

  const envJson = ctx.evalCode(`Object.freeze(${JSON.stringify(job.env)})`);
  if (!envJson.error) {
    ctx.setProp(ctx.global, "env", envJson.value);
    envJson.value.dispose();
  } else envJson.error.dispose();

  const files = new GuestFiles(job.workspace, job.cwd, maskMatcher(job.workspace, job.maskPaths));
  const ws = ctx.newObject();
  const define = (name: string, body: (...args: QuickJSHandle[]) => QuickJSHandle | undefined) => {
    const fn = ctx.newFunction(name, (...args) => {
      try {
        return body(...args);
      } catch (err) {
        // A refused path becomes an Error thrown inside the guest, which it may catch.
        return { error: ctx.newError((err as Error).message) };
      }
    });
    ctx.setProp(ws, name, fn);
    fn.dispose();
  };
  define("readFile", (p) => ctx.newString(files.read(ctx.getString(p!))));
  define("writeFile", (p, data) => {
    files.write(ctx.getString(p!), ctx.getString(data!));
    return undefined;
  });
  define("listFiles", (p) => {
    const names = files.list(p ? ctx.getString(p) : ".");
    const arr = ctx.newArray();
    names.forEach((n, i) => {
      const s = ctx.newString(n);
      ctx.setProp(arr, i, s);
      s.dispose();
    });
    return arr;
  });
  ctx.setProp(ctx.global, "workspace", ws);
  ws.dispose();
}

/**
 * The guest's only way to the disk: workspace-relative text files. The path must stay inside the
 * workspace lexically and after resolving its folder; the file itself is opened with O_NOFOLLOW (a
 * planted symlink is refused), must be a regular file, and masked paths (.env, .ssh, …) are denied.
 */
class GuestFiles {
  constructor(
    readonly workspace: string,
    readonly cwd: string,
    readonly isMasked: (rel: string) => boolean,
  ) {}

  #resolve(p: string, createParents: boolean): { full: string; rel: string } {
    if (typeof p !== "string" || p === "" || p.includes("\0"))
      throw new Error(`invalid path ${JSON.stringify(p)}`);
    if (path.isAbsolute(p)) throw new Error(`${p}: absolute paths are outside the workspace`);
    const lexical = path.resolve(this.cwd, p);
    const inside = (q: string) => q === this.workspace || q.startsWith(`${this.workspace}/`);
    if (!inside(lexical) || lexical === this.workspace) throw new Error(`${p}: outside the workspace`);
    const rel = path.relative(this.workspace, lexical);
    if (rel.split("/").some((_, i, parts) => this.isMasked(parts.slice(0, i + 1).join("/"))))
      throw new Error(`${p}: denied (a masked path)`);
    const parent = path.dirname(lexical);
    if (createParents) mkdirSync(parent, { recursive: true });
    let real: string;
    try {
      real = realpathSync(parent);
    } catch {
      throw new Error(`${p}: no such file or directory`);
    }
    if (!inside(real)) throw new Error(`${p}: resolves outside the workspace`);
    return { full: path.join(real, path.basename(lexical)), rel };
  }

  read(p: string): string {
    const { full } = this.#resolve(p, false);
    let fd: number;
    try {
      fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      throw new Error(`${p}: ${(err as NodeJS.ErrnoException).code ?? "cannot open"}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new Error(`${p}: not a regular file`);
      if (st.size > MAX_GUEST_FILE_BYTES) throw new Error(`${p}: larger than ${MAX_GUEST_FILE_BYTES} bytes`);
      return readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  }

  write(p: string, data: string): void {
    if (Buffer.byteLength(data) > MAX_GUEST_FILE_BYTES)
      throw new Error(`${p}: more than ${MAX_GUEST_FILE_BYTES} bytes`);
    const { full } = this.#resolve(p, true);
    let fd: number;
    try {
      fd = openSync(
        full,
        constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
        0o644,
      );
    } catch (err) {
      throw new Error(`${p}: ${(err as NodeJS.ErrnoException).code ?? "cannot open"}`);
    }
    try {
      if (!fstatSync(fd).isFile()) throw new Error(`${p}: not a regular file`);
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
  }

  list(p: string): string[] {
    const dir = p === "." || p === "" ? this.cwd : this.#resolve(p, false).full;
    const real = realpathSync(dir);
    if (real !== this.workspace && !real.startsWith(`${this.workspace}/`))
      throw new Error(`${p}: resolves outside the workspace`);
    return readdirSync(real)
      .filter((n) => !this.isMasked(path.relative(this.workspace, path.join(real, n))))
      .sort();
  }
}
