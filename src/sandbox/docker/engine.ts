import type Docker from "dockerode";
import { errorMessage, SandboxUnavailableError } from "../../protocol/errors.js";

/** The image `scripts/build-sandbox-image.sh` builds: a minimal Debian with python3, no registry pull. */
export const DEFAULT_SANDBOX_IMAGE = "rein-sandbox:1";
/** How long to wait for the engine to answer a ping before calling it down. */
const PING_TIMEOUT_MS = 5_000;

export interface EngineOptions {
  /** The engine's Unix socket (default: `DOCKER_HOST`, else /var/run/docker.sock, as the docker CLI). */
  readonly socketPath?: string;
}

/**
 * A dockerode client. dockerode (and its ssh2/protobuf dependencies) loads only here, when a Docker
 * sandbox is first used, so `import "rein"` stays light.
 */
export async function connectEngine(o: EngineOptions): Promise<Docker> {
  let DockerCtor: typeof Docker;
  try {
    DockerCtor = (await import("dockerode")).default;
  } catch (err) {
    throw new SandboxUnavailableError(
      "REIN_SANDBOX_ENGINE_UNAVAILABLE",
      "The docker sandbox needs the dockerode package, which is not installed: npm install dockerode.",
      {},
      { cause: err },
    );
  }
  const docker = new DockerCtor(o.socketPath ? { socketPath: o.socketPath } : undefined);
  const where = o.socketPath ?? process.env.DOCKER_HOST ?? "/var/run/docker.sock";
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)),
          PING_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    throw new SandboxUnavailableError(
      "REIN_SANDBOX_ENGINE_UNAVAILABLE",
      `No Docker engine answers at ${where} (${errorMessage(err)}). Start one: sudo bash scripts/setup-docker.sh (installs docker.io and starts dockerd), or set DOCKER_HOST.`,
      { socketPath: where },
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
  return docker;
}

/** The image must already be on the machine: Rein never pulls. */
export async function checkImage(docker: Docker, image: string): Promise<void> {
  try {
    await docker.getImage(image).inspect();
  } catch (err) {
    if (statusOf(err) !== 404) throw engineError(err, `inspecting the image ${image}`);
    throw new SandboxUnavailableError(
      "REIN_SANDBOX_IMAGE_MISSING",
      `The sandbox image ${image} is not on this machine, and Rein never pulls one. Build it: sudo bash scripts/build-sandbox-image.sh${image === DEFAULT_SANDBOX_IMAGE ? "" : ` ${image}`}.`,
      { image },
      { cause: err },
    );
  }
}

/** The runtime (e.g. runsc) must be registered with the engine. */
export async function checkRuntime(docker: Docker, runtime: string): Promise<void> {
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
  const known = Object.keys(info.Runtimes ?? {});
  if (!known.includes(runtime))
    throw new SandboxUnavailableError(
      "REIN_SANDBOX_RUNTIME_UNAVAILABLE",
      `The Docker engine has no runtime "${runtime}" (it has: ${known.join(", ") || "none"}). For gVisor: sudo bash scripts/setup-docker.sh installs runsc and registers it.`,
      { runtime, known },
    );
}

export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === "number" ? s : undefined;
}

/** An engine error that is not one of the typed cases, with what Rein was doing. */
export function engineError(err: unknown, doing: string): SandboxUnavailableError {
  return new SandboxUnavailableError(
    "REIN_SANDBOX_ENGINE_UNAVAILABLE",
    `The Docker engine failed while ${doing}: ${errorMessage(err)}`,
    {},
    { cause: err },
  );
}
