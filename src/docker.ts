/**
 * `rein/docker`: the Docker and gVisor sandbox backends and their warm pool. A subpath of its own:
 * its types reach dockerode and Node's `Buffer`, which `rein`'s own types never do.
 * (`createSandbox({ backend: "docker" | "gvisor" })` from `rein` builds them too.)
 */

export { DEFAULT_DOCKER_LIMITS } from "./sandbox/docker/container-spec.js";
export { createDockerPool, type DockerPoolOptions } from "./sandbox/docker/docker-pool.js";
export {
  DockerSandbox,
  type DockerSandboxOptions,
  GVISOR_HOST_THREADS,
  GVISOR_MEMORY_OVERHEAD,
} from "./sandbox/docker/docker-sandbox.js";
export { DEFAULT_SANDBOX_IMAGE } from "./sandbox/docker/engine.js";
export { OWNER_LABEL, type SweepResult, sweepDockerOrphans } from "./sandbox/docker/orphans.js";
export { WarmPool, type WarmPoolOptions } from "./sandbox/warm-pool.js";
