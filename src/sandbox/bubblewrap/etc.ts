import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";

/**
 * The /etc the sandbox sees: a per-sandbox folder, bound read-only as one mount (one mount is cheaper
 * than a dozen). It holds copies of the few host files programs need (dynamic linker cache, name-service
 * switch, time zone, protocol and service names) and generated passwd, group and hosts files that name
 * only the sandbox's user; the two host folders programs need (Debian's alternatives symlinks, CA
 * certificates) are bound read-only over empty mount points in it. Never /etc/shadow, /etc/sudoers, ssh
 * host keys or anything else of the host's.
 */
export const ETC_ALLOWLIST = ["ld.so.cache", "nsswitch.conf", "localtime", "protocols", "services"] as const;
/** Host folders bound (read-only) into the sandbox's /etc, when they exist. */
export const ETC_BOUND_DIRS = ["alternatives", "ssl/certs"] as const;

export interface EtcIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
  readonly hostname: string;
}

/** Copies a file, a symlink (as a symlink) or a folder of those; other kinds are skipped. */
function copyEntry(from: string, to: string, depth: number): void {
  const st = lstatSync(from);
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
  else if (st.isFile()) copyFileSync(from, to);
  else if (st.isDirectory() && depth < 2) {
    mkdirSync(to, { recursive: true, mode: 0o755 });
    for (const name of readdirSync(from)) copyEntry(path.join(from, name), path.join(to, name), depth + 1);
  }
}

/** Builds the sandbox's /etc in `dir` (which must not exist yet). */
export function buildEtc(dir: string, id: EtcIdentity, hostEtc = "/etc"): void {
  mkdirSync(dir, { mode: 0o755 });
  for (const rel of ETC_ALLOWLIST) {
    const from = path.join(hostEtc, rel);
    if (!existsSync(from) && !isSymlink(from)) continue;
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true, mode: 0o755 });
    copyEntry(from, path.join(dir, rel), 0);
  }
  for (const rel of ETC_BOUND_DIRS) mkdirSync(path.join(dir, rel), { recursive: true, mode: 0o755 });
  const write = (name: string, text: string) => writeFileSync(path.join(dir, name), text, { mode: 0o644 });
  write("passwd", `${id.name}:x:${id.uid}:${id.gid}:rein sandbox:/tmp:/bin/sh\n`);
  write("group", `${id.name}:x:${id.gid}:\n`);
  write("hosts", `127.0.0.1\tlocalhost ${id.hostname}\n::1\tlocalhost\n`);
  write("hostname", `${id.hostname}\n`);
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
