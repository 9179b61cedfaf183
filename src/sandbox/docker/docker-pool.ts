import { WarmPool } from "../warm-pool.js";
import { DockerSandbox, type DockerSandboxOptions } from "./docker-sandbox.js";

export interface DockerPoolOptions extends DockerSandboxOptions {
  /** How many started containers the pool keeps ready (0: each acquire starts one). */
  readonly size: number;
}

/**
 * A warm pool (`WarmPool`) of Docker (or, with `runtime: "runsc"`, gVisor) sandboxes: `size`
 * containers started ahead of time, each handed to one caller only and refilled in the background.
 * It starts filling at once. Without a `workspace` each pooled sandbox has a fresh temporary workspace
 * of its own (put files in with `putFile`); with one, every pooled container binds that folder.
 * `drain()` removes the containers not handed out, including those still starting.
 *
 * @example
 * const pool = createDockerPool({ size: 2 });
 * const sandbox = await pool.acquire();
 * try { console.log((await sandbox.exec("echo hi")).stdout); } finally { await sandbox.dispose(); }
 * await pool.drain();
 */
export function createDockerPool(options: DockerPoolOptions): WarmPool<DockerSandbox> {
  const { size, ...sandboxOptions } = options;
  const pool = new WarmPool<DockerSandbox>({
    size,
    create: async (signal) => {
      const sandbox = new DockerSandbox(sandboxOptions);
      // A drain does not wait for a slow start: the container goes as soon as it is asked to.
      const onDrain = () => void sandbox.dispose();
      signal.addEventListener("abort", onDrain, { once: true });
      try {
        await sandbox.ready();
      } catch (err) {
        await sandbox.dispose();
        throw err;
      } finally {
        signal.removeEventListener("abort", onDrain);
      }
      if (signal.aborted) {
        await sandbox.dispose();
        throw new Error("the pool was drained while this container started");
      }
      return sandbox;
    },
    destroy: (sandbox) => sandbox.dispose(),
  });
  // Filling starts now; a failure here is thrown by the acquire that would have taken the container.
  pool.fill().catch(() => {});
  return pool;
}
