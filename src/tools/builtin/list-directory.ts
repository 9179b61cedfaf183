import fs from "node:fs/promises";
import { z } from "zod";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { lstatOrUndefined, RESERVED_DIR, toWorkspace, type Workspace } from "./workspace-path.js";

/** Default cap on the entries one `list_directory` call returns. */
export const DEFAULT_MAX_ENTRIES = 1000;

export interface ListDirectoryToolOptions {
  readonly workspace: string | Workspace;
  /** Most entries returned (default 1000); the rest are counted in `total`. */
  readonly maxEntries?: number;
}

export interface DirectoryEntry {
  readonly name: string;
  /** A symlink is reported as a symlink and never followed. */
  readonly type: "file" | "directory" | "symlink" | "other";
  /** Bytes, for regular files. */
  readonly size?: number;
}

/** What `list_directory` returns to the model. */
export interface ListDirectoryResult {
  readonly path: string;
  readonly entries: readonly DirectoryEntry[];
  /** Number of entries in the directory. */
  readonly total: number;
  readonly truncated: boolean;
}

const input = z.object({
  path: z
    .string()
    .default(".")
    .describe('Directory path relative to the workspace root (default ".", the root)'),
});

/**
 * `list_directory`: the entries of one directory inside the workspace, sorted by name. A symlinked
 * directory is listed only if its real path is inside the workspace. `.rein/` is not listed.
 *
 * @example
 * const tool = listDirectoryTool({ workspace: "/home/me/project" });
 */
export function listDirectoryTool(options: ListDirectoryToolOptions): Tool {
  const workspace = toWorkspace(options.workspace);
  const max = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  return defineTool({
    name: "list_directory",
    description: `List the entries of a directory inside the workspace (name, type, size), sorted by name, at most ${max}.`,
    input,
    risk: { level: "LOW", reason: "lists a directory inside the workspace" },
    readOnly: true,
    idempotent: true,
    async execute({ path }): Promise<ListDirectoryResult> {
      const dir = await workspace.openDirectory(path);
      try {
        // Read through the verified descriptor: the listing is of the directory that was checked.
        let names = await fs.readdir(dir.path);
        if (dir.relative === "") names = names.filter((name) => name.toLowerCase() !== RESERVED_DIR);
        names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const entries: DirectoryEntry[] = [];
        for (const name of names.slice(0, max)) {
          const st = await lstatOrUndefined(`${dir.path}/${name}`);
          if (st === undefined) continue; // deleted since readdir
          if (st.isFile()) entries.push({ name, type: "file", size: st.size });
          else if (st.isDirectory()) entries.push({ name, type: "directory" });
          else if (st.isSymbolicLink()) entries.push({ name, type: "symlink" });
          else entries.push({ name, type: "other" });
        }
        return { path, entries, total: names.length, truncated: names.length > max };
      } finally {
        await dir.close();
      }
    },
  });
}
