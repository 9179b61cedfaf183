import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createDockerPool } from "../../../src/sandbox/docker/docker-pool.js";
import type { DockerSandbox } from "../../../src/sandbox/docker/docker-sandbox.js";
import { warmPoolContract } from "../warm-pool-contract.js";

/** Containers of this test process (running or not), by full id: every Rein container is labelled. */
function ourContainers(): string[] {
  const label = `label=dev.rein.sandbox=${process.pid}`;
  return execFileSync("docker", ["ps", "-aq", "--no-trunc", "--filter", label], { encoding: "utf8" })
    .trim()
    .split("\n")
    .filter(Boolean);
}

for (const runtime of [undefined, "runsc"] as const) {
  warmPoolContract<DockerSandbox>({
    name: runtime ? "gvisor containers" : "docker containers",
    pool: (size) => createDockerPool({ size, ...(runtime ? { runtime } : {}) }),
    usable: async (s) => (await s.exec("echo ok")).stdout === "ok\n",
    release: (s) => s.dispose(),
    nothingLeft: async () => expect(ourContainers()).toEqual([]),
    broken: () => ({
      pool: createDockerPool({ size: 1, image: "rein-test-no-such-image:0" }),
      code: "REIN_SANDBOX_IMAGE_MISSING",
    }),
    timeoutMs: 120_000,
  });
}

describe("Docker warm pool", () => {
  it("a pooled sandbox is fresh: its own container and workspace, nothing another caller left", async () => {
    const pool = createDockerPool({ size: 2 });
    const taken: DockerSandbox[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = await pool.acquire();
        taken.push(s);
        // A file one session leaves is never seen by the next: each has its own workspace and container.
        expect((await s.exec("ls -A; echo secret-$RANDOM > mine.txt")).stdout).toBe("");
      }
      expect(new Set(taken.map((s) => s.workspace)).size).toBe(3);
      expect(new Set(await Promise.all(taken.map((s) => s.ready()))).size).toBe(3);
    } finally {
      await pool.drain();
      await Promise.all(taken.map((s) => s.dispose()));
    }
    expect(ourContainers()).toEqual([]);
  }, 120_000);
});
