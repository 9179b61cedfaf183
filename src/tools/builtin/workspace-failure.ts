/**
 * How the workspace tools describe a refusal or an operating-system error to the model: always a typed
 * `ToolFailure`, never a raw `Error` whose message would carry the internal `/proc/self/fd/<fd>/…` path.
 */
import { ToolFailure } from "../../protocol/tool-result.js";

/** Longest path echoed whole in a message; a longer one is cut, so a 100 KB path cannot flood the context. */
export const MAX_ECHOED_PATH_CHARS = 200;

/**
 * Quotes a path for a message, cut to {@link MAX_ECHOED_PATH_CHARS} characters with its full length noted.
 *
 * @example
 * quotePath("a".repeat(5000)); // "\"aaaa…aaa\"… (5000 characters)"
 */
export function quotePath(path: string): string {
  if (path.length <= MAX_ECHOED_PATH_CHARS) return JSON.stringify(path);
  return `${JSON.stringify(path.slice(0, MAX_ECHOED_PATH_CHARS))}… (${path.length} characters)`;
}

/** What each errno means to the model; the errno's own message is never used (it names internal paths). */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENAMETOOLONG: "is too long for the operating system (ENAMETOOLONG)",
  EROFS: "is on a read-only file system (EROFS)",
  ENOSPC: "could not be written: no space left on the device (ENOSPC)",
  EDQUOT: "could not be written: the disk quota is exhausted (EDQUOT)",
  ENOTEMPTY: "changed while it was being deleted: a directory was not empty any more (ENOTEMPTY)",
  EBUSY: "is in use by the system, e.g. a mount point (EBUSY)",
  EMFILE: "could not be opened: this process has too many open files (EMFILE)",
  ENFILE: "could not be opened: the system has too many open files (ENFILE)",
  EIO: "could not be accessed: an input/output error (EIO)",
  EXDEV: "is on another file system (EXDEV)",
  EFBIG: "would be larger than the file system allows (EFBIG)",
};

/**
 * Maps any error from a file operation on `input` to a `ToolFailure`. A `ToolFailure` passes through;
 * an errno error becomes a typed failure whose message names `input` (capped), never the errno's text.
 * Anything else (a bug, not the file system) is returned unchanged and reaches the model as `tool_error`.
 * `doing` completes "changed while it was being …" for the races O_NOFOLLOW/O_DIRECTORY catch.
 */
export function workspaceFailure(err: unknown, input: string, doing = "opened"): unknown {
  if (err instanceof ToolFailure) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string") return err;
  const p = quotePath(input);
  switch (code) {
    case "ENOENT":
      return new ToolFailure("not_found", `Path ${p} does not exist.`);
    case "ELOOP":
    case "ENOTDIR":
      return raceFailure(input, doing);
    case "ENXIO":
    case "EISDIR":
      return new ToolFailure("not_a_file", `Path ${p} is not a regular file.`);
    case "EACCES":
    case "EPERM":
      return new ToolFailure("access_denied", `Path ${p}: the operating system denied access (${code}).`);
    case "ENAMETOOLONG":
      return new ToolFailure("invalid_path", `Path ${p} ${ERRNO_TEXT[code]}.`);
    case "EROFS":
      return new ToolFailure("access_denied", `Path ${p} ${ERRNO_TEXT[code]}.`);
    default: {
      const text = ERRNO_TEXT[code];
      if (text !== undefined) return new ToolFailure("io_error", `Path ${p} ${text}.`);
      const shown = /^E[A-Z0-9]{1,15}$/.test(code) ? code : "an unknown error";
      return new ToolFailure("io_error", `Path ${p}: the file operation failed (${shown}).`);
    }
  }
}

/** A directory became a symlink or a file (or back) between two steps: a racing process; refused. */
export function raceFailure(input: string, doing = "opened"): ToolFailure {
  return new ToolFailure(
    "outside_workspace",
    `Path ${quotePath(input)} changed while it was being ${doing} (a directory became a symlink or a file); refused.`,
  );
}

/** The failure a tool throws when its signal aborted between two operations. */
export function cancelledFailure(tool: string, input: string, progress = ""): ToolFailure {
  return new ToolFailure(
    "cancelled",
    `${tool} on ${quotePath(input)} was cancelled and stopped${progress ? ` ${progress}` : ""}.`,
  );
}

/** Throws `cancelled` if `signal` has aborted: called between operations, never mid-syscall. */
export function throwIfAborted(
  signal: AbortSignal | undefined,
  tool: string,
  input: string,
  progress?: string,
): void {
  if (signal?.aborted) throw cancelledFailure(tool, input, progress);
}
