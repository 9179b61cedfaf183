import { SandboxError } from "../protocol/errors.js";
import { type BubblewrapOptions, BubblewrapSandbox } from "./bubblewrap/bubblewrap-sandbox.js";
import { DockerSandbox, type DockerSandboxOptions } from "./docker/docker-sandbox.js";
import { RoutedSandbox } from "./routed-sandbox.js";
import type { Sandbox } from "./sandbox.js";
import { UnsafeLocalProcess } from "./unsafe-local-process.js";
import { PyodideSandbox } from "./wasm/pyodide-sandbox.js";
import { QuickJSSandbox } from "./wasm/quickjs-sandbox.js";

/**
 * Backends `createSandbox` can build: `bubblewrap` (the default on Linux), `none` (no isolation),
 * `docker` (a container per sandbox), `gvisor` (the same container under gVisor's runsc), and the
 * WebAssembly ones: `quickjs` (JavaScript), `pyodide` (Python, in bubblewrap) and `wasm` (both, chosen
 * per language; no shell).
 */
export const SANDBOX_BACKENDS = [
  "bubblewrap",
  "none",
  "docker",
  "gvisor",
  "quickjs",
  "pyodide",
  "wasm",
] as const;
export type SandboxBackend = (typeof SANDBOX_BACKENDS)[number];

/** Where `run_code` runs each language, when it is not the main backend. */
export interface CodeBackends {
  readonly python?: "pyodide" | "bubblewrap";
  readonly javascript?: "quickjs" | "bubblewrap";
}

export interface CreateSandboxOptions extends BubblewrapOptions {
  /** Default `bubblewrap`. `none` is UnsafeLocalProcess: only when asked for by name. */
  readonly backend?: SandboxBackend;
  /** docker and gvisor: the container settings (image, runtime, engine socket). */
  readonly docker?: Pick<DockerSandboxOptions, "image" | "runtime" | "socketPath">;
  /**
   * Per-language routing of `runCode` (and so of `run_code`), e.g. `{ python: "pyodide", javascript:
   * "quickjs" }` beside a bubblewrap shell. `wasm` defaults to exactly that, without a shell.
   */
  readonly code?: CodeBackends;
  /** Warm Pyodide interpreters kept ready (default 0). */
  readonly pyodidePoolSize?: number;
  /** Memory of a Pyodide interpreter's process (default 768m). */
  readonly pyodideMemory?: number | string;
  /** QuickJS heap (default 64m). */
  readonly quickjsMemory?: number | string;
}

/**
 * Builds a sandbox by backend name. A missing bubblewrap is a `SandboxError` with the install
 * command: there is never a silent fallback to `none`. `docker` and `gvisor` start their container in
 * the background: a missing engine, image or runtime is a `SandboxUnavailableError` from the first call.
 *
 * @example
 * const sandbox = createSandbox({ workspace: "./project", memory: "256m" });
 * const mixed = createSandbox({ workspace: "./project", code: { python: "pyodide", javascript: "quickjs" } });
 */
export function createSandbox(options: CreateSandboxOptions = {}): Sandbox {
  const {
    backend = "bubblewrap",
    docker,
    code,
    pyodidePoolSize,
    pyodideMemory,
    quickjsMemory,
    ...rest
  } = options;
  const quickjs = (workspace: string | undefined) =>
    new QuickJSSandbox({
      workspace,
      maskPaths: rest.maskPaths,
      ...(quickjsMemory !== undefined ? { memory: quickjsMemory } : {}),
    });
  const pyodide = (workspace: string | undefined) =>
    new PyodideSandbox({
      workspace,
      maskPaths: rest.maskPaths,
      poolSize: pyodidePoolSize,
      ...(pyodideMemory !== undefined ? { memory: pyodideMemory } : {}),
      bubblewrap: { limitsVia: rest.limitsVia, user: rest.user, bwrapPath: rest.bwrapPath },
    });
  let main: Sandbox;
  switch (backend) {
    case "bubblewrap":
      main = new BubblewrapSandbox(rest);
      break;
    case "none":
      main = new UnsafeLocalProcess({ workspace: rest.workspace });
      break;
    case "docker":
    case "gvisor":
      // docker takes the egress proxy's socket; gvisor refuses it (DockerSandbox says why).
      main = new DockerSandbox({
        ...(rest.network !== undefined ? { network: rest.network } : {}),
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
      break;
    case "quickjs":
      main = quickjs(rest.workspace);
      break;
    case "pyodide":
      main = pyodide(rest.workspace);
      break;
    case "wasm": {
      // The first part owns a temporary workspace when none is given; the other shares it.
      const js = code?.javascript === "bubblewrap" ? undefined : quickjs(rest.workspace);
      const ws = js?.workspace ?? rest.workspace;
      const routes = {
        ...(js ? { javascript: js } : {}),
        ...(code?.python === "bubblewrap" ? {} : { python: pyodide(ws) }),
      };
      return new RoutedSandbox({ languages: routes });
    }
    default:
      throw new SandboxError(
        `Unknown sandbox backend ${JSON.stringify(backend)}; use one of ${SANDBOX_BACKENDS.join(", ")}.`,
        { backend },
      );
  }
  if (!code || (code.python === undefined && code.javascript === undefined)) return main;
  const languages = {
    ...(code.python === "pyodide" ? { python: pyodide(main.workspace) } : {}),
    ...(code.javascript === "quickjs" ? { javascript: quickjs(main.workspace) } : {}),
  };
  return new RoutedSandbox({ shell: main, languages });
}

/** The warning every surface prints when commands will run without isolation. */
export const NO_ISOLATION_WARNING =
  "--sandbox none: run_shell and run_code run as YOUR user with full access to your files, network and environment. Use it only in a throwaway workspace.";
