import fs from "node:fs/promises";
import { z } from "zod/v4";
import { ConfigError } from "../../protocol/errors.js";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { mountIdOf, type OpenDirectory, toWorkspace, type Workspace } from "./workspace.js";
import { throwIfAborted, workspaceFailure } from "./workspace-failure.js";
import { isReservedName, lstatOrUndefined } from "./workspace-path.js";

/** Default cap on the entries one `list_directory` call returns. */
export const DEFAULT_MAX_ENTRIES = 1000;

export interface ListDirectoryToolOptions {
  readonly workspace: string | Workspace;
  /** Most entries returned (default 1000); the rest are counted in `total`. */
  readonly maxEntries?: number;
}

export interface DirectoryEntry {
  /** The entry's name; in a recursive listing, its path relative to the listed directory (`src/a.ts`). */
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
  /**
   * Number of entries in the directory. A recursive listing stops walking once it has more than
   * `maxEntries`; then `total` is the count reached when it stopped.
   */
  readonly total: number;
  readonly truncated: boolean;
}

const input = z.object({
  path: z
    .string()
    .default(".")
    .describe('Directory path relative to the workspace root (default ".", the root)'),
  recursive: z
    .boolean()
    .optional()
    .describe(
      "Also list everything below, depth-first; symlinked directories are not entered (default false)",
    ),
});

/** One listing in progress: entries gathered so far and whether the cap stopped it. */
interface Listing {
  readonly entries: DirectoryEntry[];
  total: number;
  stopped: boolean;
}

/**
 * `list_directory`: the entries of one directory inside the workspace, sorted by name, or with
 * `recursive` of the whole tree below it. A symlinked directory is listed only if its real path is
 * inside the workspace, and a recursive listing never enters a symlink. `.rein/` is not listed, however
 * the root was reached. Honours the call's abort signal between directories.
 *
 * @example
 * const tool = listDirectoryTool({ workspace: "/home/me/project" });
 */
export function listDirectoryTool(options: ListDirectoryToolOptions): Tool {
  const workspace = toWorkspace(options.workspace);
  const max = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new ConfigError(`list_directory: maxEntries must be a positive integer, got ${max}.`, {
      maxEntries: max,
    });
  }

  /** Lists `dir` into `listing`, entering subdirectories by descriptor when `recursive`. */
  async function listInto(
    dir: OpenDirectory,
    prefix: string,
    listing: Listing,
    path: string,
    recursive: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    throwIfAborted(signal, "list_directory", path, `after ${listing.entries.length} entries`);
    // Read through the verified descriptor: the listing is of the directory that was checked.
    let names = await fs.readdir(dir.path);
    // By identity: the root reached through `docs/up -> ..` hides `.rein` as well.
    if (dir.isRoot) names = names.filter((name) => !isReservedName(name));
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (!recursive) listing.total = names.length;
    for (const name of names) {
      if (listing.entries.length >= max) {
        listing.stopped = true;
        if (recursive) return;
        break;
      }
      const st = await lstatOrUndefined(`${dir.path}/${name}`);
      if (st === undefined) continue; // deleted since readdir
      const shown = prefix + name;
      if (recursive) listing.total++;
      if (st.isFile()) listing.entries.push({ name: shown, type: "file", size: st.size });
      else if (st.isSymbolicLink()) listing.entries.push({ name: shown, type: "symlink" });
      else if (!st.isDirectory()) listing.entries.push({ name: shown, type: "other" });
      else {
        listing.entries.push({ name: shown, type: "directory" });
        if (!recursive) continue;
        // O_NOFOLLOW: a directory swapped for a symlink after the lstat is not entered.
        const child = await workspace.openChildDirectory(dir, name, path);
        if (child === undefined) continue;
        try {
          // A mount point (a bind mount may show a tree from outside) is listed, not entered.
          if ((await mountIdOf(child)) === (await mountIdOf(dir))) {
            await listInto(child, `${shown}/`, listing, path, recursive, signal);
          }
        } finally {
          await child.close();
        }
        if (listing.stopped) return;
      }
    }
  }

  return defineTool({
    name: "list_directory",
    description:
      `List the entries of a directory inside the workspace (name, type, size), sorted by name, at most ${max}. ` +
      "With recursive: true, also everything below it (names are then paths relative to the directory).",
    input,
    risk: { level: "LOW", reason: "lists a directory inside the workspace" },
    readOnly: true,
    idempotent: true,
    async execute({ path, recursive }, { signal }): Promise<ListDirectoryResult> {
      throwIfAborted(signal, "list_directory", path);
      const dir = await workspace.openDirectory(path);
      const listing: Listing = { entries: [], total: 0, stopped: false };
      try {
        await listInto(dir, "", listing, path, recursive ?? false, signal);
      } catch (err) {
        throw workspaceFailure(err, path);
      } finally {
        await dir.close();
      }
      return {
        path,
        entries: listing.entries,
        total: listing.total,
        truncated: listing.stopped || listing.total > listing.entries.length,
      };
    },
  });
}
