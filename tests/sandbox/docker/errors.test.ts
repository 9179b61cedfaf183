import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSandbox } from "../../../src/sandbox/create-sandbox.js";
import { DockerSandbox } from "../../../src/sandbox/docker/docker-sandbox.js";

const run = promisify(execFile);
const bin = path.resolve(import.meta.dirname, "../../../bin/rein.js");

/** Every way the Docker backend's infrastructure can be missing ends in a typed error that names the fix. */
describe("docker sandbox: missing engine, image or runtime", () => {
  let dir: string;
  let silent: net.Server;
  let silentPath: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rein-docker-err-"));
    // A socket that accepts and hangs up at once: an engine that is there but broken.
    silentPath = path.join(dir, "hangup.sock");
    silent = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => silent.listen(silentPath, r));
  });
  afterAll(() => {
    silent.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("no engine at the socket: REIN_SANDBOX_ENGINE_UNAVAILABLE naming the socket and setup-docker.sh", async () => {
    const s = new DockerSandbox({ socketPath: path.join(dir, "missing.sock") });
    const err = await s.ready().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "REIN_SANDBOX_ENGINE_UNAVAILABLE", name: "SandboxUnavailableError" });
    expect((err as Error).message).toContain(path.join(dir, "missing.sock"));
    expect((err as Error).message).toContain("scripts/setup-docker.sh");
    // Every call reports the same typed reason; nothing ran.
    await expect(s.exec("true")).rejects.toMatchObject({ code: "REIN_SANDBOX_ENGINE_UNAVAILABLE" });
    await s.dispose();
  });

  it("an engine socket that hangs up: REIN_SANDBOX_ENGINE_UNAVAILABLE", async () => {
    const s = new DockerSandbox({ socketPath: silentPath });
    await expect(s.ready()).rejects.toMatchObject({ code: "REIN_SANDBOX_ENGINE_UNAVAILABLE" });
    await s.dispose();
  });

  it("an image that is not on the machine: REIN_SANDBOX_IMAGE_MISSING, and nothing is pulled", async () => {
    const image = "rein-test-no-such-image:0";
    const s = new DockerSandbox({ image });
    const err = await s.ready().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "REIN_SANDBOX_IMAGE_MISSING", details: { image } });
    expect((err as Error).message).toContain("scripts/build-sandbox-image.sh");
    expect((err as Error).message).toContain("never pulls");
    await expect(run("docker", ["image", "inspect", image])).rejects.toThrow(/No such image/);
    await s.dispose();
  });

  it("a runtime the engine does not have: REIN_SANDBOX_RUNTIME_UNAVAILABLE listing the ones it has", async () => {
    const s = new DockerSandbox({ runtime: "rein-no-such-runtime" });
    const err = await s.ready().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "REIN_SANDBOX_RUNTIME_UNAVAILABLE" });
    expect((err as Error).message).toMatch(/has no runtime "rein-no-such-runtime" \(it has: .*runsc/);
    await s.dispose();
  });

  it("createSandbox({ backend: 'docker' }) reports the missing engine from its first call", async () => {
    const s = createSandbox({ backend: "docker", docker: { socketPath: path.join(dir, "missing.sock") } });
    expect(s.name).toBe("docker");
    await expect(s.exec("true")).rejects.toMatchObject({ code: "REIN_SANDBOX_ENGINE_UNAVAILABLE" });
    await s.dispose();
  });

  it("bad options are refused up front: a root user, a proxy network", () => {
    expect(() => new DockerSandbox({ user: { uid: 0, gid: 0 } })).toThrow(/must not be root/);
    expect(() => createSandbox({ backend: "gvisor", network: { proxySocket: "/x.sock" } })).toThrow(
      /no egress proxy/,
    );
  });

  it("rein sandbox exec --backend docker with the engine down exits 2 with the code and the fix", async () => {
    const err = await run(process.execPath, [bin, "sandbox", "exec", "--backend", "docker", "--", "true"], {
      // A throwaway cwd: the workspace defaults to it, and as root a reachable engine would hand it to nobody.
      cwd: dir,
      env: { ...process.env, DOCKER_HOST: `unix://${path.join(dir, "missing.sock")}` },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toContain("No Docker engine answers");
    expect((err as { stderr: string }).stderr).toContain("rein: error code REIN_SANDBOX_ENGINE_UNAVAILABLE");
  });
});
