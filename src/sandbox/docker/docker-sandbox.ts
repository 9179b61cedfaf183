import { chmodSync, lstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { errorMessage, SandboxError, SandboxUnavailableError } from "../../protocol/errors.js";
import { PROXY_SOCKET_PATH } from "../bubblewrap/args.js";
import { DEFAULT_MASK_PATHS, maskMatcher, scanWorkspace } from "../bubblewrap/masks.js";
import { sandboxProxyEnv } from "../bubblewrap/proxy-forwarder.js";
import { hostSeccompArch } from "../bubblewrap/seccomp.js";
import { checkTimeout, codeArgv, resolveCwd, toArgv, workspaceRelative } from "../exec-input.js";
import type { CodeLanguage, ExecOptions, ExecResult, Sandbox, SandboxCapabilities } from "../sandbox.js";
import { parseSize } from "../size.js";
import { CappedOutput, DEFAULT_MAX_OUTPUT_BYTES } from "../supervise.js";
import { refuseSystemFolder } from "../system-folders.js";
import { emptyDirectory, openWorkspace } from "../workspace-files.js";
import {
  commandWrapper,
  containerSpec,
  DEFAULT_DOCKER_LIMITS,
  INIT_GONE_EXIT,
  KILL_ALL,
  NOBODY,
} from "./container-spec.js";
import { checkImage, checkRuntime, connectEngine, DEFAULT_SANDBOX_IMAGE, engineError } from "./engine.js";
import { containerStopped, runQuiet, STOP_SETTLE_MS } from "./liveness.js";
import { readOomKills } from "./oom.js";
import { ownerMark, sweepOrphansOnce } from "./orphans.js";
import { dockerSeccompProfile } from "./seccomp-profile.js";

/** getFile reads at most this much. */
const MAX_GET_BYTES = 64 * 1024 * 1024;
/**
 * The pids limit of a gVisor container's host cgroup. It counts the sentry's and gofer's host threads
 * (a few per running task), so the sandbox's own `pids` cannot be enforced there; this ceiling only
 * keeps a fork bomb from exhausting the host, and a sandbox that reaches it ends.
 */
export const GVISOR_HOST_THREADS = 1024;
/**
 * Memory added to a gVisor container's cgroup for the sentry and gofer themselves. Measured here: with
 * a 64 MB cgroup and a program allocating past it, the host OOM killer took the sentry (the sandbox died
 * and the command hung until its timeout); with 64 MB more, the program alone is killed.
 */
export const GVISOR_MEMORY_OVERHEAD = 64 * 1024 * 1024;
/** After a kill, how long the exec's stream may take to end before Rein stops waiting for it. */
const KILL_GRACE_MS = 5_000;

export interface DockerSandboxOptions {
  /** The directory bound read-write at the same path inside. Default: a new temporary one the sandbox owns. */
  readonly workspace?: string;
  /** A local image (default `rein-sandbox:1`, built by scripts/build-sandbox-image.sh); never pulled. */
  readonly image?: string;
  /** A runtime registered with the engine: `runsc` runs the container under gVisor. Default: the engine's (runc). */
  readonly runtime?: string;
  /** The engine's Unix socket (default: DOCKER_HOST, else /var/run/docker.sock). */
  readonly socketPath?: string;
  /**
   * Memory of the whole container, no swap (default 512m). Under gVisor the cgroup gets
   * `GVISOR_MEMORY_OVERHEAD` (64 MB) more, for the sentry and gofer that serve the sandbox.
   */
  readonly memory?: number | string;
  /** CPU bandwidth in cores (default 1). */
  readonly cpus?: number;
  /** Most processes and threads at once (default 100). */
  readonly pids?: number;
  /** Size of the in-memory /tmp (default 100m); /dev/shm gets the same. */
  readonly tmpSize?: number | string;
  /** Wall-clock limit of a command unless `exec` gives one (default 10 minutes). */
  readonly timeoutMs?: number;
  /** Paths masked inside (as bubblewrap's `maskPaths`), taken when the container starts. */
  readonly maskPaths?: readonly string[];
  /**
   * `none` (default): the container has no network interface but loopback. `{ proxySocket }`: the
   * same, with the egress proxy's Unix socket (`EgressProxy`) bound in as its only way out; a
   * forwarder on 127.0.0.1:3128 relays to it and the proxy variables point there. Docker (runc) only:
   * gVisor's runtime is registered without host Unix sockets.
   */
  readonly network?: "none" | { readonly proxySocket: string };
  /** The user inside (default `nobody` when Rein is root, else Rein's own uid/gid); never 0. */
  readonly user?: { readonly uid: number; readonly gid: number };
}

/**
 * A sandbox in a Docker container, through the engine's API (dockerode, loaded on first use): the
 * seed's settings — 512 MB memory without swap, 1 CPU, 100 processes, no network, a read-only root,
 * a 100 MB in-memory /tmp, no-new-privileges, every capability dropped, user `nobody` — with the
 * workspace bound at its host path. One container serves one sandbox: it starts when the sandbox is
 * created and is removed by `dispose()`. Commands run one at a time (each is a `docker exec`); when one
 * ends, every other process in the container is killed. With `runtime: "runsc"` the container runs
 * under gVisor, a user-space kernel. Nothing is ever pulled: the image must be local.
 *
 * @example
 * const sandbox = new DockerSandbox({ workspace: "./project", runtime: "runsc" });
 * const r = await sandbox.exec("python3 -c 'print(6*7)'", { timeoutMs: 10_000 });
 * await sandbox.dispose();
 */
export class DockerSandbox implements Sandbox {
  readonly name: string;
  readonly capabilities: SandboxCapabilities;
  readonly workspace: string;
  readonly user: { readonly uid: number; readonly gid: number };
  readonly #owned: boolean;
  /** Whether the egress proxy's socket is bound in (network `{ proxySocket }`). */
  readonly #proxy: boolean;
  readonly #chown: boolean;
  readonly #timeoutMs: number;
  readonly #stage: string;
  readonly #started: Promise<{ docker: Docker; container: Docker.Container }>;
  /** Settles when the container stops (its init was killed, the runtime died, or dispose removed it). */
  #exited: Promise<void> = new Promise(() => {});
  /** Commands run one at a time: each waits for the one before (kill -1 after a command spares nothing). */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #running = new Set<() => void>();
  #disposed = false;
  /** Set once the container is known to have stopped: every later call fails at once. */
  #dead = false;
  #disposing: Promise<void> | undefined;

  /**
   * Starts the container in the background; `ready()` waits for it. A missing engine, image or runtime
   * surfaces there (and from every later call) as a `SandboxUnavailableError` with the fix.
   */
  constructor(options: DockerSandboxOptions = {}) {
    const d = DEFAULT_DOCKER_LIMITS;
    const memoryBytes = parseSize(options.memory ?? d.memory, "memory");
    const tmpBytes = parseSize(options.tmpSize ?? d.tmpSize, "tmpSize");
    const pids = positiveInt(options.pids ?? d.pids, "pids");
    const cpus = positiveNumber(options.cpus ?? d.cpus, "cpus");
    this.#timeoutMs = options.timeoutMs ?? d.timeoutMs;
    checkTimeout(this.#timeoutMs);
    const runtime = options.runtime;
    // runsc is gVisor whatever name the engine registered it under (runsc, runsc-kvm, …).
    const gvisor = runtime !== undefined && /runsc|gvisor/i.test(runtime);
    const proxySocket = proxySocketOf(options.network, gvisor);
    this.#proxy = proxySocket !== undefined;
    this.name = gvisor ? "gvisor" : "docker";
    const { root, owned } = openWorkspace(options.workspace);
    this.workspace = root;
    this.#owned = owned;
    const asRoot = process.getuid?.() === 0;
    if (options.user && (options.user.uid === 0 || options.user.gid === 0))
      throw new SandboxError("The sandbox user must not be root (uid 0 / gid 0); pick an unprivileged id.", {
        user: options.user,
      });
    const self = { uid: process.getuid?.() ?? NOBODY.uid, gid: process.getgid?.() ?? NOBODY.gid };
    this.user = options.user ?? (asRoot ? NOBODY : self);
    // As root over a root-owned workspace, its entries go to the sandbox user (as bubblewrap does).
    this.#chown = asRoot;
    if (asRoot) refuseWorkspace(root);
    this.capabilities = Object.freeze({
      isolation: gvisor ? "user-space-kernel" : "container",
      network: Object.freeze(proxySocket ? (["proxy"] as const) : (["none"] as const)),
      // Under gVisor the pids cgroup counts the sentry's host threads, not the sandbox's processes:
      // no per-process limit holds there (GVISOR_HOST_THREADS is only a ceiling that ends the sandbox).
      // The CPU quota applies to the sentry's host cgroup too, but the CPU time gVisor reports to the
      // command overran it in the contract's check (0.66 s of a 0.2-CPU second), so it is not claimed.
      limits: Object.freeze(
        gvisor
          ? (["time", "output", "memory", "disk"] as const)
          : (["time", "output", "memory", "cpu", "pids", "disk"] as const),
      ),
      // The image's interpreters; rein-sandbox:1 has python3, not node.
      languages: Object.freeze(["python", "shell"] as const),
    });
    this.#stage = mkdtempSync(path.join(tmpdir(), "rein-docker-"));
    chmodSync(this.#stage, 0o755);
    const emptyFile = path.join(this.#stage, "empty");
    writeFileSync(emptyFile, "", { mode: 0o444 });

    const image = options.image ?? DEFAULT_SANDBOX_IMAGE;
    const isMasked = maskMatcher(root, options.maskPaths ?? DEFAULT_MASK_PATHS);
    const user = this.user;
    const arch = hostSeccompArch();
    if (!arch)
      throw new SandboxError(
        `The seccomp profile has no syscall table for ${process.arch}; use x86_64 or aarch64.`,
      );
    const seccomp = dockerSeccompProfile(arch, { allowUnixSockets: this.#proxy });
    this.#started = (async () => {
      const docker = await connectEngine(options);
      // Containers of Rein processes that crashed go before this process starts its first one.
      await sweepOrphansOnce(docker, options.socketPath ?? process.env.DOCKER_HOST ?? "default");
      await checkImage(docker, image);
      if (runtime) await checkRuntime(docker, runtime);
      const scan = await scanWorkspace(root, isMasked, asRoot ? user : undefined);
      const spec = containerSpec({
        image,
        runtime,
        workspace: root,
        ...user,
        memoryBytes: gvisor ? memoryBytes + GVISOR_MEMORY_OVERHEAD : memoryBytes,
        cpus,
        pids: gvisor ? GVISOR_HOST_THREADS : pids,
        tmpBytes,
        masks: scan.masked,
        emptyFile,
        seccomp,
        owner: ownerMark(),
        ...(proxySocket
          ? {
              proxySocket,
              env: { ...sandboxProxyEnv(), REIN_EGRESS_PROXY: `unix:${PROXY_SOCKET_PATH}` },
            }
          : {}),
      });
      let container: Docker.Container;
      try {
        container = await docker.createContainer(spec);
      } catch (err) {
        throw engineError(err, `creating a container from ${image}`);
      }
      try {
        await container.start();
      } catch (err) {
        await container.remove({ force: true }).catch(() => {});
        if (runtime)
          throw new SandboxUnavailableError(
            "REIN_SANDBOX_RUNTIME_UNAVAILABLE",
            `The ${runtime} runtime could not start a container on this host: ${errorMessage(err)}`,
            { runtime },
            { cause: err },
          );
        throw engineError(err, `starting a container from ${image}`);
      }
      // The engine answers this long poll when the container stops: a command running then ends at once.
      this.#exited = container.wait().then(
        () => {
          this.#dead = true;
        },
        () => {
          this.#dead = true;
        },
      );
      return { docker, container };
    })();
    this.#started.catch(() => {}); // surfaces from ready() and every call
  }

  /** Resolves once the container runs (with its id); rejects with the typed reason it cannot. */
  async ready(): Promise<string> {
    return (await this.#started).container.id;
  }

  async exec(command: string | readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const argv = toArgv(command);
    return this.#run([argv[0], ...argv[1]], options);
  }

  async runCode(
    language: CodeLanguage,
    code: string,
    options: Omit<ExecOptions, "stdin"> = {},
  ): Promise<ExecResult> {
    if (!this.capabilities.languages.includes(language))
      throw new SandboxError(
        `The ${this.name} sandbox cannot run ${language}: its image has no interpreter for it.`,
        {
          language,
          available: this.capabilities.languages,
        },
      );
    return this.exec(codeArgv(language), { ...options, stdin: code });
  }

  /** Writes through the container, as its user and with its view (a symlink cannot lead out). */
  async putFile(p: string, data: string | Uint8Array): Promise<void> {
    const rel = workspaceRelative(this.workspace, p);
    const script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"';
    const r = await this.#run(["/bin/sh", "-c", script, "put", rel], { stdin: data, timeoutMs: 60_000 });
    if (r.exitCode !== 0)
      throw new SandboxError(`Could not write ${JSON.stringify(p)} in the sandbox: ${r.stderr.trim()}`, {
        path: p,
      });
  }

  /** Reads through the container; FIFOs, sockets and devices are refused rather than waited on. */
  async getFile(p: string): Promise<Uint8Array> {
    const rel = workspaceRelative(this.workspace, p);
    const script =
      'if [ -p "$1" ] || [ -S "$1" ] || [ -c "$1" ] || [ -b "$1" ]; then echo "not a regular file" >&2; exit 3; fi; exec cat -- "$1"';
    const r = await this.#runRaw(["/bin/sh", "-c", script, "get", rel], {
      timeoutMs: 60_000,
      maxOutputBytes: MAX_GET_BYTES,
    });
    if (r.exitCode !== 0)
      throw new SandboxError(
        `Could not read ${JSON.stringify(p)} in the sandbox: ${r.stderr.toString().trim()}`,
        { path: p },
      );
    if (r.truncated)
      throw new SandboxError(`${JSON.stringify(p)} is larger than ${MAX_GET_BYTES} bytes.`, { path: p });
    return r.stdout;
  }

  async reset(): Promise<void> {
    this.#checkOpen();
    for (const kill of this.#running) kill();
    await this.#queue.catch(() => {});
    if (this.#owned) await emptyDirectory(this.workspace);
  }

  /** Kills what runs and removes the container (and a workspace the sandbox created). */
  dispose(): Promise<void> {
    this.#disposing ??= this.#dispose();
    return this.#disposing;
  }

  async #dispose(): Promise<void> {
    this.#disposed = true;
    for (const kill of this.#running) kill();
    const started = await this.#started.catch(() => undefined);
    // Removing the container kills everything in it; a command still waiting on its stream ends then.
    await started?.container.remove({ force: true, v: true }).catch(() => {});
    rmSync(this.#stage, { recursive: true, force: true });
    if (this.#owned) rmSync(this.workspace, { recursive: true, force: true });
  }

  #checkOpen(): void {
    if (this.#disposed)
      throw new SandboxError(`This ${this.name} sandbox was disposed; create a new one to run commands.`);
  }

  async #run(argv: string[], options: ExecOptions): Promise<ExecResult> {
    const r = await this.#runRaw(argv, options);
    return { ...r, stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8") };
  }

  /** Queues the command behind the one running, then runs it. */
  async #runRaw(
    argv: string[],
    options: ExecOptions,
  ): Promise<Omit<ExecResult, "stdout" | "stderr"> & { stdout: Buffer; stderr: Buffer }> {
    this.#checkOpen();
    if (this.#dead) throw this.#stopped(new Error("it stopped before this command"));
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    checkTimeout(timeoutMs);
    const cwd = await resolveCwd(this.workspace, options.cwd);
    const turn = this.#queue.then(() => this.#execOnce(argv, { ...options, timeoutMs }, cwd));
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #execOnce(
    argv: string[],
    options: ExecOptions & { timeoutMs: number },
    cwd: string,
  ): Promise<Omit<ExecResult, "stdout" | "stderr"> & { stdout: Buffer; stderr: Buffer }> {
    const { signal, maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES } = options;
    const killed = () => ({
      stdout: Buffer.alloc(0),
      stderr: Buffer.alloc(0),
      exitCode: null,
      signal: "SIGKILL",
      timedOut: false,
      oomKilled: false,
      truncated: false,
      durationMs: 0,
    });
    if (signal?.aborted || this.#disposed) return killed();
    const { docker, container } = await this.#started;
    if (this.#dead) throw this.#stopped(new Error("it stopped before this command"));
    const started = performance.now();
    // Whether the container has stopped, asked only when a command could not start or ended abnormally.
    const hasStopped = async (): Promise<boolean> => {
      if (this.#dead) return true;
      const settle = Math.min(STOP_SETTLE_MS, Math.max(0, options.timeoutMs - (performance.now() - started)));
      if (await containerStopped(container, this.user, this.#exited, settle)) this.#dead = true;
      return this.#dead;
    };
    if (this.#chown) await scanWorkspace(this.workspace, () => false, this.user);
    const oomBefore = readOomKills(container.id);
    const env = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const hasStdin = options.stdin !== undefined;
    let exec: Docker.Exec;
    let stream: Duplex;
    try {
      exec = await container.exec({
        Cmd: [...commandWrapper(this.#proxy), ...argv],
        Env: env,
        WorkingDir: cwd,
        User: `${this.user.uid}:${this.user.gid}`,
        AttachStdin: hasStdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      });
      stream = (await exec.start({ hijack: true, stdin: hasStdin })) as Duplex;
    } catch (err) {
      if (this.#disposed) return killed();
      if (await hasStopped()) throw this.#stopped(err);
      throw engineError(err, `starting a command in container ${container.id.slice(0, 12)}`);
    }
    const stdout = new CappedOutput(maxOutputBytes);
    const stderr = new CappedOutput(maxOutputBytes);
    let timedOut = false;
    let killedByUs = false;
    let grace: NodeJS.Timeout | undefined;
    const kill = () => {
      if (killedByUs) return;
      killedByUs = true;
      void this.#killAll(docker, container).catch(() => {});
      // A stream that does not end after the kill (a dead engine) stops being waited on.
      grace = setTimeout(() => stream.destroy(), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    signal?.addEventListener("abort", kill, { once: true });
    this.#running.add(kill);
    if (signal?.aborted || this.#disposed) kill();
    let stopped = false;
    try {
      await new Promise<void>((resolve) => {
        void this.#exited.then(() => {
          stopped = true;
          resolve();
        });
        const frames = new FrameReader((kind, chunk) => (kind === 2 ? stderr : stdout).push(chunk));
        stream.on("data", (chunk: Buffer) => frames.push(chunk));
        stream.on("end", resolve);
        stream.on("close", resolve);
        stream.on("error", () => resolve());
        if (hasStdin) {
          stream.on("error", () => {});
          stream.end(options.stdin);
        }
      });
    } finally {
      clearTimeout(timer);
      clearTimeout(grace);
      signal?.removeEventListener("abort", kill);
      this.#running.delete(kill);
      stream.destroy();
    }
    if (stopped && !this.#disposed && !killedByUs)
      throw this.#stopped(new Error(`container ${container.id.slice(0, 12)} exited while the command ran`));
    let exitCode: number | null = null;
    if (!killedByUs) {
      const info = await exec.inspect().catch(() => undefined);
      exitCode = typeof info?.ExitCode === "number" ? info.ExitCode : null;
    }
    // A command that ended abnormally may have been ended by its container's stop, and an exec the
    // runtime could not start reports 126/127 with the runtime's message as output: the probe decides.
    if (!killedByUs && !this.#disposed && abnormal(exitCode) && (await hasStopped()))
      throw this.#stopped(
        new Error(
          `the command ended with ${exitCode === null ? "no exit code" : `exit code ${exitCode}`} and the container's init is gone (${stdout.bytes().toString("utf8", 0, 200).trim() || stderr.bytes().toString("utf8", 0, 200).trim()})`,
        ),
      );
    const oomKilled = readOomKills(container.id) > oomBefore;
    return {
      stdout: stdout.bytes(),
      stderr: stderr.bytes(),
      exitCode: killedByUs ? null : exitCode,
      signal: killedByUs ? "SIGKILL" : null,
      timedOut,
      oomKilled,
      truncated: stdout.truncated || stderr.truncated,
      durationMs: Math.round(performance.now() - started),
    };
  }

  #stopped(cause: unknown): SandboxError {
    return new SandboxError(
      `The ${this.name} sandbox's container has stopped (its init was killed, or the runtime failed): ${errorMessage(cause)}. Create a new sandbox.`,
      { sandbox: this.name },
      { cause },
    );
  }

  async #killAll(docker: Docker, container: Docker.Container): Promise<void> {
    void docker;
    await runQuiet(container, KILL_ALL, this.user);
  }
}

/**
 * Splits Docker's multiplexed exec stream: frames of an 8-byte header (stream type, 3 zero bytes, a
 * big-endian length) and the payload. A frame may arrive across chunks.
 */
class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (kind: number, chunk: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      this.onFrame(buf[0] ?? 1, buf.subarray(8, 8 + size));
      buf = buf.subarray(8 + size);
    }
    this.#pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }
}

/**
 * An exit that the command alone may not explain: none at all, the runtime's 126/127 (could not start
 * the process), a signal's 128+n, or the wrapper's own `INIT_GONE_EXIT`.
 */
function abnormal(exitCode: number | null): boolean {
  return (
    exitCode === null ||
    exitCode === 126 ||
    exitCode === 127 ||
    exitCode >= 128 ||
    exitCode === INIT_GONE_EXIT
  );
}

/** As root, the workspace's entries go to the sandbox user: the shared refusal, and only a folder. */
function refuseWorkspace(workspace: string): void {
  refuseSystemFolder(workspace);
  if (!statSync(workspace).isDirectory())
    throw new SandboxError(
      `Refusing ${workspace} as a sandbox workspace while running as root: its files would be handed to the unprivileged sandbox user. Use a project folder.`,
      { workspace },
    );
}

/** The egress proxy's socket of a `{ proxySocket }` network, checked; undefined for `none`. */
function proxySocketOf(network: DockerSandboxOptions["network"], gvisor: boolean): string | undefined {
  if (network === undefined || network === "none") return undefined;
  if (typeof network !== "object" || typeof network.proxySocket !== "string")
    throw new SandboxError('network must be "none" or { proxySocket: "<path>" }.', { network });
  if (gvisor)
    throw new SandboxError(
      "The gvisor sandbox has no egress proxy: runsc is registered without host Unix sockets, so the proxy's socket cannot be reached from inside. Use docker or bubblewrap for network access.",
      { network },
    );
  const socket = path.resolve(network.proxySocket);
  let isSocket = false;
  try {
    isSocket = lstatSync(socket).isSocket();
  } catch {}
  if (!isSocket)
    throw new SandboxError(`The egress proxy socket ${socket} does not exist (or is not a socket).`, {
      proxySocket: socket,
    });
  return socket;
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
