import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createDockerPool } from "../../../src/sandbox/docker/docker-pool.js";
import type { DockerSandbox } from "../../../src/sandbox/docker/docker-sandbox.js";

/** Containers that exist on the engine (running or not), by id. */
function containerExists(id: string): boolean {
  try {
    execFileSync("docker", ["container", "inspect", id], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("Docker warm pool", () => {
  it("each acquire gets its own started container, never one another caller had; dispose removes it", async () => {
    const pool = createDockerPool({ size: 2 });
    const ids = new Set<string>();
    const taken: DockerSandbox[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = await pool.acquire();
        const id = await s.ready();
        expect(ids.has(id)).toBe(false);
        ids.add(id);
        taken.push(s);
        // A file one session leaves is never seen by the next: each has its own workspace and container.
        expect((await s.exec("ls -A; echo secret-$RANDOM > mine.txt")).stdout).toBe("");
      }
      expect(new Set(taken.map((s) => s.workspace)).size).toBe(4);
      for (const s of taken) {
        const id = await s.ready();
        await s.dispose();
        expect(containerExists(id)).toBe(false);
      }
    } finally {
      await Promise.all(taken.map((s) => s.dispose()));
      await pool.close();
    }
  }, 120_000);

  it("close drains the pool: the containers it kept ready are removed", async () => {
    const pool = createDockerPool({ size: 2 });
    const first = await pool.acquire();
    const firstId = await first.ready();
    // The pool is refilling in the background; close removes what it holds, made or being made.
    await pool.close();
    const label = `label=dev.rein.sandbox=${process.pid}`;
    const left = execFileSync("docker", ["ps", "-aq", "--no-trunc", "--filter", label], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean);
    expect(left).toEqual([firstId]); // only the one a caller holds
    await first.dispose();
    expect(containerExists(firstId)).toBe(false);
  }, 120_000);

  it("a pool over a missing image throws the typed error from acquire", async () => {
    const pool = createDockerPool({ size: 1, image: "rein-test-no-such-image:0" });
    await expect(pool.acquire()).rejects.toMatchObject({ code: "REIN_SANDBOX_IMAGE_MISSING" });
    await pool.close();
  });
});
