import { SandboxPool } from "../pool.js";
import { DockerSandbox, type DockerSandboxOptions } from "./docker-sandbox.js";

export interface DockerPoolOptions extends DockerSandboxOptions {
  /** How many started containers the pool keeps ready (at least 1). */
  readonly size: number;
}

/**
 * A warm pool of Docker (or, with `runtime: "runsc"`, gVisor) sandboxes: `size` containers started
 * ahead of time, each handed to one caller only and refilled in the background. Without a `workspace`
 * each pooled sandbox has a fresh temporary workspace of its own (put files in with `putFile`); with
 * one, every pooled container binds that folder. `close()` removes the containers not handed out.
 *
 * @example
 * const pool = createDockerPool({ size: 2 });
 * const sandbox = await pool.acquire();
 * try { console.log((await sandbox.exec("echo hi")).stdout); } finally { await sandbox.dispose(); }
 * await pool.close();
 */
export function createDockerPool(options: DockerPoolOptions): SandboxPool<DockerSandbox> {
  const { size, ...sandboxOptions } = options;
  return new SandboxPool({
    size,
    create: async () => {
      const sandbox = new DockerSandbox(sandboxOptions);
      try {
        await sandbox.ready();
      } catch (err) {
        await sandbox.dispose();
        throw err;
      }
      return sandbox;
    },
  });
}
