import type { Sandbox } from "../../sandbox/sandbox.js";
import type { Tool } from "../tool.js";
import { deleteFileTool } from "./delete-file.js";
import { listDirectoryTool } from "./list-directory.js";
import { readFileTool } from "./read-file.js";
import { runCodeTool } from "./run-code.js";
import { runShellTool } from "./run-shell.js";
import { Workspace } from "./workspace.js";
import { writeFileTool } from "./write-file.js";

// Its own module, so the public API's declarations reach only this function and its options (the
// tools' modules declare Node-typed internals, e.g. Workspace over node:fs).

export interface WorkspaceToolsOptions {
  /** The directory the agent works in; must exist. */
  readonly workspace: string;
  /** Where `run_shell` and `run_code` run; without one there are neither. */
  readonly sandbox?: Sandbox;
  /** Most bytes one `read_file` call returns. */
  readonly maxReadBytes?: number;
  /** The largest `timeoutMs` a `run_shell` call may ask for (the harness passes its `toolTimeoutMs`). */
  readonly shellMaxTimeoutMs?: number;
  /** Most bytes one `write_file` call may write (default 10 MiB). */
  readonly maxWriteBytes?: number;
}

/**
 * The built-in workspace tools: read_file, write_file, list_directory, delete_file, and run_shell and
 * run_code when a sandbox is given. They share one `Workspace`, so every path is confined the same way.
 *
 * @example
 * const tools = workspaceTools({ workspace: "/home/me/project", sandbox: new UnsafeLocalProcess({ workspace: "/home/me/project" }) });
 */
export function workspaceTools(options: WorkspaceToolsOptions): Tool[] {
  const workspace = new Workspace(options.workspace);
  const tools = [
    readFileTool({ workspace, maxReadBytes: options.maxReadBytes }),
    writeFileTool({ workspace, maxWriteBytes: options.maxWriteBytes }),
    listDirectoryTool({ workspace }),
    deleteFileTool({ workspace }),
  ];
  if (options.sandbox) {
    const maxTimeoutMs = options.shellMaxTimeoutMs;
    // A sandbox without a shell (WebAssembly) gets run_code only: run_shell could never run there.
    if (options.sandbox.capabilities.languages.includes("shell"))
      tools.push(runShellTool({ sandbox: options.sandbox, workspace, maxTimeoutMs }));
    if (options.sandbox.capabilities.languages.length > 0)
      tools.push(runCodeTool({ sandbox: options.sandbox, workspace, maxTimeoutMs }));
  }
  return tools;
}
