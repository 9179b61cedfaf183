import { constants, mkdtempSync, realpathSync, statSync } from "node:fs";
import fs from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ReinError, SandboxError } from "../protocol/errors.js";
import { isInside, workspaceRelative } from "./exec-input.js";

/** The real path of an existing workspace directory, or a new temporary one the sandbox owns. */
export function openWorkspace(workspace: string | undefined): { root: string; owned: boolean } {
  if (workspace === undefined)
    return { root: realpathSync(mkdtempSync(path.join(tmpdir(), "rein-ws-"))), owned: true };
  let real: string;
  try {
    real = realpathSync(workspace);
  } catch (err) {
    throw new ReinError(
      "REIN_WORKSPACE_INVALID",
      `Workspace "${workspace}" does not exist.`,
      { workspace },
      { cause: err },
    );
  }
  if (!statSync(real).isDirectory()) {
    throw new ReinError("REIN_WORKSPACE_INVALID", `Workspace "${workspace}" is not a directory.`, {
      workspace,
    });
  }
  return { root: real, owned: false };
}

/** Removes everything inside `root`, keeping `root` itself. */
export async function emptyDirectory(root: string): Promise<void> {
  for (const name of await fs.readdir(root))
    await fs.rm(path.join(root, name), { recursive: true, force: true });
}

/**
 * The host-side file path of a workspace file for the unisolated backend: the parent must resolve
 * inside the workspace and the file itself is opened with O_NOFOLLOW.
 */
async function hostPath(workspace: string, p: string, createParents: boolean): Promise<string> {
  const rel = workspaceRelative(workspace, p);
  const parent = path.dirname(path.join(workspace, rel));
  if (createParents) await fs.mkdir(parent, { recursive: true });
  const realParent = await fs.realpath(parent).catch(() => {
    throw new SandboxError(`path ${JSON.stringify(p)}: its folder does not exist.`, { path: p });
  });
  if (!isInside(workspace, realParent))
    throw new SandboxError(`path ${JSON.stringify(p)} resolves outside the workspace.`, { path: p });
  return path.join(realParent, path.basename(rel));
}

export async function putHostFile(workspace: string, p: string, data: string | Uint8Array): Promise<void> {
  const file = await hostPath(workspace, p, true);
  const handle = await fs
    .open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644)
    .catch((err: NodeJS.ErrnoException) => {
      throw new SandboxError(`Could not write ${JSON.stringify(p)}: ${err.code ?? err.message}.`, {
        path: p,
      });
    });
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

export async function getHostFile(workspace: string, p: string): Promise<Buffer> {
  const file = await hostPath(workspace, p, false);
  const handle = await fs
    .open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
    .catch((err: NodeJS.ErrnoException) => {
      throw new SandboxError(`Could not read ${JSON.stringify(p)}: ${err.code ?? err.message}.`, { path: p });
    });
  try {
    if (!(await handle.stat()).isFile())
      throw new SandboxError(`Could not read ${JSON.stringify(p)}: not a regular file.`, { path: p });
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
