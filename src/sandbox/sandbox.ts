/**
 * Where commands and code run. Every backend (bubblewrap, and `UnsafeLocalProcess`, which isolates
 * nothing) implements this interface and passes the one contract suite exported from `rein/testing`
 * (`sandboxContract`).
 */

export interface ExecOptions {
  /** Working directory relative to the sandbox's workspace (default: the workspace root). */
  readonly cwd?: string;
  /** The complete environment of the process: nothing of the host's is passed unless listed here. */
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: string | Uint8Array;
  /** Wall-clock limit; the whole process tree is killed when it passes. */
  readonly timeoutMs?: number;
  /** Cap on stdout and stderr, each; output past it is dropped and `truncated` is set. */
  readonly maxOutputBytes?: number;
  readonly signal?: AbortSignal;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** null when the process was killed by a signal. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** The memory limit was hit and the kernel's OOM killer killed a process of the command. */
  readonly oomKilled: boolean;
  readonly truncated: boolean;
  readonly durationMs: number;
  /**
   * Milliseconds from the call until the command was running inside the sandbox (bubblewrap: until it
   * reported the command's pid, so workspace scan, cgroup and namespace set-up are included). Absent
   * when the command never started.
   */
  readonly startupMs?: number;
  /**
   * How the time limit stopped a WebAssembly run (`timedOut` is true): `interrupt` when the interpreter
   * stopped itself at the deadline, `watchdog` when it did not (a native built-in that never checks) and
   * its worker thread or process was killed. Absent for process sandboxes.
   */
  readonly stoppedBy?: "interrupt" | "watchdog";
}

/** Languages `runCode` may accept; `capabilities.languages` says which this sandbox really has. */
export const CODE_LANGUAGES = ["python", "javascript", "shell"] as const;
export type CodeLanguage = (typeof CODE_LANGUAGES)[number];

/** Limits a backend can enforce; `capabilities.limits` lists only those that hold on this host. */
export const SANDBOX_LIMITS = ["time", "output", "memory", "cpu", "pids", "disk"] as const;
export type SandboxLimit = (typeof SANDBOX_LIMITS)[number];

export interface SandboxCapabilities {
  /**
   * `none` means the command runs as the host user with the host's view of everything;
   * `user-space-kernel` is gVisor (the command's syscalls are served by a kernel in user space).
   */
  readonly isolation: "none" | "namespaces" | "container" | "microvm" | "wasm" | "user-space-kernel";
  /** Network modes this sandbox can be configured with; the first is its current mode. */
  readonly network: readonly ("none" | "host" | "proxy")[];
  /** Limits enforced on this host, measured when the sandbox was created (a test checks each one). */
  readonly limits: readonly SandboxLimit[];
  /** Languages `runCode` can run here (an interpreter is present in the sandbox's view). */
  readonly languages: readonly CodeLanguage[];
}

export interface Sandbox {
  readonly name: string;
  readonly capabilities: SandboxCapabilities;
  /** The host directory the sandbox sees as its workspace. */
  readonly workspace: string;
  /** A string runs through `/bin/sh -c`; an array is an argv run without a shell. */
  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Runs a program given as source: `python` (python3), `javascript` (node) or `shell` (/bin/sh).
   * The source is fed on stdin. Throws a `SandboxError` for a language not in `capabilities.languages`.
   */
  runCode(language: CodeLanguage, code: string, options?: Omit<ExecOptions, "stdin">): Promise<ExecResult>;
  /** Writes a file in the workspace (path relative to it), with the sandbox's own view and identity. */
  putFile(path: string, data: string | Uint8Array): Promise<void>;
  /** Reads a file of the workspace (path relative to it), with the sandbox's own view and identity. */
  getFile(path: string): Promise<Uint8Array>;
  /**
   * A clean state, e.g. between eval runs: kills every running command; a workspace the sandbox
   * created itself is emptied (a caller's workspace is never deleted).
   */
  reset(): Promise<void>;
  /** Kills every running command and releases what the sandbox holds; later calls throw. */
  dispose(): Promise<void>;
}
