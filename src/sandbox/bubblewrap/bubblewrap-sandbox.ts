import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SandboxError } from "../../protocol/errors.js";
import { checkTimeout, codeArgv, resolveCwd, toArgv, workspaceRelative } from "../exec-input.js";
import type {
  CodeLanguage,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxCapabilities,
  SandboxLimit,
} from "../sandbox.js";
import { parseSize } from "../size.js";
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  killedBeforeStart,
  killGroup,
  type SupervisedRun,
  supervise,
} from "../supervise.js";
import { emptyDirectory, openWorkspace } from "../workspace-files.js";
import { bwrapArgs, PROXY_SOCKET_PATH, SANDBOX_HOSTNAME } from "./args.js";
import { buildEtc } from "./etc.js";
import { findBubblewrap, findHelper } from "./find-bwrap.js";
import { chooseIdentity, type SandboxIdentity, traversable } from "./identity.js";
import { inheritableFds, type LaunchPlan, launchArgv, shadowInheritedFds } from "./launcher.js";
import {
  type CgroupHost,
  CommandCgroup,
  cgroupLimits,
  detectCgroupHost,
  type ResourceLimits,
} from "./limits/cgroup.js";
import { prlimitArgv } from "./limits/rlimit.js";
import { DEFAULT_MASK_PATHS, maskMatcher, scanWorkspace } from "./masks.js";
import { sandboxProxyEnv, withForwarder } from "./proxy-forwarder.js";
import { hostSeccompArch, seccompFilter } from "./seccomp.js";

export const DEFAULT_BUBBLEWRAP_LIMITS = Object.freeze({
  memory: "512m",
  pids: 256,
  cpus: 1,
  tmpSize: "64m",
  timeoutMs: 10 * 60_000,
});
const SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin";
/** The smallest memory limit under which bwrap is spawned straight into the command's cgroups (#bornInside). */
const SPAWN_INSIDE_MIN_MEMORY = 32 * 1024 * 1024;
/** Cgroups kept waiting for the kernel to release a finished command's tasks. */
const MAX_DRAINING = 4;
/** getFile reads at most this much. */
const MAX_GET_BYTES = 64 * 1024 * 1024;

export interface BubblewrapOptions {
  /** The directory mounted read-write (at the same path). Default: a new temporary one the sandbox owns. */
  readonly workspace?: string;
  /** Memory of a command's whole process tree (default 512m); past it the OOM killer ends it (`oomKilled`). */
  readonly memory?: number | string;
  /** Most processes and threads at once (default 256). */
  readonly pids?: number;
  /** CPU bandwidth in cores (default 1). */
  readonly cpus?: number;
  /** Size of the in-memory /tmp (default 64m). */
  readonly tmpSize?: number | string;
  /** Wall-clock limit of a command unless `exec` gives one (default 10 minutes). */
  readonly timeoutMs?: number;
  /**
   * Paths hidden inside the sandbox (an empty file or folder is mounted over them). Default
   * `DEFAULT_MASK_PATHS` (.env*, .ssh, cloud credentials, .rein, …); the policy engine passes its deny
   * list here. A pattern without "/" matches a name at any depth.
   */
  readonly maskPaths?: readonly string[];
  /**
   * `none` (default): a network namespace with only loopback. `{ proxySocket }`: the egress proxy's Unix
   * socket is bound at `/run/rein/egress.sock` and new AF_UNIX sockets are allowed, the one way out.
   */
  readonly network?: "none" | { readonly proxySocket: string };
  /** The unprivileged user to run as when Rein is root (default: the workspace's owner, else a fresh id of its own). */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** `auto` (default): cgroups where Rein may create them, rlimits otherwise. */
  readonly limitsVia?: "auto" | "cgroup" | "rlimit";
  /** Path of bwrap (default: found in /usr/bin, /usr/local/bin, /bin). */
  readonly bwrapPath?: string;
  /**
   * Extra host files or folders bound read-only at the same path, beyond the system folders (e.g. a
   * Node binary and a package folder outside /usr, for the Pyodide backend's runner).
   */
  readonly readOnlyBinds?: readonly string[];
}

/**
 * Options of `execStreaming`: stdin is a stream the caller writes later, stdout is reported as it comes.
 * @internal (the Pyodide backend's; not in the public types, which stay free of Node's)
 */
export interface StreamingExecOptions extends Omit<ExecOptions, "stdin"> {
  readonly input: NodeJS.ReadableStream;
  readonly onStdout?: (chunk: Buffer) => void;
}

interface Running {
  readonly pid: number;
  readonly cgroup?: CommandCgroup;
}

/**
 * The default sandbox on Linux: each command runs under bubblewrap in fresh user, pid, network, ipc, uts
 * and cgroup namespaces, as an unprivileged user (never host uid 0: when Rein is root it drops to the
 * workspace's owner or a fresh id of its own first), with every capability dropped, a cleared environment, an
 * allowlisted read-only filesystem, the workspace read-write with secrets masked, a seccomp deny list,
 * and memory, process, CPU, /tmp, time and output limits. `capabilities.limits` lists those that hold
 * on this host.
 *
 * @example
 * const sandbox = new BubblewrapSandbox({ workspace: "./project", memory: "256m", pids: 64 });
 * const r = await sandbox.exec("python3 -c 'print(6*7)'", { timeoutMs: 10_000 });
 * console.log(r.stdout, r.oomKilled);
 * await sandbox.dispose();
 */
export class BubblewrapSandbox implements Sandbox {
  readonly name = "bubblewrap";
  readonly capabilities: SandboxCapabilities;
  readonly workspace: string;
  readonly identity: SandboxIdentity;
  readonly #owned: boolean;
  readonly #bwrap: string;
  readonly #limits: ResourceLimits;
  readonly #tmpBytes: number;
  readonly #timeoutMs: number;
  readonly #isMasked: (rel: string) => boolean;
  readonly #cgroups: CgroupHost | undefined;
  readonly #rlimits: boolean;
  readonly #stage: string;
  readonly #proxySocket: string | undefined;
  readonly #readOnlyBinds: readonly string[];
  /**
   * bwrap is spawned straight into the command's cgroups (CommandCgroup.spawnInside): cgroup v1, no
   * staging mount, and a memory limit with room for what the fork itself charges there while this
   * thread is inside (its page tables: well under a megabyte for a small Node process, a few for one
   * of gigabytes). Under a smaller limit the memory cgroup's OOM killer could pick this very process
   * during that moment, so a shell step joins instead.
   */
  readonly #bornInside: boolean;
  /**
   * As root, the user Node's spawn drops to before the first exec (no setpriv step). Not when a step
   * needs root first: the staging mount, or a shell step joining cgroups (v2's cgroup.procs, and the
   * parent's, are root's): setpriv drops there, after those steps.
   */
  readonly #spawnAs: { readonly uid: number; readonly gid: number } | undefined;
  readonly #helpers: {
    setpriv?: string;
    prlimit?: string;
    unshare?: string;
    mount?: string;
    socat?: string;
  };
  readonly #running = new Set<Running>();
  /** Descriptors this process inherited without close-on-exec (read once: they come from whoever started it). */
  readonly #leakedFds = inheritableFds();
  /** /dev/null, put over each of `#leakedFds` in bwrap's process (shadowInheritedFds); opened when first needed. */
  #devNull: number | undefined;
  #spare: Promise<CommandCgroup> | undefined;
  /** Whether `#spare` is made yet (its folders exist and hold their limits: taking it costs nothing). */
  #spareState: "pending" | "ready" | "failed" = "pending";
  /** Cgroups of finished commands, empty and ready for the next one (mkdir/rmdir of a v1 memcg is slow). */
  readonly #idle: CommandCgroup[] = [];
  /**
   * Cgroups of finished commands whose killed tasks the kernel has not released yet (`pids.current`
   * lags the exit by a little): checked again when the next command needs one, rather than removed
   * and replaced by a new folder each time.
   */
  readonly #draining: CommandCgroup[] = [];
  readonly #removals = new Set<Promise<void>>();
  /** Cgroups getting a fresh pids folder before they go back to `#idle` (#recycle). */
  readonly #recycling = new Set<Promise<void>>();
  /**
   * Cgroups whose pids folder must be renewed (#recycle), waiting for the next command to have started:
   * a cgroup folder made or removed while bwrap is being spawned into another one holds the kernel's
   * cgroup lock the spawning thread's moves wait for, so renewals run while a command runs instead.
   */
  readonly #stale: CommandCgroup[] = [];
  #disposed = false;

  /** @throws SandboxError when bubblewrap (or a helper) is missing or an option is invalid. */
  constructor(options: BubblewrapOptions = {}) {
    this.#bwrap = findBubblewrap(options.bwrapPath);
    const arch = hostSeccompArch();
    if (!arch)
      throw new SandboxError(
        `The seccomp filter has no syscall table for ${process.arch}; use x86_64 or aarch64.`,
      );
    const d = DEFAULT_BUBBLEWRAP_LIMITS;
    this.#limits = {
      memoryBytes: parseSize(options.memory ?? d.memory, "memory"),
      pids: positiveInt(options.pids ?? d.pids, "pids"),
      cpus: positiveNumber(options.cpus ?? d.cpus, "cpus"),
    };
    this.#tmpBytes = parseSize(options.tmpSize ?? d.tmpSize, "tmpSize");
    this.#timeoutMs = options.timeoutMs ?? d.timeoutMs;
    checkTimeout(this.#timeoutMs);
    const network = options.network ?? "none";
    this.#proxySocket = network === "none" ? undefined : path.resolve(network.proxySocket);
    if (this.#proxySocket !== undefined && !existsSync(this.#proxySocket))
      throw new SandboxError(`The egress proxy socket ${this.#proxySocket} does not exist.`, {
        proxySocket: this.#proxySocket,
      });

    this.#readOnlyBinds = (options.readOnlyBinds ?? []).map((p) => {
      const abs = path.resolve(p);
      if (!existsSync(abs))
        throw new SandboxError(`readOnlyBinds: ${abs} does not exist.`, {
          readOnlyBinds: options.readOnlyBinds,
        });
      return abs;
    });

    const via = options.limitsVia ?? "auto";
    const cgroups = via === "rlimit" ? undefined : detectCgroupHost();
    if (via === "cgroup" && !cgroups)
      throw new SandboxError(
        "limitsVia is 'cgroup' but this process cannot create cgroups (it needs root, or a delegated cgroup v2 subtree).",
      );
    this.#cgroups = cgroups;
    this.#rlimits = !cgroups;

    const { root, owned } = openWorkspace(options.workspace);
    this.workspace = root;
    this.#owned = owned;
    this.identity = chooseIdentity(root, options.user);
    const id = this.identity;
    this.#bornInside =
      cgroups?.version === 1 && !id.privateMount && this.#limits.memoryBytes >= SPAWN_INSIDE_MIN_MEMORY;
    this.#spawnAs =
      id.dropFromRoot && !id.privateMount && (!cgroups || this.#bornInside)
        ? { uid: id.uid, gid: id.gid }
        : undefined;
    if (this.#proxySocket && !traversable(path.dirname(this.#proxySocket), this.identity))
      throw new SandboxError(
        `The sandbox user (uid ${this.identity.uid}) cannot reach the egress proxy socket ${this.#proxySocket}: bubblewrap binds it as that user, so every folder above it must be searchable by it (e.g. chmod 711 its folder).`,
        { proxySocket: this.#proxySocket, uid: this.identity.uid },
      );
    this.#helpers = {
      setpriv: this.identity.dropFromRoot && !this.#spawnAs ? findHelper("setpriv") : undefined,
      prlimit: this.#rlimits ? findHelper("prlimit") : undefined,
      unshare: this.identity.privateMount ? findHelper("unshare") : undefined,
      mount: this.identity.privateMount ? findHelper("mount") : undefined,
      socat: this.#proxySocket ? findHelper("socat") : undefined,
    };
    this.#isMasked = maskMatcher(root, options.maskPaths ?? DEFAULT_MASK_PATHS);

    const limits: SandboxLimit[] = ["time", "output", "disk"];
    if (cgroups) limits.push(...cgroupLimits(cgroups));
    else limits.push("memory", "pids");
    this.capabilities = Object.freeze({
      isolation: "namespaces",
      network: Object.freeze(
        network === "none" ? (["none", "proxy"] as const) : (["proxy", "none"] as const),
      ),
      limits: Object.freeze(limits),
      // Under rlimits, RLIMIT_AS is the memory limit, and node's V8 reserves gigabytes of address space up front.
      languages: Object.freeze(sandboxLanguages().filter((l) => !(this.#rlimits && l === "javascript"))),
    });

    // World-readable staging: the seccomp program and the /etc files bwrap binds, read as the sandbox user.
    this.#stage = mkdtempSync(path.join(tmpdir(), "rein-bwrap-"));
    chmodSync(this.#stage, 0o755);
    writeFileSync(
      path.join(this.#stage, "seccomp.bpf"),
      seccompFilter(arch, { allowUnixSockets: this.#proxySocket !== undefined }),
      { mode: 0o644 },
    );
    writeFileSync(path.join(this.#stage, "empty"), "", { mode: 0o444 });
    buildEtc(path.join(this.#stage, "etc"), {
      uid: this.identity.uid,
      gid: this.identity.gid,
      name: "sandbox",
      hostname: SANDBOX_HOSTNAME,
    });
    mkdirSync(path.join(this.#stage, "workspace"), { mode: 0o755 });
  }

  async exec(command: string | readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const { run, oomKilled } = await this.#run(toArgv(command), options);
    return {
      ...run,
      stdout: run.stdout.toString("utf8"),
      stderr: run.stderr.toString("utf8"),
      oomKilled,
    };
  }

  /**
   * Like `exec` with an argv, for a long-lived program driven over stdin (the Pyodide pool's warm
   * interpreters): `input` is piped to its stdin and each stdout chunk is also given to `onStdout`.
   * @internal
   */
  async execStreaming(argv: readonly string[], options: StreamingExecOptions): Promise<ExecResult> {
    const { run, oomKilled } = await this.#run(toArgv(argv), options);
    return {
      ...run,
      stdout: run.stdout.toString("utf8"),
      stderr: run.stderr.toString("utf8"),
      oomKilled,
    };
  }

  async runCode(
    language: CodeLanguage,
    code: string,
    options: Omit<ExecOptions, "stdin"> = {},
  ): Promise<ExecResult> {
    if (!this.capabilities.languages.includes(language))
      throw new SandboxError(
        `The bubblewrap sandbox cannot run ${language}: its interpreter is not in the sandbox's /usr/bin.`,
        { language, available: this.capabilities.languages },
      );
    return this.exec(codeArgv(language), { ...options, stdin: code });
  }

  /** Writes through the sandbox itself, as its user and with its view (symlinks cannot lead out). */
  async putFile(p: string, data: string | Uint8Array): Promise<void> {
    const rel = workspaceRelative(this.workspace, p);
    const script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"';
    const { run } = await this.#run(["/bin/sh", ["-c", script, "put", rel]], {
      stdin: data,
      timeoutMs: 60_000,
    });
    if (run.exitCode !== 0)
      throw new SandboxError(
        `Could not write ${JSON.stringify(p)} in the sandbox: ${run.stderr.toString().trim()}`,
        {
          path: p,
        },
      );
  }

  /** Reads through the sandbox itself; FIFOs, sockets and devices are refused rather than waited on. */
  async getFile(p: string): Promise<Uint8Array> {
    const rel = workspaceRelative(this.workspace, p);
    const script =
      'if [ -p "$1" ] || [ -S "$1" ] || [ -c "$1" ] || [ -b "$1" ]; then echo "not a regular file" >&2; exit 3; fi; exec cat -- "$1"';
    const { run } = await this.#run(["/bin/sh", ["-c", script, "get", rel]], {
      timeoutMs: 60_000,
      maxOutputBytes: MAX_GET_BYTES,
    });
    if (run.exitCode !== 0)
      throw new SandboxError(
        `Could not read ${JSON.stringify(p)} in the sandbox: ${run.stderr.toString().trim()}`,
        {
          path: p,
        },
      );
    if (run.truncated)
      throw new SandboxError(`${JSON.stringify(p)} is larger than ${MAX_GET_BYTES} bytes.`, { path: p });
    return run.stdout;
  }

  async reset(): Promise<void> {
    this.#checkOpen();
    this.#killAll();
    if (this.#owned) await emptyDirectory(this.workspace);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#killAll();
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare) this.#track(spare.then((cg) => cg.remove()).catch(() => {}));
    for (const cg of [...this.#idle.splice(0), ...this.#draining.splice(0), ...this.#stale.splice(0)])
      this.#track(cg.remove());
    // A recycling cgroup tracks its own removal once it sees the sandbox disposed.
    while (this.#removals.size > 0) await Promise.all(this.#removals);
    for (const cg of this.#idle.splice(0)) await cg.remove();
    rmSync(this.#stage, { recursive: true, force: true });
    if (this.#devNull !== undefined) closeSync(this.#devNull);
    this.#devNull = undefined;
    if (this.#owned) rmSync(this.workspace, { recursive: true, force: true });
  }

  /**
   * The cgroup for the next command: an idle one a finished command left empty, else one made ahead
   * (a cgroup v1 mkdir and its limit writes cost a few ms), so a command rarely waits for its own.
   */
  async #takeCgroup(): Promise<CommandCgroup | undefined> {
    const host = this.#cgroups;
    if (!host) return undefined;
    const make = () => {
      const p = CommandCgroup.create(host, this.#limits);
      // A failure surfaces when the cgroup is taken.
      const settle = (state: "ready" | "failed") => () => {
        if (this.#spare === p) this.#spareState = state;
      };
      p.then(settle("ready"), settle("failed"));
      return p;
    };
    for (let i = 0; i < this.#draining.length; i++) {
      const cg = this.#draining[i]!;
      if (!cg.hasTasks()) {
        this.#draining.splice(i--, 1);
        this.#recycle(cg);
      }
    }
    let idle = this.#idle.pop();
    // A spare already made is ready now: with one cgroup renewing (or about to), commands that run one
    // after another take turns between two cgroups, each renewed while the other one's command runs,
    // and none waits for a renewal. Otherwise a cgroup whose pids folder is being renewed is ready in
    // a moment (a mkdir, a write, an rmdir): waiting for it beats making one more (a memory cgroup
    // costs far more to make and remove), so the pool stays small.
    const rotate = this.#spareState === "ready" && this.#recycling.size + this.#stale.length <= 1;
    if (!idle && !rotate) this.#renewStale();
    while (!idle && !rotate && this.#recycling.size > 0) {
      await Promise.race(this.#recycling);
      idle = this.#idle.pop();
    }
    if (idle) return idle;
    const spare = this.#spare ?? make();
    this.#spareState = "pending";
    this.#spare = this.#disposed ? undefined : make();
    return await spare;
  }

  /**
   * A cgroup no process is attached to any more goes back to the pool (recycle); one with killed
   * tasks still being released waits in `#draining` (at most a few: past that the oldest is removed,
   * killing what is left).
   */
  #release(cg: CommandCgroup): void {
    if (this.#disposed) this.#track(cg.remove());
    else if (!cg.hasTasks()) this.#recycle(cg);
    else {
      this.#draining.push(cg);
      if (this.#draining.length > MAX_DRAINING) this.#track(this.#draining.shift()!.remove());
    }
  }

  /**
   * Into `#idle`, after a fresh pids folder replaces one that still counts the last command's
   * unreaped zombies (CommandCgroup.pidsLingering), so every command starts with its whole pids limit.
   */
  #recycle(cg: CommandCgroup): void {
    if (!cg.pidsLingering()) this.#idle.push(cg);
    else this.#stale.push(cg);
  }

  /** Starts renewing the pids folder of every `#stale` cgroup (#recycle). */
  #renewStale(): void {
    for (const cg of this.#stale.splice(0)) this.#renew(cg);
  }

  #renew(cg: CommandCgroup): void {
    const renewed: Promise<void> = cg
      .renewPids(this.#limits)
      .then(
        () => (this.#disposed ? cg.remove() : void this.#idle.push(cg)),
        () => cg.remove(),
      )
      .finally(() => this.#recycling.delete(renewed));
    this.#recycling.add(renewed);
    this.#track(renewed);
  }

  #track(removal: Promise<void>): void {
    this.#removals.add(removal);
    void removal.finally(() => this.#removals.delete(removal));
  }

  #killAll(): void {
    for (const r of this.#running) {
      killGroup(r.pid);
      r.cgroup?.killAll();
    }
  }

  #checkOpen(): void {
    if (this.#disposed)
      throw new SandboxError("This bubblewrap sandbox was disposed; create a new one to run commands.");
  }

  async #run(
    [file, args]: [string, string[]],
    options: ExecOptions | StreamingExecOptions,
  ): Promise<{ run: SupervisedRun; oomKilled: boolean }> {
    this.#checkOpen();
    const { maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES, signal } = options;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    checkTimeout(timeoutMs);
    const cwd = await resolveCwd(this.workspace, options.cwd);
    if (signal?.aborted) return { run: killedBeforeStart(), oomKilled: false };
    const started = performance.now();
    const id = this.identity;
    // The workspace scan and the cgroup are independent: wait for both at once.
    const [scanned, taken] = await Promise.allSettled([
      scanWorkspace(this.workspace, this.#isMasked, id.chownWorkspace ? id : undefined),
      this.#takeCgroup(),
    ]);
    if (scanned.status === "rejected") {
      if (taken.status === "fulfilled" && taken.value) this.#release(taken.value);
      throw scanned.reason;
    }
    if (taken.status === "rejected") throw taken.reason;
    const scan = scanned.value;
    const cgroup = taken.value;
    const oomBefore = cgroup?.oomKills() ?? 0;
    if (this.#disposed || signal?.aborted) {
      // Disposed or aborted while the command was being prepared: start nothing.
      if (cgroup) this.#track(cgroup.remove());
      return { run: killedBeforeStart(), oomKilled: false };
    }
    const seccompFd = openSync(path.join(this.#stage, "seccomp.bpf"), "r");
    let child: ChildProcess;
    try {
      const env: Record<string, string> = { PATH: SANDBOX_PATH, HOME: "/tmp", LANG: "C.UTF-8" };
      if (this.#proxySocket)
        Object.assign(env, sandboxProxyEnv(), { REIN_EGRESS_PROXY: `unix:${PROXY_SOCKET_PATH}` });
      Object.assign(env, options.env);
      const stageTarget = path.join(this.#stage, "workspace");
      if (this.#leakedFds.length > 0) this.#devNull ??= openSync("/dev/null", "r");
      const fds = shadowInheritedFds(
        ["pipe", "pipe", "pipe", seccompFd, "pipe"],
        this.#leakedFds,
        this.#devNull ?? -1,
      );
      const plan: LaunchPlan = {
        // Born inside: this thread joins around the spawn (spawnInside); else the shell step joins.
        cgroupProcs: cgroup && !this.#bornInside ? cgroup.joinFiles : [],
        stage: id.privateMount
          ? {
              unshare: this.#helpers.unshare!,
              mount: this.#helpers.mount!,
              source: this.workspace,
              target: stageTarget,
            }
          : undefined,
        prlimit: this.#rlimits ? [this.#helpers.prlimit!, ...prlimitArgv(this.#limits).slice(1)] : undefined,
        drop:
          id.dropFromRoot && !this.#spawnAs
            ? { setpriv: this.#helpers.setpriv!, uid: id.uid, gid: id.gid }
            : undefined,
        bwrap: this.#bwrap,
        bwrapArgs: [
          ...fds.bwrapArgs,
          ...bwrapArgs({
            workspace: this.workspace,
            workspaceSource: id.privateMount ? stageTarget : this.workspace,
            cwd,
            uid: id.uid,
            gid: id.gid,
            env,
            tmpBytes: this.#tmpBytes,
            masks: scan.masked,
            seccompFd: 3,
            statusFd: 4,
            etcDir: path.join(this.#stage, "etc"),
            emptyFile: path.join(this.#stage, "empty"),
            proxySocket: this.#proxySocket,
            readOnlyBinds: this.#readOnlyBinds,
            argv: this.#helpers.socat
              ? withForwarder(this.#helpers.socat, [file, args]).flat(1)
              : [file, ...args],
          }),
        ],
      };
      const argv = launchArgv(plan);
      // detached: the launcher leads a process group; bwrap's own children die with it (--die-with-parent,
      // and the pid namespace ends with its init), and the cgroup catches anything else.
      // With #spawnAs, libuv clears the supplementary groups and sets gid then uid before the first
      // exec, so no step runs as root; bwrap sets no_new_privs and drops every capability inside.
      const start = (a: string[]) =>
        spawn(a[0]!, a.slice(1), {
          cwd: "/",
          env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" },
          detached: true,
          stdio: fds.stdio as ("pipe" | "ignore" | number)[],
          ...this.#spawnAs,
        });
      // Born in the command's cgroups: this thread moves in for the spawn, and back.
      child = cgroup && this.#bornInside ? cgroup.spawnInside(() => start(argv)) : start(argv);
      // bwrap is running: now the last commands' cgroups can be renewed without slowing its start.
      this.#renewStale();
    } catch (err) {
      if (cgroup) this.#track(cgroup.remove());
      throw new SandboxError(`Could not start bubblewrap: ${(err as Error).message}`, {}, { cause: err });
    } finally {
      closeSync(seccompFd);
    }
    let status = "";
    let startupMs: number | undefined;
    const statusPipe = child.stdio[4];
    const statusClosed = new Promise<void>((resolve) => {
      if (!statusPipe) return resolve();
      statusPipe.on("data", (chunk: Buffer) => {
        if (status.length < 4096) status += chunk.toString("utf8");
        // bwrap writes {"child-pid": N} once the command runs in its namespaces: start-up ends there.
        if (startupMs === undefined && status.includes('"child-pid"'))
          startupMs = Math.round((performance.now() - started) * 10) / 10;
      });
      statusPipe.on("close", () => resolve());
      statusPipe.on("error", () => resolve());
    });
    const pid = child.pid;
    const running: Running | undefined = pid === undefined ? undefined : { pid, cgroup };
    if (running) this.#running.add(running);
    // dispose() or reset() may have run while this command was being prepared.
    if (this.#disposed && pid !== undefined) killGroup(pid);
    try {
      const run = await supervise(child, {
        file,
        started,
        maxOutputBytes,
        timeoutMs,
        signal,
        stdin: "input" in options ? options.input : options.stdin,
        onStdout: "onStdout" in options ? options.onStdout : undefined,
        killTree: () => {
          if (pid !== undefined) killGroup(pid);
          cgroup?.killAll();
        },
      });
      const oomKilled = (cgroup?.oomKills() ?? 0) > oomBefore;
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([statusClosed, new Promise((r) => (grace = setTimeout(r, 250)))]);
      clearTimeout(grace);
      // bwrap reports the command's exit code once the command ran; without it, setting the sandbox up
      // failed (or bwrap itself was killed: by us, or by the OOM killer).
      const killed = run.timedOut || signal?.aborted === true || this.#disposed || oomKilled;
      if (!killed && !/"exit-code"/.test(status)) {
        const text = run.stderr.toString().trim();
        throw new SandboxError(
          `bubblewrap could not start the sandbox: ${text || `exit ${run.exitCode ?? run.signal}`}`,
          {
            stderr: text,
            exitCode: run.exitCode,
          },
        );
      }
      return { run: startupMs === undefined ? run : { ...run, startupMs }, oomKilled };
    } finally {
      if (running) this.#running.delete(running);
      if (cgroup) this.#release(cgroup);
    }
  }
}

function sandboxLanguages(): CodeLanguage[] {
  const out: CodeLanguage[] = [];
  if (existsSync("/usr/bin/python3")) out.push("python");
  if (existsSync("/usr/bin/node")) out.push("javascript");
  out.push("shell");
  return out;
}

function positiveInt(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new SandboxError(`${what} must be a positive integer, got ${n}.`, { [what]: n });
  return n;
}

function positiveNumber(n: number, what: string): number {
  if (!Number.isFinite(n) || n <= 0)
    throw new SandboxError(`${what} must be a positive number, got ${n}.`, { [what]: n });
  return n;
}
