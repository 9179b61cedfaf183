import { realpathSync } from "node:fs";
import { z } from "zod";
import { ReinError } from "../../protocol/errors.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { toWorkspace, type Workspace } from "./workspace.js";

/** Default and largest `timeoutMs` a call may ask for. */
export const DEFAULT_SHELL_TIMEOUT_MS = 120_000;
export const MAX_SHELL_TIMEOUT_MS = 600_000;

export interface RunShellToolOptions {
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

/** How much longer than the command's own timeout the harness waits (kill, then collect output). */
export const SHELL_TIMEOUT_SLACK_MS = 5_000;

/** What `run_shell` returns to the model. */
export interface RunShellResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

function inputSchema(maxTimeoutMs: number, defaultTimeoutMs: number) {
  return z.object({
    command: z.string().min(1).describe("Shell command, run with /bin/sh -c in the workspace"),
    cwd: z.string().optional().describe('Working directory relative to the workspace root (default ".")'),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .max(maxTimeoutMs)
      .optional()
      .describe(
        `Kill the command after this many milliseconds (default ${defaultTimeoutMs}, at most ${maxTimeoutMs})`,
      ),
  });
}

/**
 * `run_shell`: runs a shell command through a `Sandbox` (never spawns by itself). `cwd` is confined to the
 * workspace like any file path; the call's abort signal kills the command.
 *
 * @example
 * const tool = runShellTool({ sandbox: new UnsafeLocalProcess({ workspace: "/home/me/project" }) });
 */
export function runShellTool(options: RunShellToolOptions): Tool {
  const { sandbox, maxOutputBytes } = options;
  const maxTimeoutMs = Math.min(options.maxTimeoutMs ?? MAX_SHELL_TIMEOUT_MS, MAX_SHELL_TIMEOUT_MS);
  const defaultTimeoutMs = Math.min(DEFAULT_SHELL_TIMEOUT_MS, maxTimeoutMs);
  const workspace = toWorkspace(options.workspace ?? sandbox.workspace);
  if (realpathSync(sandbox.workspace) !== workspace.root) {
    throw new ReinError(
      "REIN_WORKSPACE_INVALID",
      `run_shell: the sandbox's workspace ${JSON.stringify(sandbox.workspace)} is not the file tools' workspace ` +
        `${JSON.stringify(workspace.root)}; give both the same directory.`,
      { sandbox: sandbox.name },
    );
  }
  return defineTool({
    name: "run_shell",
    description:
      "Run a shell command (/bin/sh -c) in the workspace and return its exit code, stdout and stderr. " +
      `The command is killed after timeoutMs (default ${defaultTimeoutMs} ms, at most ${maxTimeoutMs}); background jobs end with it.`,
    input: inputSchema(maxTimeoutMs, defaultTimeoutMs),
    // The harness's own cut comes only after the command's timeout has fired and its output is in.
    timeoutMs: maxTimeoutMs + SHELL_TIMEOUT_SLACK_MS,
    risk: { level: "HIGH", reason: `runs an arbitrary shell command (sandbox: ${sandbox.name})` },
    async execute({ command, cwd, timeoutMs }, context): Promise<RunShellResult> {
      let relative: string | undefined;
      if (cwd !== undefined) {
        // The same confinement as the file tools, with their failure types; the sandbox checks again.
        const dir = await workspace.openDirectory(cwd);
        relative = dir.relative || undefined;
        await dir.close();
      }
      const result = await sandbox.exec(command, {
        cwd: relative,
        timeoutMs: timeoutMs ?? defaultTimeoutMs,
        maxOutputBytes,
        signal: context.signal,
      });
      const { exitCode, signal, timedOut, truncated, stdout, stderr, durationMs } = result;
      return { exitCode, signal, timedOut, truncated, stdout, stderr, durationMs };
    },
  });
}
