import { realpathSync } from "node:fs";
import { ReinError } from "../../protocol/errors.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { toWorkspace, type Workspace } from "./workspace.js";

/** Default and largest `timeoutMs` a run_shell or run_code call may ask for. */
export const DEFAULT_SHELL_TIMEOUT_MS = 120_000;
export const MAX_SHELL_TIMEOUT_MS = 600_000;
/** How much longer than the command's own timeout the harness waits (kill, then collect output). */
export const SHELL_TIMEOUT_SLACK_MS = 5_000;

/** What run_shell and run_code share: the sandbox, one workspace, and timeouts that agree with the harness. */
export interface SandboxToolOptions {
  readonly sandbox: Sandbox;
  /** The file tools' workspace; must be the sandbox's workspace (default: it). */
  readonly workspace?: string | Workspace;
  /** Cap on stdout and on stderr, each (default: the sandbox's). */
  readonly maxOutputBytes?: number;
  /**
   * The largest `timeoutMs` a call may ask for (default 600,000). The harness sets it to its
   * `toolTimeoutMs`, so the tool's schema, its own timeout and the harness's agree: a longer request
   * is `invalid_input` naming the limit, and a command is always stopped by its own timeout first.
   */
  readonly maxTimeoutMs?: number;
}

export interface SandboxToolSetup {
  readonly workspace: Workspace;
  readonly maxTimeoutMs: number;
  readonly defaultTimeoutMs: number;
}

/** Resolves the shared options of a sandboxed tool; the sandbox and the file tools must share one workspace. */
export function sandboxToolSetup(tool: string, options: SandboxToolOptions): SandboxToolSetup {
  const { sandbox } = options;
  const maxTimeoutMs = Math.min(options.maxTimeoutMs ?? MAX_SHELL_TIMEOUT_MS, MAX_SHELL_TIMEOUT_MS);
  const defaultTimeoutMs = Math.min(DEFAULT_SHELL_TIMEOUT_MS, maxTimeoutMs);
  const workspace = toWorkspace(options.workspace ?? sandbox.workspace);
  if (realpathSync(sandbox.workspace) !== workspace.root) {
    throw new ReinError(
      "REIN_WORKSPACE_INVALID",
      `${tool}: the sandbox's workspace ${JSON.stringify(sandbox.workspace)} is not the file tools' workspace ` +
        `${JSON.stringify(workspace.root)}; give both the same directory.`,
      { sandbox: sandbox.name },
    );
  }
  return { workspace, maxTimeoutMs, defaultTimeoutMs };
}
