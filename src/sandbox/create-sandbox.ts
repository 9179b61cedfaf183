import { SandboxError } from "../protocol/errors.js";
import { type BubblewrapOptions, BubblewrapSandbox } from "./bubblewrap/bubblewrap-sandbox.js";
import { DockerSandbox, type DockerSandboxOptions } from "./docker/docker-sandbox.js";
import type { Sandbox } from "./sandbox.js";
import { UnsafeLocalProcess } from "./unsafe-local-process.js";

/**
 * Backends `createSandbox` can build: `bubblewrap` (the default on Linux), `none` (no isolation),
 * `docker` (a container per sandbox) and `gvisor` (the same container under gVisor's runsc).
 */
export const SANDBOX_BACKENDS = ["bubblewrap", "none", "docker", "gvisor"] as const;
export type SandboxBackend = (typeof SANDBOX_BACKENDS)[number];

export interface CreateSandboxOptions extends BubblewrapOptions {
  /** Default `bubblewrap`. `none` is UnsafeLocalProcess: only when asked for by name. */
  readonly backend?: SandboxBackend;
  /** docker and gvisor: the container settings (image, runtime, engine socket). */
  readonly docker?: Pick<DockerSandboxOptions, "image" | "runtime" | "socketPath">;
}

/**
 * Builds a sandbox by backend name. A missing bubblewrap is a `SandboxError` with the install
 * command: there is never a silent fallback to `none`. `docker` and `gvisor` start their container in
 * the background: a missing engine, image or runtime is a `SandboxUnavailableError` from the first call.
 *
 * @example
 * const sandbox = createSandbox({ workspace: "./project", memory: "256m" });
 */
export function createSandbox(options: CreateSandboxOptions = {}): Sandbox {
  const { backend = "bubblewrap", docker, ...rest } = options;
  switch (backend) {
    case "bubblewrap":
      return new BubblewrapSandbox(rest);
    case "none":
      return new UnsafeLocalProcess({ workspace: rest.workspace });
    case "docker":
    case "gvisor":
      if (rest.network !== undefined && rest.network !== "none")
        throw new SandboxError(
          `The ${backend} sandbox has no egress proxy yet; use network "none" or bubblewrap.`,
          {
            backend,
          },
        );
      return new DockerSandbox({
        ...(rest.workspace !== undefined ? { workspace: rest.workspace } : {}),
        ...(rest.memory !== undefined ? { memory: rest.memory } : {}),
        ...(rest.pids !== undefined ? { pids: rest.pids } : {}),
        ...(rest.cpus !== undefined ? { cpus: rest.cpus } : {}),
        ...(rest.tmpSize !== undefined ? { tmpSize: rest.tmpSize } : {}),
        ...(rest.timeoutMs !== undefined ? { timeoutMs: rest.timeoutMs } : {}),
        ...(rest.maskPaths !== undefined ? { maskPaths: rest.maskPaths } : {}),
        ...(rest.user !== undefined ? { user: rest.user } : {}),
        ...docker,
        ...(backend === "gvisor" ? { runtime: docker?.runtime ?? "runsc" } : {}),
      });
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
