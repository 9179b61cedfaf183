import { accessSync, constants } from "node:fs";
import path from "node:path";
import { SandboxError } from "../../protocol/errors.js";

/** The command that installs bubblewrap, for the error message. */
export const INSTALL_HINT =
  "Install it: `sudo apt-get install -y bubblewrap` (Debian/Ubuntu), `sudo dnf install -y bubblewrap` (Fedora), " +
  "or run `sudo scripts/setup-test-env.sh` from Rein's repository. To run without isolation knowingly, use --sandbox none.";

const SEARCH = ["/usr/bin", "/usr/local/bin", "/bin"];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first of `names` found in the system folders (never the caller's PATH, which the model may shape). */
export function findSystemProgram(name: string, dirs: readonly string[] = SEARCH): string | undefined {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (executable(file)) return file;
  }
  return undefined;
}

/**
 * Finds bwrap, or throws a `SandboxError` that says how to install it: Rein never falls back to running
 * without isolation on its own.
 */
export function findBubblewrap(explicit?: string): string {
  if (process.platform !== "linux")
    throw new SandboxError(
      `bubblewrap needs Linux (this is ${process.platform}); use --sandbox none knowingly, or a container backend.`,
      { platform: process.platform },
    );
  const found = explicit ?? findSystemProgram("bwrap");
  if (found === undefined || !executable(found))
    throw new SandboxError(
      `bubblewrap (bwrap) was not found${explicit ? ` at ${explicit}` : ` in ${SEARCH.join(", ")}`}. ${INSTALL_HINT}`,
      { searched: explicit ? [explicit] : SEARCH },
    );
  return found;
}

/** Helpers the launcher needs, from util-linux; a clear error when one is missing. */
export function findHelper(name: "setpriv" | "prlimit" | "unshare" | "mount" | "socat"): string {
  const found = findSystemProgram(name, ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]);
  if (!found)
    throw new SandboxError(
      name === "socat"
        ? "socat was not found in /usr/bin or /bin; a sandbox with an egress proxy needs it (apt-get install socat)."
        : `${name} was not found in /usr/bin or /bin; the bubblewrap sandbox needs it. Install util-linux and mount.`,
      { program: name },
    );
  return found;
}
