import { describe, expect, it } from "vitest";
import { DockerSandbox } from "../../../src/sandbox/docker/docker-sandbox.js";
import { sandboxContract } from "../../../src/testing.js";

// The one sandbox contract, against Docker (runc) and Docker under gVisor (runsc). CI starts the engine
// and builds the image (scripts/setup-docker.sh, scripts/build-sandbox-image.sh): these never skip.
sandboxContract({
  name: "docker",
  create: async ({ workspace, limits }) => {
    const s = new DockerSandbox({ workspace, ...limits });
    await s.ready();
    return s;
  },
});

sandboxContract({
  name: "gvisor (runsc)",
  create: async ({ workspace, limits }) => {
    const s = new DockerSandbox({ workspace, ...limits, runtime: "runsc" });
    await s.ready();
    return s;
  },
});

describe("docker and gvisor capabilities", () => {
  it("docker claims container isolation and every limit; gvisor a user-space kernel, no pids or cpu limit", () => {
    const docker = new DockerSandbox({ socketPath: "/nonexistent.sock" });
    const gvisor = new DockerSandbox({ socketPath: "/nonexistent.sock", runtime: "runsc" });
    expect(docker.capabilities).toMatchObject({ isolation: "container", network: ["none"] });
    expect([...docker.capabilities.limits].sort()).toEqual([
      "cpu",
      "disk",
      "memory",
      "output",
      "pids",
      "time",
    ]);
    expect(gvisor.name).toBe("gvisor");
    expect(gvisor.capabilities.isolation).toBe("user-space-kernel");
    expect([...gvisor.capabilities.limits].sort()).toEqual(["disk", "memory", "output", "time"]);
    return Promise.all([docker.dispose(), gvisor.dispose()]);
  });

  it("gvisor really runs under gVisor's kernel, docker under the host's", async () => {
    const docker = new DockerSandbox();
    const gvisor = new DockerSandbox({ runtime: "runsc" });
    try {
      expect((await gvisor.exec("dmesg | head -n 1")).stdout).toMatch(/Starting gVisor/);
      const hostKernel = (await import("node:os")).release();
      expect((await docker.exec("uname -r")).stdout.trim()).toBe(hostKernel);
      expect((await gvisor.exec("uname -r")).stdout.trim()).not.toBe(hostKernel);
    } finally {
      await Promise.all([docker.dispose(), gvisor.dispose()]);
    }
  }, 60_000);
});
