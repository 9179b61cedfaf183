/**
 * Where commands run. Backends (bubblewrap, Docker, WebAssembly) implement this interface and pass
 * one contract suite. Until the sandbox issue lands the only backend is `UnsafeLocalProcess`,
 * which isolates nothing and says so in its name and capabilities.
 */

export interface ExecOptions {
  /** Working directory relative to the sandbox's workspace (default: the workspace root). */
  readonly cwd?: string;
  /** The complete environment of the process: nothing of the host's is passed unless listed here. */
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: string;
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
  readonly oomKilled: boolean;
  readonly truncated: boolean;
  readonly durationMs: number;
}

export interface SandboxCapabilities {
  /** `none` means the command runs as the host user with the host's view of everything. */
  readonly isolation: "none" | "namespaces" | "container" | "microvm" | "wasm";
  readonly network: readonly ("none" | "host" | "proxy")[];
  readonly limits: readonly ("time" | "output" | "memory" | "cpu" | "pids" | "disk")[];
}

export interface Sandbox {
  readonly name: string;
  readonly capabilities: SandboxCapabilities;
  /** The host directory the sandbox sees as its workspace. */
  readonly workspace: string;
  /** A string runs through `/bin/sh -c`; an array is an argv run without a shell. */
  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
  dispose(): Promise<void>;
}
