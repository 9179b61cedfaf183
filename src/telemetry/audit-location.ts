import { lstatSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { ConfigError } from "../protocol/errors.js";

/**
 * Resolves a path the way the kernel will when it is created and opened: from the root, each
 * component that exists goes through `realpath` (so `link/..` goes to the parent of the link's
 * target, as the kernel does, not back to where the link sits), and components that do not exist
 * yet are appended. The result is the real path of the deepest existing ancestor plus the rest.
 */
export function resolveRealPath(path: string, cwd: string = process.cwd()): string {
  const absolute = isAbsolute(path) ? path : `${cwd}/${path}`;
  let current = "/";
  for (const part of absolute.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    try {
      current = realpathSync(next);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") {
        throw new ConfigError(`Cannot resolve ${path}: ${next} is unusable (${code ?? String(err)}).`, {
          path,
        });
      }
      current = next;
    }
  }
  return current;
}

/**
 * Where the audit trail of a harness goes, as a real path, refused where the agent can write it:
 * inside the workspace (compared after resolving symlinks on both sides), except under the
 * workspace's reserved `.rein/` folder, which must then be a real directory (or absent), never a
 * symlink a workspace could ship (`.rein -> docs`).
 */
export function placeAuditDir(dir: string, workspace: string | null): string {
  const real = resolveRealPath(dir);
  if (workspace === null) return real;
  const ws = resolveRealPath(workspace);
  const reserved = join(ws, ".rein");
  let reservedKind: string | undefined;
  try {
    const stats = lstatSync(reserved);
    if (!stats.isDirectory()) reservedKind = stats.isSymbolicLink() ? "a symbolic link" : "not a directory";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (reservedKind !== undefined) {
    throw new ConfigError(
      `The workspace's reserved folder ${reserved} is ${reservedKind}; it must be a real directory or absent, or the agent's workspace could decide where Rein's state and audit trail go. Remove it.`,
      { field: "audit.dir", path: reserved },
    );
  }
  if ((real === ws || real.startsWith(`${ws}/`)) && !real.startsWith(`${reserved}/`)) {
    throw new ConfigError(
      `config.audit.dir ${dir} resolves to ${real}, inside the workspace ${ws}, where the agent could rewrite it; put it outside, or under the workspace's reserved .rein/ folder.`,
      { field: "audit.dir", resolved: real, workspace: ws },
    );
  }
  return real;
}
