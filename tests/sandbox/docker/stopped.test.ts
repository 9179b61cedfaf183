import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INIT_GONE_EXIT, INIT_GONE_MARKER } from "../../../src/sandbox/docker/container-spec.js";
import { DockerSandbox } from "../../../src/sandbox/docker/docker-sandbox.js";

/**
 * "The container has stopped" is decided by what cannot race (the init probe, the engine's state),
 * never by the command's own word: a command cannot fake its sandbox's death, and a sandbox whose
 * container is gone refuses every later call the same way.
 */
describe("docker sandbox: a stopped container", () => {
  let sandbox: DockerSandbox;
  beforeAll(async () => {
    sandbox = new DockerSandbox();
    await sandbox.ready();
  }, 60_000);
  afterAll(() => sandbox.dispose());

  it("a command that prints the init marker and exits with the reserved code gets its result: the probe finds init alive", async () => {
    const r = await sandbox.exec(`echo '${INIT_GONE_MARKER}' >&2; exit ${INIT_GONE_EXIT}`);
    expect(r.exitCode).toBe(INIT_GONE_EXIT);
    expect(r.stderr).toBe(`${INIT_GONE_MARKER}\n`);
    expect((await sandbox.exec("echo still here")).stdout).toBe("still here\n");
  }, 60_000);

  it("a command that kills itself (exit 137) or is not found (127) is a result, not a stop", async () => {
    const killed = await sandbox.exec("kill -9 $$");
    expect(killed.exitCode).toBe(137);
    const missing = await sandbox.exec("no-such-command-4711");
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toMatch(/not found/);
    expect((await sandbox.exec("echo still here")).stdout).toBe("still here\n");
  }, 60_000);

  it("a container stopped from outside: the next call and every later one fail with REIN_SANDBOX_FAILED", async () => {
    const own = new DockerSandbox();
    try {
      const id = await own.ready();
      expect((await own.exec("echo up")).stdout).toBe("up\n");
      execFileSync("docker", ["kill", id], { stdio: "ignore" });
      // The engine has reported it stopped: nothing about the order of events is left to chance.
      execFileSync("docker", ["wait", id], { stdio: "ignore" });
      for (const call of [
        () => own.exec("echo again"),
        () => own.getFile("x"),
        () => own.putFile("x", "y"),
      ]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect((err as { code?: string }).code).toBe("REIN_SANDBOX_FAILED");
        expect((err as Error).message).toMatch(/container has stopped/);
      }
    } finally {
      await own.dispose();
    }
  }, 60_000);
});
