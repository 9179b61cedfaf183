import fs from "node:fs/promises";
import { z } from "zod";
import { ToolFailure } from "../../protocol/tool-result.js";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { lstatOrUndefined, parseWorkspacePath, toWorkspace, type Workspace } from "./workspace-path.js";

export interface DeleteFileToolOptions {
  readonly workspace: string | Workspace;
}

/** What `delete_file` returns to the model. */
export interface DeleteFileResult {
  readonly path: string;
  /** What was removed; for a symlink, the link itself (its target is untouched). */
  readonly deleted: "file" | "directory" | "symlink" | "other";
}

const input = z.object({
  path: z
    .string()
    .describe("Path of the file, symlink or directory to delete, relative to the workspace root"),
  recursive: z
    .boolean()
    .optional()
    .describe("Required to delete a directory: removes it and everything in it (default false)"),
});

/**
 * `delete_file`: removes a file, a symlink (never its target) or, with `recursive`, a directory tree.
 * The workspace root and `.rein/` can never be deleted.
 *
 * @example
 * const tool = deleteFileTool({ workspace: "/home/me/project" });
 */
export function deleteFileTool(options: DeleteFileToolOptions): Tool {
  const workspace = toWorkspace(options.workspace);
  return defineTool({
    name: "delete_file",
    description:
      "Delete a file or symlink inside the workspace. A symlink is removed itself, never its target. " +
      "Deleting a directory requires recursive: true and removes everything in it.",
    input,
    risk: { level: "HIGH", reason: "permanently deletes files inside the workspace" },
    async execute({ path, recursive }): Promise<DeleteFileResult> {
      if (parseWorkspacePath(path).length === 0) {
        throw new ToolFailure(
          "invalid_path",
          `Path ${JSON.stringify(path)} is the workspace root, which can never be deleted.`,
        );
      }
      const { dir, entry } = await workspace.openParent(path);
      try {
        const st = await lstatOrUndefined(entry);
        if (st === undefined)
          throw new ToolFailure("not_found", `Path ${JSON.stringify(path)} does not exist.`);
        if (st.isDirectory()) {
          if (!recursive) {
            throw new ToolFailure(
              "not_a_file",
              `Path ${JSON.stringify(path)} is a directory; pass recursive: true to delete it and everything in it.`,
            );
          }
          // rm never follows symlinks inside the tree: a link to an outside directory is unlinked, not emptied.
          await fs.rm(entry, { recursive: true });
          return { path, deleted: "directory" };
        }
        // unlink removes a final symlink itself; the entry path names it inside the verified parent.
        await fs.unlink(entry);
        return { path, deleted: st.isSymbolicLink() ? "symlink" : st.isFile() ? "file" : "other" };
      } finally {
        await dir.close();
      }
    },
  });
}
