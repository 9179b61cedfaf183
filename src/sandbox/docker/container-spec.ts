import type Docker from "dockerode";
import { PROXY_SOCKET_PATH } from "../bubblewrap/args.js";
import type { MaskedEntry } from "../bubblewrap/masks.js";
import { PROXY_PORT } from "../bubblewrap/proxy-forwarder.js";
import { OWNER_LABEL } from "./orphans.js";

/** The seed's settings: 512 MB memory, 1 CPU, 100 processes, a 100 MB /tmp, a 10-minute command limit. */
export const DEFAULT_DOCKER_LIMITS = Object.freeze({
  memory: "512m",
  cpus: 1,
  pids: 100,
  tmpSize: "100m",
  timeoutMs: 10 * 60_000,
});

/** The uid/gid of `nobody` in Debian (and most images): the seed's sandbox user. */
export const NOBODY = Object.freeze({ uid: 65534, gid: 65534 });
export const SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin";
export const DOCKER_SANDBOX_HOSTNAME = "rein-sandbox";
/** Label on every container Rein starts, so leftovers of a crashed process can be found and removed. */
export const SANDBOX_LABEL = "dev.rein.sandbox";

/**
 * The container's main process: a shell that stays as pid 1 and reaps what the commands leave behind.
 * pid 1 ignores signals it has no handler for (SIGKILL from inside included), so `kill -9 -1` after a
 * command clears everything but it; `wait` reaps orphans re-parented to it, so zombies never pile up
 * against the pids limit.
 */
export const KEEPER = ["/bin/sh", "-c", "while :; do sleep 86400 & wait; done"];

/**
 * The exit code Rein's wrapper reserves for "the container's init (pid 1) is gone or a zombie". A
 * command may exit with it too: the host never trusts it alone, it confirms with `INIT_PROBE`.
 */
export const INIT_GONE_EXIT = 222;
/** What the wrapper prints on stderr with `INIT_GONE_EXIT`. */
export const INIT_GONE_MARKER = "rein: the container init (pid 1) has stopped";
/**
 * Reads pid 1's state from /proc/1/stat (third field; the keeper's name, `sh`, has no space): missing,
 * zombie (Z) or dead (X) means the container is going down, whatever the engine says yet.
 */
const INIT_CHECK = `st=gone; read -r _ _ st _ 2>/dev/null </proc/1/stat; case $st in Z|X|gone) echo "${INIT_GONE_MARKER}" >&2; exit ${INIT_GONE_EXIT};; esac`;

/**
 * Wraps every command: it runs only while the container's init is alive; after it exits, every other
 * process of the sandbox user dies (kill -1 spares pid 1 and the caller), so background jobs and
 * daemons never outlive their command or hold its output open; init is checked again, so a command
 * that ended its own container says so. Docker adds HOSTNAME to every process; it is not the caller's,
 * so it goes.
 */
export const COMMAND_WRAPPER = [
  "/bin/sh",
  "-c",
  `unset HOSTNAME; ${INIT_CHECK}; "$@"; rc=$?; kill -9 -1 2>/dev/null; ${INIT_CHECK}; exit $rc`,
  "rein",
];

/**
 * Relays 127.0.0.1:3128 inside the container to the egress proxy's Unix socket (the image has python3,
 * not socat), one thread pair per connection, each direction half-closed on its EOF.
 */
const FORWARDER_PY = [
  "import socket, threading",
  "def pipe(a, b):",
  "    try:",
  "        while True:",
  "            d = a.recv(65536)",
  "            if not d: break",
  "            b.sendall(d)",
  "    except OSError: pass",
  "    try: b.shutdown(socket.SHUT_WR)",
  "    except OSError: pass",
  "def serve(c):",
  "    u = socket.socket(socket.AF_UNIX)",
  "    try:",
  `        u.connect("${PROXY_SOCKET_PATH}")`,
  "        t = threading.Thread(target=pipe, args=(c, u), daemon=True); t.start(); pipe(u, c); t.join()",
  "    except OSError: pass",
  "    c.close(); u.close()",
  "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
  `s.bind(("127.0.0.1", ${PROXY_PORT})); s.listen(64)`,
  "while True:",
  "    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()",
].join("\n");

// The command starts only once the forwarder listens (/proc/net/tcp: 0100007F:0C38 = 127.0.0.1:3128,
// state 0A), so its first connection cannot race it; the wait is bounded and fails loudly. The
// forwarder dies with the command's other processes (kill -9 -1).
const FORWARDER = `python3 -c '${FORWARDER_PY}' </dev/null >/dev/null 2>&1 & i=0; until grep -q '^ *[0-9]*: 0100007F:${PROXY_PORT.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A' /proc/net/tcp; do i=$((i+1)); if [ "$i" -gt 100000 ]; then echo "rein: the egress forwarder did not start" >&2; exit 125; fi; done`;

/** The command wrapper; in proxy mode the egress forwarder starts first. */
export function commandWrapper(proxy: boolean): string[] {
  if (!proxy) return COMMAND_WRAPPER;
  return [
    "/bin/sh",
    "-c",
    `unset HOSTNAME; ${INIT_CHECK}; ${FORWARDER}; "$@"; rc=$?; kill -9 -1 2>/dev/null; ${INIT_CHECK}; exit $rc`,
    "rein",
  ];
}

/** Exits 0 while the container's init is alive, `INIT_GONE_EXIT` once it is gone. Kills nothing. */
export const INIT_PROBE = ["/bin/sh", "-c", `${INIT_CHECK}; exit 0`];

/** Kills every process of the sandbox user but pid 1: a timeout, an abort, reset and dispose. */
export const KILL_ALL = ["/bin/sh", "-c", "kill -9 -1 2>/dev/null; exit 0"];

export interface ContainerPlan {
  readonly image: string;
  readonly runtime?: string;
  readonly workspace: string;
  readonly uid: number;
  readonly gid: number;
  readonly memoryBytes: number;
  readonly cpus: number;
  readonly pids: number;
  readonly tmpBytes: number;
  readonly masks: readonly MaskedEntry[];
  /** An empty read-only host file, bound over masked files. */
  readonly emptyFile: string;
  /** The seccomp profile (JSON) that replaces Docker's default one. */
  readonly seccomp: string;
  /** The owner mark (orphans.ts): a sweep removes the container once its owner is gone. */
  readonly owner: string;
  /** The egress proxy's Unix socket on the host, bound read-only at `PROXY_SOCKET_PATH`: the only way out. */
  readonly proxySocket?: string;
  /** Extra environment of every command (the proxy variables in proxy mode). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The create request: no network, a read-only root, an in-memory /tmp, every capability dropped,
 * no-new-privileges, memory (without swap), CPU and process limits, and the workspace bound read-write
 * at its host path (like bubblewrap) with secrets masked by read-only binds and read-only tmpfs.
 */
export function containerSpec(p: ContainerPlan): Docker.ContainerCreateOptions {
  const tmpfs: Record<string, string> = { "/tmp": `rw,nosuid,nodev,size=${p.tmpBytes},mode=1777` };
  const mounts: Docker.MountSettings[] = [{ Type: "bind", Source: p.workspace, Target: p.workspace }];
  if (p.proxySocket)
    mounts.push({ Type: "bind", Source: p.proxySocket, Target: PROXY_SOCKET_PATH, ReadOnly: true });
  for (const m of p.masks) {
    if (m.kind === "dir") tmpfs[m.path] = "ro,nosuid,nodev,noexec,size=4k,mode=0555";
    else mounts.push({ Type: "bind", Source: p.emptyFile, Target: m.path, ReadOnly: true });
  }
  return {
    Image: p.image,
    Cmd: KEEPER,
    User: `${p.uid}:${p.gid}`,
    WorkingDir: p.workspace,
    Hostname: DOCKER_SANDBOX_HOSTNAME,
    Env: [
      `PATH=${SANDBOX_PATH}`,
      "HOME=/tmp",
      "LANG=C.UTF-8",
      ...Object.entries(p.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ],
    NetworkDisabled: true,
    Labels: { [SANDBOX_LABEL]: String(process.pid), [OWNER_LABEL]: p.owner },
    HostConfig: {
      ...(p.runtime ? { Runtime: p.runtime } : {}),
      NetworkMode: "none",
      ReadonlyRootfs: true,
      Tmpfs: tmpfs,
      Mounts: mounts,
      // /dev/shm is writable scratch space too: no larger than /tmp.
      ShmSize: p.tmpBytes,
      Memory: p.memoryBytes,
      MemorySwap: p.memoryBytes,
      NanoCpus: Math.round(p.cpus * 1e9),
      PidsLimit: p.pids,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges", `seccomp=${p.seccomp}`],
      Init: false,
      AutoRemove: false,
    },
  };
}
