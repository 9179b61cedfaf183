/**
 * Confines model-supplied paths to one workspace directory. This is the security core of the file tools.
 *
 * Node has no `openat`, so every operation walks the path one directory at a time through
 * `/proc/self/fd/<fd>/<name>`: each directory is opened with `O_NOFOLLOW`, its real path is read back from
 * `/proc/self/fd/<fd>` and checked, and the next step is taken relative to that verified descriptor. A
 * directory swapped for a symlink between the check and the open is therefore caught by the read-back,
 * not by a path check that is already stale.
 */
import { existsSync, constants as fsc, realpathSync, type Stats, statSync } from "node:fs";
import fs, { type FileHandle } from "node:fs/promises";
import path from "node:path";
import { ReinError } from "../../protocol/errors.js";
import { ToolFailure } from "../../protocol/tool-result.js";

/** The workspace directory the harness keeps for its own state and audit; the agent never touches it. */
export const RESERVED_DIR = ".rein";

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;
// O_NONBLOCK: opening a FIFO that raced in after the lstat must not wait for a writer/reader.
const READ_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;
const WRITE_FLAGS = fsc.O_WRONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;

const q = (s: string): string => JSON.stringify(s);

/** A verified open directory. `path` names exactly that directory, whatever happens to its name later. */
export interface OpenDirectory {
  /** `/proc/self/fd/<fd>`: join an entry name to it to act on that entry inside this directory. */
  readonly path: string;
  /** The directory's real path on the host. */
  readonly realPath: string;
  /** Its path relative to the workspace root (`""` for the root itself). */
  readonly relative: string;
  close(): Promise<void>;
}

/** An entry's parent directory, opened and verified, and the entry's name in it. */
export interface ParentAndName {
  readonly dir: OpenDirectory;
  readonly name: string;
  /** `dir.path/name`, for lstat/unlink/rm of the entry itself (never follows a final symlink by itself). */
  readonly entry: string;
}

/**
 * Checks a model-supplied path lexically and returns its normalised segments (`[]` is the root).
 * Refuses NUL bytes and empty paths (`invalid_path`), absolute paths, `..` that climbs above the root and
 * anything under `.rein` (`outside_workspace`).
 *
 * @example
 * parseWorkspacePath("src/../README.md"); // ["README.md"]
 */
export function parseWorkspacePath(input: string): string[] {
  if (input === "")
    throw new ToolFailure("invalid_path", "The path is empty; give a path relative to the workspace.");
  if (input.includes("\0")) throw new ToolFailure("invalid_path", `Path ${q(input)} contains a NUL byte.`);
  if (path.isAbsolute(input)) {
    throw new ToolFailure(
      "outside_workspace",
      `Path ${q(input)} is absolute; only paths relative to the workspace are allowed.`,
    );
  }
  const segments: string[] = [];
  for (const segment of input.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") segments.push(segment);
    else if (segments.pop() === undefined) {
      throw new ToolFailure("outside_workspace", `Path ${q(input)} leaves the workspace through "..".`);
    }
  }
  if (segments[0]?.toLowerCase() === RESERVED_DIR) {
    throw new ToolFailure(
      "outside_workspace",
      `Path ${q(input)} is inside ${RESERVED_DIR}/, which is reserved for the harness.`,
    );
  }
  return segments;
}

/** Describes a non-regular file for a refusal message. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return st.isFile() ? "a regular file" : "not a regular file";
}

/** lstat, with "does not exist" as `undefined`. */
export async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
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
    if (!statSync(real).isDirectory()) {
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
  }

  /** Opens a directory (following symlinks only while they stay inside), optionally creating missing ones. */
  async openDirectory(input: string, options: { create?: boolean } = {}): Promise<OpenDirectory> {
    return this.#walk(parseWorkspacePath(input), input, options.create ?? false);
  }

  /** Opens the parent of `input` and names the entry; refuses the root itself (it has no parent here). */
  async openParent(input: string, options: { create?: boolean } = {}): Promise<ParentAndName> {
    const segments = parseWorkspacePath(input);
    const name = segments.pop();
    if (name === undefined) {
      throw new ToolFailure(
        "invalid_path",
        `Path ${q(input)} is the workspace root itself, not an entry in it.`,
      );
    }
    const dir = await this.#walk(segments, input, options.create ?? false);
    return { dir, name, entry: `${dir.path}/${name}` };
  }

  /** Opens a regular file for reading. Never opens a FIFO, device, socket or directory. */
  async openForRead(input: string): Promise<{ handle: FileHandle; size: number }> {
    const { dir, entry } = await this.openParent(input);
    try {
      const target = await this.#finalTarget(entry, input, "read");
      const handle = await this.#openFile(target, READ_FLAGS, input);
      try {
        const st = await this.#checkOpenedFile(handle, input);
        return { handle, size: st.size };
      } catch (err) {
        await handle.close();
        throw err;
      }
    } finally {
      await dir.close();
    }
  }

  /**
   * Replaces a regular file's content, creating it if missing. The file is opened without `O_TRUNC`, its
   * real path verified, and only then truncated, so no race can ever truncate a file outside the root.
   */
  async writeFile(
    input: string,
    content: string,
    options: { createDirectories?: boolean } = {},
  ): Promise<{ bytes: number; created: boolean }> {
    const { dir, entry } = await this.openParent(input, { create: options.createDirectories ?? false });
    let handle: FileHandle | undefined;
    let created = false;
    try {
      try {
        // Created relative to the verified parent descriptor, so a new file is always inside.
        handle = await fs.open(entry, WRITE_FLAGS | fsc.O_CREAT | fsc.O_EXCL, 0o666);
        created = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EEXIST" && code !== "ELOOP") throw this.#fsFailure(err, input);
        handle = await this.#openFile(await this.#finalTarget(entry, input, "write"), WRITE_FLAGS, input);
      }
      const st = await this.#checkOpenedFile(handle, input);
      if (!created && st.nlink > 1) {
        throw new ToolFailure(
          "outside_workspace",
          `Path ${q(input)} has ${st.nlink} hard links; another of its names may be outside the workspace, so it is not written in place.`,
        );
      }
      await handle.truncate(0);
      await handle.writeFile(content, "utf8");
      return { bytes: Buffer.byteLength(content), created };
    } finally {
      await handle?.close();
      await dir.close();
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
    if (rel.split("/")[0]?.toLowerCase() === RESERVED_DIR) {
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
  async #walk(segments: readonly string[], input: string, create: boolean): Promise<OpenDirectory> {
    let dir = await this.#openDir(this.root, input);
    try {
      for (const [i, segment] of segments.entries()) {
        const shown = q(segments.slice(0, i + 1).join("/"));
        const entry = `${dir.path}/${segment}`;
        let st = await lstatOrUndefined(entry);
        if (st === undefined) {
          if (!create)
            throw new ToolFailure("not_found", `Path ${q(input)}: directory ${shown} does not exist.`);
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

  async #openDir(target: string, input: string): Promise<OpenDirectory> {
    let handle: FileHandle;
    try {
      handle = await fs.open(target, DIR_FLAGS);
    } catch (err) {
      throw this.#fsFailure(err, input);
    }
    try {
      const realPath = await this.#verify(handle, input);
      const relative = this.#relative(realPath) ?? "";
      return { path: `/proc/self/fd/${handle.fd}`, realPath, relative, close: () => handle.close() };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Reads back what a descriptor really refers to and checks it: the authority over any earlier path check. */
  async #verify(handle: FileHandle, input: string): Promise<string> {
    const real = await fs.readlink(`/proc/self/fd/${handle.fd}`);
    this.assertInside(real, input, "was opened as");
    return real;
  }

  /** Where the final component leads: itself, or a symlink's target if that stays inside (checked regular). */
  async #finalTarget(entry: string, input: string, purpose: "read" | "write"): Promise<string> {
    let st = await lstatOrUndefined(entry);
    if (st === undefined) throw new ToolFailure("not_found", `Path ${q(input)} does not exist.`);
    let target = entry;
    if (st.isSymbolicLink()) {
      target = await this.#realpath(entry, input, q(input));
      this.assertInside(target, input, "is a symlink to");
      st = await fs.stat(target);
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
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw this.#fsFailure(err, input);
      const link = await fs.readlink(entry);
      throw new ToolFailure(
        "not_found",
        `Path ${q(input)}: ${shown} is a symlink to ${q(link)}, which does not exist.`,
      );
    }
  }

  async #openFile(target: string, flags: number, input: string): Promise<FileHandle> {
    try {
      return await fs.open(target, flags);
    } catch (err) {
      throw this.#fsFailure(err, input);
    }
  }

  /** fstat the opened descriptor (the lstat before the open may be stale) and verify where it is. */
  async #checkOpenedFile(handle: FileHandle, input: string): Promise<Stats> {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new ToolFailure("not_a_file", `Path ${q(input)} is ${fileKind(st)}, not a regular file.`);
    }
    await this.#verify(handle, input);
    return st;
  }

  /** Turns the errors a racing or unusual workspace produces into failures the model can act on. */
  #fsFailure(err: unknown, input: string): unknown {
    switch ((err as NodeJS.ErrnoException).code) {
      case "ENOENT":
        return new ToolFailure("not_found", `Path ${q(input)} does not exist.`);
      case "ELOOP":
      case "ENOTDIR":
        return new ToolFailure(
          "outside_workspace",
          `Path ${q(input)} changed while it was being opened (a directory became a symlink or a file); refused.`,
        );
      case "ENXIO":
      case "EISDIR":
        return new ToolFailure("not_a_file", `Path ${q(input)} is not a regular file.`);
      case "EACCES":
      case "EPERM":
        return new ToolFailure("access_denied", `Path ${q(input)}: the operating system denied access.`);
      default:
        return err;
    }
  }
}

/** Accepts a root path or an existing `Workspace`, so several tools can share one. */
export function toWorkspace(workspace: string | Workspace): Workspace {
  return typeof workspace === "string" ? new Workspace(workspace) : workspace;
}
