import { SandboxError } from "../protocol/errors.js";
import { type BubblewrapOptions, BubblewrapSandbox } from "./bubblewrap/bubblewrap-sandbox.js";
import type { Sandbox } from "./sandbox.js";
import { UnsafeLocalProcess } from "./unsafe-local-process.js";

/** Backends `createSandbox` can build: `bubblewrap` (the default on Linux) and `none` (no isolation). */
export const SANDBOX_BACKENDS = ["bubblewrap", "none"] as const;
export type SandboxBackend = (typeof SANDBOX_BACKENDS)[number];

export interface CreateSandboxOptions extends BubblewrapOptions {
  /** Default `bubblewrap`. `none` is UnsafeLocalProcess: only when asked for by name. */
  readonly backend?: SandboxBackend;
}

/**
 * Builds a sandbox by backend name. A missing bubblewrap is a `SandboxError` with the install
 * command: there is never a silent fallback to `none`.
 *
 * @example
 * const sandbox = createSandbox({ workspace: "./project", memory: "256m" });
 */
export function createSandbox(options: CreateSandboxOptions = {}): Sandbox {
  const { backend = "bubblewrap", ...rest } = options;
  switch (backend) {
    case "bubblewrap":
      return new BubblewrapSandbox(rest);
    case "none":
      return new UnsafeLocalProcess({ workspace: rest.workspace });
    default:
      throw new SandboxError(
        `Unknown sandbox backend ${JSON.stringify(backend)}; use one of ${SANDBOX_BACKENDS.join(", ")}.`,
        { backend },
      );
  }
}

/** The warning every surface prints when commands will run without isolation. */
export const NO_ISOLATION_WARNING =
  "--sandbox none: run_shell and run_code run as YOUR user with full access to your files, network and environment. Use it only in a throwaway workspace.";
