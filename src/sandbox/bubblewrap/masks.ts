import { type Dirent, lchown } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { SandboxError } from "../../protocol/errors.js";
import { sensitiveMaskPatterns } from "../../protocol/sensitive-paths.js";

/**
 * Paths masked in the sandbox's view by default: what a deny policy keeps from the read tool must not
 * be readable with `cat` either. A pattern without "/" matches a name at any depth of the workspace
 * (like .gitignore); one with "/" is relative to the workspace root. Globs as `path.matchesGlob`.
 */
export const DEFAULT_MASK_PATHS: readonly string[] = Object.freeze([
  ...new Set([
    ".env",
    ".env.*",
    ".envrc",
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".pgpass",
    "id_rsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.pem",
    "*.key",
    ".rein",
    // Every path the policy treats as sensitive: one list, so the library's sandboxes hide what the
    // policy denies (not only the CLI's).
    ...sensitiveMaskPatterns(),
  ]),
]);

/** A workspace entry to hide: a file (or FIFO, socket, symlink) gets an empty read-only file over it, a directory an empty read-only tmpfs. */
export interface MaskedEntry {
  readonly path: string;
  readonly kind: "file" | "dir";
}

/** Upper bound on entries walked per command, so a huge workspace fails clearly instead of slowly. */
export const MAX_WALKED_ENTRIES = 200_000;

export interface WorkspaceScan {
  readonly masked: MaskedEntry[];
  readonly entries: number;
}

const lchownAsync = promisify(lchown);

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(`${root}/`);
}

/**
 * Turns mask patterns into a matcher over workspace-relative paths. Absolute paths inside the workspace
 * become literal relative patterns; absolute paths outside it are dropped (the sandbox does not see them).
 */
export function maskMatcher(workspace: string, patterns: readonly string[]): (rel: string) => boolean {
  const anyDepth: string[] = [];
  const rooted: string[] = [];
  for (const raw of patterns) {
    let p = raw.replace(/^~\//, "").replace(/\/+$/, "");
    if (path.isAbsolute(raw)) {
      const rel = path.relative(workspace, raw);
      if (rel.startsWith("..") || path.isAbsolute(rel) || rel === "") continue;
      p = rel;
      rooted.push(p.replace(/[*?[\]{}]/g, "\\$&"));
      continue;
    }
    if (p === "") continue;
    (p.includes("/") ? rooted : anyDepth).push(p);
  }
  // path.matchesGlob compiles its pattern on every call (tens of µs each, times every pattern, times
  // every workspace entry, on every command): answers are remembered, by name for the any-depth
  // patterns and by path for the rooted ones. Bounded: a cache past its size starts over.
  const byName = new Map<string, boolean>();
  const byPath = new Map<string, boolean>();
  const remember = (cache: Map<string, boolean>, key: string, answer: () => boolean): boolean => {
    let hit = cache.get(key);
    if (hit === undefined) {
      if (cache.size >= MATCH_CACHE_ENTRIES) cache.clear();
      hit = answer();
      cache.set(key, hit);
    }
    return hit;
  };
  return (rel) => {
    const base = path.basename(rel);
    return (
      remember(byName, base, () => anyDepth.some((g) => path.matchesGlob(base, g))) ||
      (rooted.length > 0 && remember(byPath, rel, () => rooted.some((g) => path.matchesGlob(rel, g))))
    );
  };
}

/** Answers a mask matcher remembers per cache (names, and paths for rooted patterns). */
const MATCH_CACHE_ENTRIES = 50_000;

/**
 * Walks the workspace without following symlinks: collects the entries to mask (not descending into a
 * masked directory) and, when `chownTo` is set, hands every entry to the sandbox's user so it can write
 * what the host created (Rein running as root over a root-owned workspace).
 */
export async function scanWorkspace(
  workspace: string,
  isMasked: (rel: string) => boolean,
  chownTo?: { uid: number; gid: number },
): Promise<WorkspaceScan> {
  const masked: MaskedEntry[] = [];
  let entries = 0;
  // Each folder's entries are looked at concurrently (lstat and chown go to libuv's thread pool, one
  // round trip each): a walk that awaited them one by one would cost a round trip per entry.
  const visit = async (dir: string, entry: Dirent): Promise<void> => {
    const full = path.join(dir, entry.name);
    const rel = path.relative(workspace, full);
    if (chownTo) await ensureOwner(full, chownTo);
    if (isMasked(rel)) {
      if (entry.isSymbolicLink()) {
        // Mask what it points to when that is in the workspace; outside, the sandbox sees nothing
        // there anyway, and a dangling link reads nothing (binding over it would fail the command).
        const target = await fs.realpath(full).catch(() => undefined);
        const st = target && isInside(workspace, target) ? await fs.stat(target) : undefined;
        if (target && st) masked.push({ path: target, kind: st.isDirectory() ? "dir" : "file" });
      } else masked.push({ path: full, kind: entry.isDirectory() ? "dir" : "file" });
      return;
    }
    if (entry.isDirectory()) await walk(full);
  };
  const walk = async (dir: string): Promise<void> => {
    let list: Dirent[];
    try {
      list = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // removed while we walked
      throw err;
    }
    entries += list.length;
    if (entries > MAX_WALKED_ENTRIES)
      throw new SandboxError(
        `The workspace ${workspace} has more than ${MAX_WALKED_ENTRIES} entries; masking secrets in it would be too slow. Use a smaller workspace.`,
        { workspace },
      );
    await Promise.all(list.map((entry) => visit(dir, entry)));
  };
  await Promise.all([chownTo ? ensureOwner(workspace, chownTo) : undefined, walk(workspace)]);
  // A fixed order (parents before what is inside them), whatever order the lookups finished in: the
  // masks become bubblewrap mounts, applied in this order.
  masked.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { masked, entries };
}

async function ensureOwner(p: string, to: { uid: number; gid: number }): Promise<void> {
  const st = await fs.lstat(p).catch(() => undefined);
  if (!st || (st.uid === to.uid && st.gid === to.gid)) return;
  await lchownAsync(p, to.uid, to.gid);
}
