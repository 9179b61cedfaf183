import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { ETC_BOUND_DIRS } from "./etc.js";
import type { MaskedEntry } from "./masks.js";

/**
 * The only host paths the sandbox sees, read-only: the system's programs and libraries, and a
 * generated /etc (etc.ts). Never `--ro-bind / /`: /etc/shadow, /home, /root, /var, /run (and the Docker
 * socket in it), /sys and every other host path simply do not exist inside.
 */
export const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] as const;

/** Where the egress proxy's Unix socket appears inside the sandbox when network mode is `proxy`. */
export const PROXY_SOCKET_PATH = "/run/rein/egress.sock";
export const SANDBOX_HOSTNAME = "rein-sandbox";

export interface BwrapPlan {
  /** The workspace path inside the sandbox (the same as on the host). */
  readonly workspace: string;
  /** Where bubblewrap binds the workspace from (a staging point when `privateMount` is used). */
  readonly workspaceSource: string;
  /** Working directory inside the sandbox. */
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  /** The command's whole environment (bubblewrap clears the rest). */
  readonly env: Readonly<Record<string, string>>;
  /** Size of the /tmp tmpfs in bytes. */
  readonly tmpBytes: number;
  readonly masks: readonly MaskedEntry[];
  /** The descriptor bubblewrap reads the seccomp BPF program from. */
  readonly seccompFd: number;
  /** The descriptor bubblewrap writes its JSON status to (the child's pid once started, its exit code). */
  readonly statusFd: number;
  /** The sandbox's /etc (built by etc.ts), bound read-only. */
  readonly etcDir: string;
  /** An empty read-only file, bound over masked files. */
  readonly emptyFile: string;
  /** The egress proxy's Unix socket on the host, bound at `PROXY_SOCKET_PATH`. */
  readonly proxySocket?: string;
  /** Host paths bound read-only at the same path (after the system folders). */
  readonly readOnlyBinds?: readonly string[];
  readonly argv: readonly string[];
}

/** `--symlink` for merged-/usr links (/bin -> usr/bin), `--ro-bind` for real folders, nothing if absent. */
function systemBinds(): string[] {
  const out: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    const st = lstatSync(dir);
    if (st.isSymbolicLink()) out.push("--symlink", readlinkSync(dir), dir);
    else if (st.isDirectory()) out.push("--ro-bind", dir, dir);
  }
  return out;
}

let cachedSystemBinds: string[] | undefined;

/**
 * bubblewrap's arguments: every namespace unshared (user, pid, net, ipc, uts, cgroup), killed with its
 * parent, a new session (no TIOCSTI into the caller's terminal),
 * every capability dropped, the environment cleared, an allowlisted read-only filesystem with the
 * workspace read-write, a size-capped /tmp, a fresh /proc, a minimal /dev, masks over denied paths,
 * and the seccomp filter.
 */
export function bwrapArgs(plan: BwrapPlan): string[] {
  cachedSystemBinds ??= systemBinds();
  const a: string[] = [
    "--unshare-all",
    "--unshare-user",
    // No --disable-userns: the seccomp filter already refuses clone/unshare with CLONE_NEWUSER (and
    // clone3), and bwrap's way of disabling them costs a second user namespace per command.
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--uid",
    String(plan.uid),
    "--gid",
    String(plan.gid),
    "--hostname",
    SANDBOX_HOSTNAME,
    "--clearenv",
  ];
  for (const [k, v] of Object.entries(plan.env)) a.push("--setenv", k, v);
  a.push(...cachedSystemBinds);
  a.push("--ro-bind", plan.etcDir, "/etc");
  for (const rel of ETC_BOUND_DIRS) a.push("--ro-bind-try", `/etc/${rel}`, `/etc/${rel}`);
  a.push("--proc", "/proc", "--dev", "/dev");
  a.push("--size", String(plan.tmpBytes), "--perms", "1777", "--tmpfs", "/tmp");
  a.push("--symlink", "/tmp", "/var/tmp");
  // After /tmp's tmpfs, so a package folder under /tmp (an app in a temp folder) is not hidden by it.
  for (const p of plan.readOnlyBinds ?? []) a.push("--ro-bind", p, p);
  a.push("--bind", plan.workspaceSource, plan.workspace);
  for (const m of plan.masks) {
    if (m.kind === "dir") a.push("--perms", "0555", "--tmpfs", m.path, "--remount-ro", m.path);
    else a.push("--ro-bind", plan.emptyFile, m.path);
  }
  if (plan.proxySocket) a.push("--ro-bind", plan.proxySocket, PROXY_SOCKET_PATH);
  // The root is bubblewrap's own tmpfs (with no size cap): read-only, so /tmp and the workspace are
  // the only writable places.
  a.push("--remount-ro", "/");
  a.push("--chdir", plan.cwd, "--seccomp", String(plan.seccompFd), "--json-status-fd", String(plan.statusFd));
  a.push("--", ...plan.argv);
  return a;
}
