import fs from "node:fs/promises";
import { z } from "zod/v4";
import { ToolFailure } from "../../protocol/tool-result.js";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { mountIdOf, type OpenDirectory, toWorkspace, type Workspace } from "./workspace.js";
import { quotePath, raceFailure, throwIfAborted, workspaceFailure } from "./workspace-failure.js";
import { fileKind, lstatOrUndefined, splitWorkspacePath } from "./workspace-path.js";

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
 * Removes the tree `name` inside the verified directory `parent` by descriptor: each directory is opened
 * with O_DIRECTORY|O_NOFOLLOW, its real path read back from `/proc/self/fd/<fd>` and checked, and its
 * entries are unlinked as `/proc/self/fd/<fd>/<name>` (on Linux that is unlinkat relative to the held
 * descriptor). A racing process that swaps a directory for a symlink can only make this remove the
 * symlink: no path it can change is ever resolved again.
 */
class TreeRemoval {
  removed = 0;
  constructor(
    private readonly workspace: Workspace,
    private readonly input: string,
    private readonly signal: AbortSignal,
  ) {}

  async remove(parent: OpenDirectory, name: string): Promise<void> {
    throwIfAborted(this.signal, "delete_file", this.input, this.#progress());
    const entry = `${parent.path}/${name}`;
    const st = await lstatOrUndefined(entry);
    if (st === undefined) return; // removed by someone else meanwhile
    if (st.isDirectory()) {
      const dir = await this.workspace.openChildDirectory(parent, name, this.input);
      if (dir !== undefined) {
        try {
          // By mount id, not st_dev: a bind mount of an outside tree is on the same device.
          if ((await mountIdOf(dir)) !== (await mountIdOf(parent))) {
            throw new ToolFailure(
              "outside_workspace",
              `Path ${quotePath(this.input)} contains a mount point (${quotePath(dir.relative)}); a recursive delete does not cross mounts.`,
            );
          }
          for (const child of await fs.readdir(dir.path)) await this.remove(dir, child);
        } finally {
          await dir.close();
        }
        throwIfAborted(this.signal, "delete_file", this.input, this.#progress());
        await this.workspace.verifyDirectory(parent, this.input);
        // rmdir never follows a final symlink: if `name` was swapped for one, this fails (ENOTDIR).
        if (await removed(fs.rmdir(entry))) this.removed++;
        return;
      }
      // No longer a directory (it became a symlink or a file after the lstat): unlink it, never follow it.
    }
    await this.workspace.verifyDirectory(parent, this.input);
    try {
      if (await removed(fs.unlink(entry))) this.removed++;
    } catch (err) {
      // EISDIR: what the lstat saw as a file or symlink is a directory again; a racing process is at work.
      if ((err as NodeJS.ErrnoException).code === "EISDIR") throw raceFailure(this.input, "deleted");
      throw err;
    }
  }

  #progress(): string {
    return `after removing ${this.removed} entries; the rest of the tree is still there`;
  }
}

/** Settles a removal: `false` if the entry was already gone (someone else removed it; the goal is met). */
async function removed(removal: Promise<void>): Promise<boolean> {
  try {
    await removal;
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/**
 * `delete_file`: removes a file, a symlink (never its target) or, with `recursive`, a directory tree.
 * The workspace root and `.rein/` can never be deleted, by any path. A recursive delete works by
 * directory descriptor, never leaves the workspace under a race, and stops between entries when the
 * call is aborted (`cancelled`, saying how far it got).
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
    async execute({ path, recursive }, { signal }): Promise<DeleteFileResult> {
      if (splitWorkspacePath(path).segments.length === 0) {
        throw new ToolFailure(
          "invalid_path",
          `Path ${quotePath(path)} is the workspace root, which can never be deleted.`,
        );
      }
      throwIfAborted(signal, "delete_file", path, "before removing anything");
      // Refuses `.rein` in the root however it is reached (`docs/up/.rein` with `docs/up -> ..`).
      const { dir, name, entry, trailingSlash } = await workspace.openParent(path);
      try {
        const st = await lstatOrUndefined(entry);
        if (st === undefined) throw new ToolFailure("not_found", `Path ${quotePath(path)} does not exist.`);
        if (trailingSlash && !st.isDirectory()) {
          throw new ToolFailure(
            "not_a_file",
            `Path ${quotePath(path)} ends with "/", which names a directory, but it is ${fileKind(st)}; ` +
              "drop the trailing slash to delete it (a symlink is removed, never its target).",
          );
        }
        if (st.isDirectory()) {
          if (!recursive) {
            throw new ToolFailure(
              "not_a_file",
              `Path ${quotePath(path)} is a directory; pass recursive: true to delete it and everything in it.`,
            );
          }
          const removal = new TreeRemoval(workspace, path, signal);
          await removal.remove(dir, name);
          return { path, deleted: "directory" };
        }
        // unlink removes a final symlink itself; the entry path names it inside the verified parent.
        await fs.unlink(entry);
        return { path, deleted: st.isSymbolicLink() ? "symlink" : st.isFile() ? "file" : "other" };
      } catch (err) {
        throw workspaceFailure(err, path, "deleted");
      } finally {
        await dir.close();
      }
    },
  });
}
