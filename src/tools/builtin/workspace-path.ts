/**
 * The lexical side of workspace paths: what a model-supplied path says before anything is opened
 * (segments, `..`, absolute paths, the reserved `.rein` name), and small helpers for describing entries.
 * What a path actually leads to is decided by `Workspace` (workspace.ts), by descriptor.
 */
import type { Stats } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { ToolFailure } from "../../protocol/tool-result.js";
import { quotePath as q } from "./workspace-failure.js";

/** The workspace directory the harness keeps for its own state and audit; the agent never touches it. */
export const RESERVED_DIR = ".rein";

/** Longest name one path segment may have, in bytes (Linux NAME_MAX). */
const NAME_MAX = 255;

/**
 * Whether `name` is the reserved directory's name. Compared case-insensitively on purpose: Linux ext4
 * is case-sensitive, so there `.REIN` is a different directory, but a workspace on a case-insensitive
 * file system (vfat, casefold ext4, a macOS share) would resolve `.REIN` to `.rein`. Refusing the
 * look-alikes everywhere costs an agent nothing.
 */
export function isReservedName(name: string): boolean {
  return name.toLowerCase() === RESERVED_DIR;
}

/** A model-supplied path, checked lexically. */
export interface WorkspacePath {
  /** Normalised segments; `[]` is the root. */
  readonly segments: string[];
  /** Ends in `/`, `/.` or `/..`: it can only name a directory. */
  readonly trailingSlash: boolean;
}

/**
 * Checks a model-supplied path lexically and returns its normalised segments (`[]` is the root).
 * Refuses NUL bytes, empty paths and names over 255 bytes (`invalid_path`), absolute paths, `..` that
 * climbs above the root and anything under `.rein` (`outside_workspace`).
 *
 * @example
 * parseWorkspacePath("src/../README.md"); // ["README.md"]
 */
export function parseWorkspacePath(input: string): string[] {
  return splitWorkspacePath(input).segments;
}

/**
 * {@link parseWorkspacePath}, also telling whether the path ends in a slash (names a directory).
 *
 * @example
 * splitWorkspacePath("src/"); // { segments: ["src"], trailingSlash: true }
 */
export function splitWorkspacePath(input: string): WorkspacePath {
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
  const raw = input.split("/");
  for (const segment of raw) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") {
      if (Buffer.byteLength(segment) > NAME_MAX) {
        throw new ToolFailure(
          "invalid_path",
          `Path ${q(input)} has a name of ${Buffer.byteLength(segment)} bytes; names are at most ${NAME_MAX} bytes.`,
        );
      }
      segments.push(segment);
    } else if (segments.pop() === undefined) {
      throw new ToolFailure("outside_workspace", `Path ${q(input)} leaves the workspace through "..".`);
    }
  }
  if (segments[0] !== undefined && isReservedName(segments[0])) {
    throw new ToolFailure(
      "outside_workspace",
      `Path ${q(input)} is inside ${RESERVED_DIR}/, which is reserved for the harness.`,
    );
  }
  const last = raw[raw.length - 1];
  return { segments, trailingSlash: raw.length > 1 && (last === "" || last === "." || last === "..") };
}

/** The refusal for an entry named `.rein` in the root, however the path reached the root. */
export function reservedFailure(input: string): ToolFailure {
  return new ToolFailure(
    "outside_workspace",
    `Path ${q(input)} reaches ${RESERVED_DIR}/ in the workspace root, which is reserved for the harness.`,
  );
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
