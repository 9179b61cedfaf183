import { SENSITIVE_READ_GLOBS } from "../protocol/sensitive-paths.js";

export { SENSITIVE_READ_GLOBS, sensitiveMaskPatterns } from "../protocol/sensitive-paths.js";

/**
 * The paths Rein treats as sensitive for every tool: `read_file`, `write_file`, and the files a shell
 * command reads or writes are all checked against this one list. `~` is the user's home and a
 * pattern without a leading `/` or `~` is relative to the workspace; `**` matches any depth. The
 * sandbox can mask the same paths (see `sensitivePathGlobs`).
 */

/** Writes here are BLOCK: the system itself, devices, and Rein's own state in the workspace. */
export const SYSTEM_WRITE_GLOBS: readonly string[] = Object.freeze([
  "/",
  "/etc/**",
  "/usr/**",
  "/bin/**",
  "/sbin/**",
  "/lib/**",
  "/lib32/**",
  "/lib64/**",
  "/boot/**",
  "/sys/**",
  "/proc/**",
  "/var/**",
  "/dev/**",
  ".rein",
  ".rein/**",
]);

/** Device files a command may write without harm. */
export const HARMLESS_DEVICES: ReadonlySet<string> = new Set([
  "/dev/null",
  "/dev/zero",
  "/dev/stdout",
  "/dev/stderr",
  "/dev/stdin",
  "/dev/tty",
]);

/** Writes here are HIGH: persistence (shell start-up files, git hooks, keys) and credentials. */
export const PERSISTENCE_WRITE_GLOBS: readonly string[] = Object.freeze([
  "~/.*",
  "~/.*/**",
  "**/.git/hooks/**",
  "**/.git/config",
  "**/.env",
  "**/.env.*",
  "**/.envrc",
]);

/**
 * The sensitive globs with `~` and workspace-relative patterns made absolute, for a sandbox that
 * masks them (the bubblewrap sandbox's `maskPaths`).
 *
 * @example
 * sensitivePathGlobs({ home: "/home/me", workspace: "/home/me/project" }); // ["/home/me/.ssh/**", …]
 */
export function sensitivePathGlobs(where: { home: string; workspace: string | null }): string[] {
  return SENSITIVE_READ_GLOBS.map((g) => absoluteGlob(g, where));
}

/** `~/x` → `<home>/x`; `x` (workspace-relative) → `<workspace>/x`, or `**​/x` when there is no workspace. */
export function absoluteGlob(glob: string, where: { home: string; workspace: string | null }): string {
  if (glob === "~") return where.home;
  if (glob.startsWith("~/")) return `${trimSlash(where.home)}/${glob.slice(2)}`;
  if (glob.startsWith("/") || glob.startsWith("**/")) return glob;
  return where.workspace === null ? `**/${glob}` : `${trimSlash(where.workspace)}/${glob}`;
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}
