/**
 * The paths Rein treats as sensitive, shared by the policy (reading one is HIGH for every tool) and
 * every sandbox (the same paths are masked inside the workspace by default), so a file denied to
 * `read_file` is not readable with `cat` either, even when the shell analysis misjudged a command.
 * `~` is the user's home and a pattern without a leading `/` or `~` is relative to the workspace;
 * `**` matches any depth.
 */

/** Credentials and secrets: reading one is HIGH for every tool. */
export const SENSITIVE_READ_GLOBS: readonly string[] = Object.freeze([
  "~/.ssh/**",
  "~/.gnupg/**",
  "~/.aws/**",
  "~/.azure/**",
  "~/.config/gcloud/**",
  "~/.config/gh/**",
  "~/.kube/**",
  "~/.docker/config.json",
  "~/.netrc",
  "~/.pgpass",
  "~/.npmrc",
  "~/.pypirc",
  "~/.git-credentials",
  "~/.vault-token",
  "/etc/shadow",
  "/etc/gshadow",
  "/etc/sudoers",
  "/etc/sudoers.d/**",
  "/root/**",
  "/proc/*/environ",
  "**/.env",
  "**/.env.*",
  "**/.envrc",
  "**/*.pem",
  "**/id_rsa*",
  "**/id_dsa*",
  "**/id_ecdsa*",
  "**/id_ed25519*",
  "**/.git-credentials",
  "**/.git/hooks/**",
  ".rein/**",
]);

/**
 * The sensitive globs as patterns to hide inside a sandbox's workspace, in the bubblewrap sandbox's
 * `maskPaths` format (a pattern without "/" matches a name at any depth; one with "/" is relative to
 * the workspace root). Paths that can only be outside a workspace (`/etc/shadow`) are left out.
 *
 * @example
 * new BubblewrapSandbox({ workspace, maskPaths: sensitiveMaskPatterns() });
 */
export function sensitiveMaskPatterns(): string[] {
  const out = new Set<string>();
  for (const glob of SENSITIVE_READ_GLOBS) {
    if (glob.startsWith("/")) continue;
    // `~/.ssh/**` becomes `.ssh` (a folder of that name anywhere in the workspace), `**/.env` `.env`.
    const p = glob
      .replace(/^~\//, "")
      .replace(/^\*\*\//, "")
      .replace(/\/\*\*$/, "");
    out.add(p);
  }
  return [...out];
}
