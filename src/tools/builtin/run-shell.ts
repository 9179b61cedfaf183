import { z } from "zod/v4";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import {
  DEFAULT_SHELL_TIMEOUT_MS,
  MAX_SHELL_TIMEOUT_MS,
  type SandboxToolOptions,
  SHELL_TIMEOUT_SLACK_MS,
  sandboxToolSetup,
} from "./sandbox-tool-setup.js";

export { DEFAULT_SHELL_TIMEOUT_MS, MAX_SHELL_TIMEOUT_MS, SHELL_TIMEOUT_SLACK_MS };

export type RunShellToolOptions = SandboxToolOptions;

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
  const { workspace, maxTimeoutMs, defaultTimeoutMs } = sandboxToolSetup("run_shell", options);
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
      if (result.startupMs !== undefined)
        context.sandboxStarted?.({ backend: sandbox.name, startupMs: result.startupMs });
      const { exitCode, signal, timedOut, truncated, stdout, stderr, durationMs } = result;
      return { exitCode, signal, timedOut, truncated, stdout, stderr, durationMs };
    },
  });
}
