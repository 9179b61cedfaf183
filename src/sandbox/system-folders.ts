import path from "node:path";
import { SandboxError } from "../protocol/errors.js";

const SYSTEM_FOLDERS = new Set([
  "/",
  "/root",
  "/home",
  "/usr",
  "/etc",
  "/var",
  "/tmp",
  "/opt",
  "/srv",
  "/boot",
  "/run",
]);

/**
 * As root, Rein hands the workspace's entries to the sandbox user: refuse to do that to a system folder
 * or a whole home folder, where it would change the ownership of everything in it.
 */
export function refuseSystemFolder(workspace: string): void {
  if (SYSTEM_FOLDERS.has(workspace) || path.dirname(workspace) === "/home")
    throw new SandboxError(
      `Refusing ${workspace} as a sandbox workspace while running as root: its files would be handed to the unprivileged sandbox user. Use a project folder.`,
      { workspace },
    );
}
