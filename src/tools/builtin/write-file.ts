import { z } from "zod";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { toWorkspace, type Workspace } from "./workspace-path.js";

export interface WriteFileToolOptions {
  readonly workspace: string | Workspace;
}

/** What `write_file` returns to the model. */
export interface WriteFileResult {
  readonly path: string;
  readonly bytes: number;
  /** The file did not exist before. */
  readonly created: boolean;
}

const input = z.object({
  path: z.string().describe("File path relative to the workspace root, e.g. src/new-module.ts"),
  content: z
    .string()
    .describe("The complete new content of the file, as UTF-8 text (replaces what was there)"),
  createDirectories: z
    .boolean()
    .optional()
    .describe("Create missing parent directories (default false: a missing parent is an error)"),
});

/**
 * `write_file`: creates or replaces a regular file inside the workspace. Never writes through a symlink
 * that leads outside, into a FIFO or device, or into `.rein/`.
 *
 * @example
 * const tool = writeFileTool({ workspace: "/home/me/project" });
 */
export function writeFileTool(options: WriteFileToolOptions): Tool {
  const workspace = toWorkspace(options.workspace);
  return defineTool({
    name: "write_file",
    description:
      "Create or overwrite a text file inside the workspace with the given content. " +
      "Set createDirectories to true to create missing parent directories.",
    input,
    risk: { level: "MEDIUM", reason: "creates or overwrites a file inside the workspace" },
    // Writing the same content twice leaves the same file.
    idempotent: true,
    async execute({ path, content, createDirectories }): Promise<WriteFileResult> {
      const { bytes, created } = await workspace.writeFile(path, content, {
        createDirectories: createDirectories ?? false,
      });
      return { path, bytes, created };
    },
  });
}
