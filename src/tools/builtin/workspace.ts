/**
 * Confines model-supplied paths to one workspace directory. This is the security core of the file tools.
 *
 * Node has no `openat`, so every operation walks the path one directory at a time through
 * `/proc/self/fd/<fd>/<name>`: each directory is opened with `O_NOFOLLOW`, its real path is read back from
 * `/proc/self/fd/<fd>` and checked, and the next step is taken relative to that verified descriptor. A
 * directory swapped for a symlink between the check and the open is therefore caught by the read-back,
 * not by a path check that is already stale.
 */
import { type BigIntStats, existsSync, constants as fsc, realpathSync, type Stats, statSync } from "node:fs";
import fs, { type FileHandle } from "node:fs/promises";
import { ReinError } from "../../protocol/errors.js";
import { ToolFailure } from "../../protocol/tool-result.js";
import { quotePath as q, throwIfAborted, workspaceFailure } from "./workspace-failure.js";
import {
  fileKind,
  isReservedName,
  lstatOrUndefined,
  parseWorkspacePath,
  RESERVED_DIR,
  reservedFailure,
  splitWorkspacePath,
} from "./workspace-path.js";

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;
// O_NONBLOCK: opening a FIFO that raced in after the lstat must not wait for a writer/reader.
const READ_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;
const WRITE_FLAGS = fsc.O_WRONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;

/** A device+inode key: what a directory IS, whatever name reaches it. */
const identity = (st: Stats | BigIntStats): string => `${st.dev}:${st.ino}`;

/** A verified open directory. `path` names exactly that directory, whatever happens to its name later. */
export interface OpenDirectory {
  /** `/proc/self/fd/<fd>`: join an entry name to it to act on that entry inside this directory. */
  readonly path: string;
  /** The directory's real path on the host. */
  readonly realPath: string;
  /** Its path relative to the workspace root (`""` for the root itself). */
  readonly relative: string;
  /** This is the workspace root, by identity (device and inode) or real path: the one holding `.rein`. */
  readonly isRoot: boolean;
  /** The descriptor held open on it. */
  readonly fd: number;
  close(): Promise<void>;
}

/**
 * The id of the mount an open directory is on, from `/proc/self/fdinfo/<fd>`. Unlike `st_dev` it tells a
 * bind mount from its parent even on the same file system, so a recursive walk can stop at any mount.
 */
export async function mountIdOf(dir: OpenDirectory): Promise<string> {
  const info = await fs.readFile(`/proc/self/fdinfo/${dir.fd}`, "utf8");
  const id = /^mnt_id:\s*(\d+)$/m.exec(info)?.[1];
  if (id === undefined) throw new Error("/proc/self/fdinfo has no mnt_id line");
  return id;
}

/** An entry's parent directory, opened and verified, and the entry's name in it. */
export interface ParentAndName {
  readonly dir: OpenDirectory;
  readonly name: string;
  /** `dir.path/name`, for lstat/unlink/rm of the entry itself (never follows a final symlink by itself). */
  readonly entry: string;
  /** The path ended in `/` (or `/.`): it names a directory, so a file or symlink there is refused. */
  readonly trailingSlash: boolean;
}

/**
 * A workspace root, resolved to its real path once, that confines every path the model gives.
 *
 * @example
 * const ws = new Workspace("/home/me/project");
 * const handle = await ws.openForRead("src/index.ts"); // verified regular file inside the root
 */
export class Workspace {
  /** The root's real path. */
  readonly root: string;
  /** The root's device and inode: a directory with this identity is the root, whatever path reached it. */
  readonly #rootId: string;

  /** @throws ReinError `REIN_WORKSPACE_INVALID` if `root` is not an existing directory. */
  constructor(root: string) {
    let real: string;
    try {
      real = realpathSync(root);
    } catch (err) {
      throw new ReinError(
        "REIN_WORKSPACE_INVALID",
        `Workspace ${q(root)} does not exist or cannot be resolved.`,
        { root },
        { cause: err },
      );
    }
    const st = statSync(real, { bigint: true });
    if (!st.isDirectory()) {
      throw new ReinError("REIN_WORKSPACE_INVALID", `Workspace ${q(root)} is not a directory.`, { root });
    }
    if (!existsSync("/proc/self/fd")) {
      throw new ReinError(
        "REIN_WORKSPACE_INVALID",
        `Workspace ${q(root)}: the file tools need /proc/self/fd (Linux) to confine paths safely, and it is missing.`,
        { root },
      );
    }
    this.root = real;
    this.#rootId = identity(st);
  }

  /** Opens a directory (following symlinks only while they stay inside), optionally creating missing ones. */
  async openDirectory(
    input: string,
    options: { create?: boolean; signal?: AbortSignal } = {},
  ): Promise<OpenDirectory> {
    try {
      return await this.#walk(parseWorkspacePath(input), input, options);
    } catch (err) {
      throw workspaceFailure(err, input);
    }
  }

  /**
   * Opens the parent of `input` and names the entry; refuses the root itself (it has no parent here) and
   * an entry named `.rein` in the root, whichever route (`docs/up/.rein` with `docs/up -> ..`) led there.
   */
  async openParent(
    input: string,
    options: { create?: boolean; signal?: AbortSignal } = {},
  ): Promise<ParentAndName> {
    const { segments, trailingSlash } = splitWorkspacePath(input);
    const name = segments.pop();
    if (name === undefined) {
      throw new ToolFailure(
        "invalid_path",
        `Path ${q(input)} is the workspace root itself, not an entry in it.`,
      );
    }
    let dir: OpenDirectory;
    try {
      dir = await this.#walk(segments, input, options);
    } catch (err) {
      throw workspaceFailure(err, input);
    }
    if (dir.isRoot && isReservedName(name)) {
      await dir.close();
      throw reservedFailure(input);
    }
    return { dir, name, entry: `${dir.path}/${name}`, trailingSlash };
  }

  /**
   * Opens a regular file for reading. Never opens a FIFO, device, socket or directory, nor a file with
   * a second hard link (that other name may be outside the workspace or in `.rein/`).
   */
  async openForRead(input: string): Promise<{ handle: FileHandle; size: number }> {
    const { dir, entry, trailingSlash } = await this.openParent(input);
    try {
      const target = await this.#finalTarget(entry, input, "read", trailingSlash);
      const handle = await fs.open(target, READ_FLAGS);
      try {
        const st = await this.#checkOpenedFile(handle, input);
        if (st.nlink > 1) throw hardLinkFailure(input, st.nlink, "read");
        return { handle, size: st.size };
      } catch (err) {
        await handle.close();
        throw err;
      }
    } catch (err) {
      throw workspaceFailure(err, input);
    } finally {
      await dir.close();
    }
  }

  /**
   * Replaces a regular file's content, creating it if missing. The file is opened without `O_TRUNC`, its
   * real path verified, and only then truncated, so no race can ever truncate a file outside the root.
   * Every refusal comes before the file is created, or removes the file this call created: a refused
   * write leaves no file behind. `signal` is checked before creating and again before truncating.
   */
  async writeFile(
    input: string,
    content: string | Uint8Array,
    options: { createDirectories?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ bytes: number; created: boolean }> {
    const { signal } = options;
    if (splitWorkspacePath(input).trailingSlash) {
      throw new ToolFailure(
        "invalid_path",
        `Path ${q(input)} ends with "/", which names a directory; give the file's name.`,
      );
    }
    throwIfAborted(signal, "write_file", input, "before writing anything");
    const { dir, entry } = await this.openParent(input, {
      create: options.createDirectories ?? false,
      signal,
    });
    let handle: FileHandle | undefined;
    let created = false;
    try {
      throwIfAborted(signal, "write_file", input, "before writing the file");
      try {
        // Created relative to the verified parent descriptor, so a new file is always inside.
        handle = await fs.open(entry, WRITE_FLAGS | fsc.O_CREAT | fsc.O_EXCL, 0o666);
        created = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EEXIST" && code !== "ELOOP") throw err;
        handle = await fs.open(await this.#finalTarget(entry, input, "write", false), WRITE_FLAGS);
      }
      try {
        const st = await this.#checkOpenedFile(handle, input);
        if (!created && st.nlink > 1) throw hardLinkFailure(input, st.nlink, "written in place");
        throwIfAborted(signal, "write_file", input, "before writing the file");
      } catch (err) {
        if (created) await undoCreate(handle, entry);
        throw err;
      }
      await handle.truncate(0);
      const data = typeof content === "string" ? Buffer.from(content, "utf8") : content;
      await handle.writeFile(data);
      return { bytes: data.byteLength, created };
    } catch (err) {
      throw workspaceFailure(err, input);
    } finally {
      await handle?.close();
      await dir.close();
    }
  }

  /**
   * Opens the directory `name` inside the verified `dir` without following a symlink, for walking a tree
   * by descriptor. Returns `undefined` if `name` is not (any more) a directory: a symlink or file that
   * raced in is reported, never followed. Refuses `.rein` in the root and a directory that is the root
   * itself (reached again, e.g. through a bind mount).
   */
  async openChildDirectory(
    dir: OpenDirectory,
    name: string,
    input: string,
  ): Promise<OpenDirectory | undefined> {
    if (dir.isRoot && isReservedName(name)) throw reservedFailure(input);
    let child: OpenDirectory;
    try {
      child = await this.#openDir(`${dir.path}/${name}`, input);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR" || code === "ELOOP" || code === "ENOENT") return undefined;
      throw workspaceFailure(err, input);
    }
    if (child.isRoot) {
      await child.close();
      throw new ToolFailure(
        "outside_workspace",
        `Path ${q(input)} contains the workspace root itself (a mount or loop); refused.`,
      );
    }
    return child;
  }

  /** Reads back where an open directory is now and refuses if it left the workspace (or is `.rein`). */
  async verifyDirectory(dir: OpenDirectory, input: string): Promise<void> {
    try {
      this.assertInside(await fs.readlink(dir.path), input, "was moved to");
    } catch (err) {
      throw workspaceFailure(err, input);
    }
  }

  /** Throws `outside_workspace` unless `real` is the root or inside it, and not in the reserved directory. */
  assertInside(real: string, input: string, how: string): void {
    const rel = this.#relative(real);
    if (rel === undefined) {
      throw new ToolFailure(
        "outside_workspace",
        `Path ${q(input)} ${how} ${q(real)}, outside the workspace.`,
      );
    }
    const first = rel.split("/")[0];
    if (first !== undefined && isReservedName(first)) {
      throw new ToolFailure(
        "outside_workspace",
        `Path ${q(input)} ${how} ${q(real)}, inside ${RESERVED_DIR}/ (reserved for the harness).`,
      );
    }
  }

  /** The path of `real` relative to the root, or `undefined` if it is not the root or below it. */
  #relative(real: string): string | undefined {
    if (real === this.root) return "";
    const prefix = this.root === "/" ? "/" : `${this.root}/`;
    return real.startsWith(prefix) ? real.slice(prefix.length) : undefined;
  }

  /** Opens each segment in turn as a verified directory. */
  async #walk(
    segments: readonly string[],
    input: string,
    options: { create?: boolean; signal?: AbortSignal },
  ): Promise<OpenDirectory> {
    let dir = await this.#openDir(this.root, input);
    try {
      for (const [i, segment] of segments.entries()) {
        // By identity, not by the typed path: `docs/up/.rein` with `docs/up -> ..` is refused here.
        if (dir.isRoot && isReservedName(segment)) throw reservedFailure(input);
        const shown = q(segments.slice(0, i + 1).join("/"));
        const entry = `${dir.path}/${segment}`;
        let st = await lstatOrUndefined(entry);
        if (st === undefined) {
          if (!options.create)
            throw new ToolFailure("not_found", `Path ${q(input)}: directory ${shown} does not exist.`);
          throwIfAborted(options.signal, "write_file", input, "before creating directories");
          await fs.mkdir(entry).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== "EEXIST") throw err;
          });
          st = await fs.lstat(entry);
        }
        let target = entry;
        if (st.isSymbolicLink()) {
          target = await this.#realpath(entry, input, shown);
          this.assertInside(target, input, `goes through symlink ${shown}, which resolves to`);
          st = await fs.stat(target);
        }
        if (!st.isDirectory()) {
          throw new ToolFailure(
            "not_a_file",
            `Path ${q(input)}: ${shown} is ${fileKind(st)}, not a directory.`,
          );
        }
        const next = await this.#openDir(target, input);
        await dir.close();
        dir = next;
      }
      return dir;
    } catch (err) {
      await dir.close();
      throw err;
    }
  }

  /**
   * Opens `target` as a directory (never through a final symlink), reads back where the descriptor
   * really is (the authority over any earlier path check) and what it is: the root, or `.rein` under
   * another name (refused).
   */
  async #openDir(target: string, input: string): Promise<OpenDirectory> {
    const handle = await fs.open(target, DIR_FLAGS);
    try {
      const fdPath = `/proc/self/fd/${handle.fd}`;
      const realPath = await fs.readlink(fdPath);
      this.assertInside(realPath, input, "was opened as");
      const st = await handle.stat({ bigint: true });
      const id = identity(st);
      const isRoot = id === this.#rootId || realPath === this.root;
      if (!isRoot) {
        // `.rein` bind-mounted elsewhere in the workspace is still `.rein`: compare what it is, not its name.
        const reserved = await fs
          .lstat(`${this.root}/${RESERVED_DIR}`, { bigint: true })
          .catch((e: NodeJS.ErrnoException) => {
            if (e.code === "ENOENT") return undefined;
            throw e;
          });
        if (reserved?.isDirectory() && identity(reserved) === id) throw reservedFailure(input);
      }
      const relative = this.#relative(realPath) ?? "";
      return { path: fdPath, realPath, relative, isRoot, fd: handle.fd, close: () => handle.close() };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Where the final component leads: itself, or a symlink's target if that stays inside (checked regular). */
  async #finalTarget(
    entry: string,
    input: string,
    purpose: "read" | "write",
    trailingSlash: boolean,
  ): Promise<string> {
    let st = await lstatOrUndefined(entry);
    if (st === undefined) throw new ToolFailure("not_found", `Path ${q(input)} does not exist.`);
    let target = entry;
    if (st.isSymbolicLink()) {
      target = await this.#realpath(entry, input, q(input));
      this.assertInside(target, input, "is a symlink to");
      st = await fs.stat(target);
    }
    if (trailingSlash && !st.isDirectory()) {
      throw new ToolFailure(
        "not_a_file",
        `Path ${q(input)} ends with "/", which names a directory, but it is ${fileKind(st)}.`,
      );
    }
    // Checked before opening: merely opening some devices has effects (a watchdog, a tape rewind).
    if (!st.isFile()) {
      const hint = st.isDirectory() && purpose === "read" ? "; use list_directory to see its entries" : "";
      throw new ToolFailure(
        "not_a_file",
        `Path ${q(input)} is ${fileKind(st)}, not a regular file; refusing to ${purpose} it${hint}.`,
      );
    }
    return target;
  }

  async #realpath(entry: string, input: string, shown: string): Promise<string> {
    try {
      return await fs.realpath(entry);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ELOOP") {
        throw new ToolFailure(
          "invalid_path",
          `Path ${q(input)}: ${shown} is a symlink loop (too many levels of symbolic links).`,
        );
      }
      if (code !== "ENOENT") throw err;
      const link = await fs.readlink(entry);
      throw new ToolFailure(
        "not_found",
        `Path ${q(input)}: ${shown} is a symlink to ${q(link)}, which does not exist.`,
      );
    }
  }

  /** fstat the opened descriptor (the lstat before the open may be stale) and verify where it is. */
  async #checkOpenedFile(handle: FileHandle, input: string): Promise<Stats> {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new ToolFailure("not_a_file", `Path ${q(input)} is ${fileKind(st)}, not a regular file.`);
    }
    this.assertInside(await fs.readlink(`/proc/self/fd/${handle.fd}`), input, "was opened as");
    return st;
  }
}

function hardLinkFailure(input: string, links: number, what: string): ToolFailure {
  return new ToolFailure(
    "outside_workspace",
    `Path ${q(input)} has ${links} hard links; another of its names may be outside the workspace or in ${RESERVED_DIR}/, so it is not ${what}.`,
  );
}

/**
 * Removes the file this call just created (a later check refused it), by its name in the verified
 * parent and only if that name still is the file the descriptor holds.
 */
async function undoCreate(handle: FileHandle, entry: string): Promise<void> {
  try {
    const [opened, named] = await Promise.all([handle.stat(), fs.lstat(entry)]);
    if (identity(opened) === identity(named)) await fs.unlink(entry);
  } catch {
    // Already gone or renamed by someone else: nothing of ours is left under that name.
  }
}

/** Accepts a root path or an existing `Workspace`, so several tools can share one. */
export function toWorkspace(workspace: string | Workspace): Workspace {
  return typeof workspace === "string" ? new Workspace(workspace) : workspace;
}
