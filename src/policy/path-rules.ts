import { posix } from "node:path";
import type { RiskLevel } from "../protocol/risk.js";
import { globMatcher } from "./glob.js";
import {
  absoluteGlob,
  HARMLESS_DEVICES,
  PERSISTENCE_WRITE_GLOBS,
  SENSITIVE_READ_GLOBS,
  SYSTEM_WRITE_GLOBS,
} from "./sensitive-paths.js";

export type PathAccess = "read" | "write";

/** Why a path access has the level it has. */
export interface PathVerdict {
  /** The path as the call names it. */
  readonly path: string;
  /** The same path resolved (absolute, `..` and `~` applied): what rules match. */
  readonly absolute: string;
  readonly access: PathAccess;
  readonly level: RiskLevel;
  readonly reason: string;
  readonly rule: string;
}

/** Where relative paths and `~` resolve. */
export interface PathContext {
  /** The workspace root (absolute); relative paths resolve against it. Null: treated as unknown. */
  readonly workspace: string | null;
  /** The home directory `~` stands for. */
  readonly home: string;
}

/** Base names a glob argument (`cat .en?`) is tested against: a glob that can name one is sensitive. */
const SENSITIVE_NAMES = [
  ".env",
  ".env.local",
  ".env.production",
  ".envrc",
  "id_rsa",
  "id_ed25519",
  "id_ecdsa",
  "shadow",
  "credentials",
  ".netrc",
  ".npmrc",
  ".pgpass",
  ".git-credentials",
  "authorized_keys",
];

interface CompiledGlobs {
  readonly test: (path: string) => boolean;
}

function compile(globs: readonly string[], where: PathContext): CompiledGlobs {
  const matcher = globMatcher(
    globs.map((g) => absoluteGlob(g, where)),
    { dot: true },
  );
  return { test: (p) => matcher(p) };
}

/**
 * Judges one path access: credentials and Rein's state are sensitive to read, the system and devices
 * are BLOCK to write, start-up files and hooks are HIGH to write, anything outside the workspace is
 * at least MEDIUM to write. Paths are compared after lexical resolution (`..`, `~`, relative).
 */
export class PathRules {
  readonly #where: PathContext;
  readonly #sensitive: CompiledGlobs;
  readonly #system: CompiledGlobs;
  readonly #persistence: CompiledGlobs;

  constructor(where: PathContext) {
    this.#where = where;
    this.#sensitive = compile(SENSITIVE_READ_GLOBS, where);
    this.#system = compile(SYSTEM_WRITE_GLOBS, where);
    this.#persistence = compile(PERSISTENCE_WRITE_GLOBS, where);
  }

  get context(): PathContext {
    return this.#where;
  }

  /** The absolute, lexically normalised form of a path as a command or tool names it. */
  resolve(path: string, cwd?: string): string {
    const { home, workspace } = this.#where;
    let p = path;
    if (p === "~" || p.startsWith("~/")) p = home + p.slice(1);
    if (p.startsWith("/")) return posix.normalize(p).replace(/(.)\/$/, "$1");
    const base = cwd ?? workspace ?? "/nonexistent-workspace";
    return posix.resolve(base, p);
  }

  /** Inside the workspace (or the workspace itself)? */
  insideWorkspace(absolute: string): boolean {
    const ws = this.#where.workspace;
    return ws !== null && (absolute === ws || absolute.startsWith(`${ws}/`));
  }

  /** The verdict for reading or writing `path`; `glob` says the path is a pattern the shell expands. */
  judge(path: string, access: PathAccess, glob = false): PathVerdict {
    const abs = this.resolve(path);
    const v = this.#judge(path, abs, access, glob);
    return { ...v, absolute: abs };
  }

  #judge(shown: string, abs: string, access: PathAccess, glob: boolean): Omit<PathVerdict, "absolute"> {
    if (abs.startsWith("/dev/tcp/") || abs.startsWith("/dev/udp/")) {
      return {
        path: shown,
        access,
        level: "BLOCK",
        reason: `opens a network socket through ${shown} (a reverse shell pattern)`,
        rule: "path:dev-tcp",
      };
    }
    if (access === "read") {
      if (this.#matches(this.#sensitive, abs, glob)) {
        return {
          path: shown,
          access,
          level: "HIGH",
          reason: `reads ${shown}, a sensitive path (credentials, keys or Rein's state)`,
          rule: "path:sensitive-read",
        };
      }
      if (abs === "/etc/passwd" || abs === "/etc/group" || abs === "/etc/master.passwd")
        return {
          path: shown,
          access,
          level: "MEDIUM",
          reason: `reads ${shown}, the account list (reconnaissance is logged)`,
          rule: "path:account-read",
        };
      if (this.#where.workspace !== null && !this.insideWorkspace(abs) && !HARMLESS_DEVICES.has(abs))
        return {
          path: shown,
          access,
          level: "MEDIUM",
          reason: `reads ${shown}, outside the workspace (looking around the host is logged)`,
          rule: "path:outside-read",
        };
      return { path: shown, access, level: "LOW", reason: `reads ${shown}`, rule: "path:read" };
    }
    if (HARMLESS_DEVICES.has(abs) || abs.startsWith("/dev/fd/")) {
      return {
        path: shown,
        access,
        level: "LOW",
        reason: `writes to ${shown}`,
        rule: "path:harmless-device",
      };
    }
    if (this.#matches(this.#system, abs, glob)) {
      const what = abs.startsWith("/dev/")
        ? "a device"
        : abs.includes("/.rein")
          ? "Rein's own state (.rein/)"
          : "a system path";
      return {
        path: shown,
        access,
        level: "BLOCK",
        reason: `writes to ${shown}, ${what}`,
        rule: abs.startsWith("/dev/")
          ? "path:device-write"
          : abs.includes("/.rein")
            ? "path:rein-state"
            : "path:system-write",
      };
    }
    if (this.#matches(this.#persistence, abs, glob) || this.#matches(this.#sensitive, abs, glob)) {
      return {
        path: shown,
        access,
        level: "HIGH",
        reason: `writes to ${shown}: start-up files, hooks and credentials can run code later or leak secrets`,
        rule: "path:persistence-write",
      };
    }
    if (this.insideWorkspace(abs) || abs === "/tmp" || abs.startsWith("/tmp/")) {
      return {
        path: shown,
        access,
        level: "MEDIUM",
        reason: `writes to ${shown}`,
        rule: "path:workspace-write",
      };
    }
    return {
      path: shown,
      access,
      level: "HIGH",
      reason: `writes to ${shown}, outside the workspace`,
      rule: "path:outside-workspace-write",
    };
  }

  #matches(globs: CompiledGlobs, abs: string, glob: boolean): boolean {
    if (globs.test(abs)) return true;
    if (!glob) return false;
    // A pattern argument: sensitive if its literal directory part is, or its last part can name a
    // sensitive file (`.en?`, `id_*`).
    const firstMeta = abs.search(/[*?[{]/);
    const dir = firstMeta === -1 ? abs : abs.slice(0, abs.lastIndexOf("/", firstMeta));
    if (dir !== abs && (globs.test(dir) || globs.test(`${dir}/x`))) return true;
    const base = posix.basename(abs);
    // A bare wildcard (`*`, `?*`) names everything, not a secret in particular: judge it by its directory.
    if (!/[^*?[\]{},.]/.test(base)) return false;
    // Like the shell (without dotglob), `*` does not match a leading dot: `rm *` spares `.env`.
    const asPattern = globMatcher(base, { dot: false });
    return SENSITIVE_NAMES.some(
      (name) => asPattern(name) && globs.test(posix.join(posix.dirname(abs), name)),
    );
  }
}
