import { getEventListeners } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ReinError, SandboxError } from "../../src/protocol/errors.js";
import { UnsafeLocalProcess } from "../../src/sandbox/unsafe-local-process.js";

/** Gone, or a zombie waiting to be reaped (it holds no resources and runs no code). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("UnsafeLocalProcess", () => {
  let base: string;
  let ws: string;
  let sandbox: UnsafeLocalProcess;
  const strays: number[] = [];

  beforeEach(() => {
    base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-sbx-")));
    ws = path.join(base, "ws");
    fs.mkdirSync(ws);
    sandbox = new UnsafeLocalProcess({ workspace: ws });
  });
  afterEach(async () => {
    await sandbox.dispose();
    for (const pid of strays.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    delete process.env.FAKE_SECRET;
    fs.rmSync(base, { recursive: true, force: true });
  });

  /** Resolves once the command has written `file` (a condition wait, not a sleep). */
  const waitForFile = (file: string) =>
    vi.waitFor(() => expect(fs.readFileSync(path.join(ws, file), "utf8")).toMatch(/\n$/), {
      timeout: 5000,
      interval: 5,
    });

  it("says it isolates nothing", () => {
    expect(sandbox.name).toBe("unsafe-local-process");
    const on = (name: string) =>
      ["/usr/local/bin", "/usr/bin", "/bin"].some((d) => fs.existsSync(path.join(d, name)));
    expect(sandbox.capabilities).toEqual({
      isolation: "none",
      network: ["host"],
      limits: ["time", "output"],
      languages: [...(on("python3") ? ["python"] : []), ...(on("node") ? ["javascript"] : []), "shell"],
    });
    expect(sandbox.workspace).toBe(ws);
  });

  it("refuses a workspace that does not exist or is a file, naming it", () => {
    const missing = path.join(base, "missing");
    expect(() => new UnsafeLocalProcess({ workspace: missing })).toThrow(
      expect.objectContaining({ code: "REIN_WORKSPACE_INVALID" }),
    );
    expect(() => new UnsafeLocalProcess({ workspace: missing })).toThrow(missing);
    fs.writeFileSync(path.join(base, "f"), "");
    expect(() => new UnsafeLocalProcess({ workspace: path.join(base, "f") })).toThrow(ReinError);
  });

  it("runs a string through /bin/sh and reports exit code, stdout and stderr", async () => {
    const r = await sandbox.exec("echo out; echo err >&2; exit 3");
    expect(r).toMatchObject({
      stdout: "out\n",
      stderr: "err\n",
      exitCode: 3,
      signal: null,
      timedOut: false,
      truncated: false,
    });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("runs an argv without a shell: metacharacters stay literal", async () => {
    const r = await sandbox.exec(["printf", "%s", "$HOME; `id` | x"]);
    expect(r).toMatchObject({ stdout: "$HOME; `id` | x", exitCode: 0 });
  });

  it("turns a missing binary into a SandboxError naming it", async () => {
    const err = await sandbox.exec(["no-such-binary-rein"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect(err).toMatchObject({
      code: "REIN_SANDBOX_FAILED",
      message: expect.stringContaining('"no-such-binary-rein"'),
    });
    await expect(sandbox.exec([])).rejects.toThrow(/argv to run is empty/);
  });

  it("never passes the host environment, only the defaults and options.env", async () => {
    process.env.FAKE_SECRET = "sk-live-should-not-leak";
    const r = await sandbox.exec("env", { env: { FOO: "bar" } });
    expect(r.stdout).not.toContain("FAKE_SECRET");
    expect(r.stdout).not.toContain("sk-live-should-not-leak");
    expect(r.stdout.trim().split("\n").sort()).toEqual(
      ["FOO=bar", `HOME=${ws}`, "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin", `PWD=${ws}`].sort(),
    );
  });

  it("writes stdin then closes it, and never inherits the parent's stdin", async () => {
    expect(await sandbox.exec("cat", { stdin: "hello\n" })).toMatchObject({ stdout: "hello\n", exitCode: 0 });
    expect(await sandbox.exec("cat")).toMatchObject({ stdout: "", exitCode: 0 });
    // A command that ignores a large stdin gets EPIPE on our side; that is not an error.
    expect(await sandbox.exec("true", { stdin: "x".repeat(1 << 20) })).toMatchObject({ exitCode: 0 });
  });

  it("caps stdout and stderr each, keeps draining so the command finishes, and sets truncated", async () => {
    const r = await sandbox.exec("head -c 2000000 /dev/zero | tr '\\0' a; echo done >&2", {
      maxOutputBytes: 1000,
      timeoutMs: 20_000,
    });
    expect(r).toMatchObject({ exitCode: 0, timedOut: false, truncated: true, stderr: "done\n" });
    expect(r.stdout).toBe("a".repeat(1000));
  });

  it("kills the whole process group on timeout, grandchildren included", async () => {
    const r = await sandbox.exec("sleep 100 & echo $!; wait", { timeoutMs: 1000 });
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" });
    const grandchild = Number(r.stdout.trim());
    expect(grandchild).toBeGreaterThan(0);
    strays.push(grandchild);
    await vi.waitFor(() => expect(isGone(grandchild)).toBe(true), { timeout: 2000, interval: 5 });
  });

  it("kills the process group on abort and resolves with signal SIGKILL (not timedOut)", async () => {
    const controller = new AbortController();
    const running = sandbox.exec("sleep 100 & echo $! > child; wait", {
      signal: controller.signal,
      timeoutMs: 60_000,
    });
    await waitForFile("child");
    const grandchild = Number(fs.readFileSync(path.join(ws, "child"), "utf8"));
    strays.push(grandchild);
    controller.abort();
    expect(await running).toMatchObject({ signal: "SIGKILL", exitCode: null, timedOut: false });
    await vi.waitFor(() => expect(isGone(grandchild)).toBe(true), { timeout: 2000, interval: 5 });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("spawns nothing when the signal is already aborted", async () => {
    const r = await sandbox.exec("touch ran", { signal: AbortSignal.abort() });
    expect(r).toMatchObject({ signal: "SIGKILL", exitCode: null, stdout: "" });
    expect(fs.existsSync(path.join(ws, "ran"))).toBe(false);
  });

  it("does not hang when a background grandchild keeps stdout open, and kills it", async () => {
    const r = await sandbox.exec("sleep 100 & echo $!", { timeoutMs: 60_000 });
    expect(r).toMatchObject({ exitCode: 0, timedOut: false });
    expect(r.durationMs).toBeLessThan(10_000);
    const grandchild = Number(r.stdout.trim());
    strays.push(grandchild);
    await vi.waitFor(() => expect(isGone(grandchild)).toBe(true), { timeout: 2000, interval: 5 });
  });

  it("stops waiting for pipes held by a descendant that left the process group", async () => {
    // setsid escapes the group kill; the loop makes sure it has escaped before the shell exits.
    const r = await sandbox.exec(
      "setsid sh -c 'echo $$ > escaped; exec sleep 100' & while [ ! -s escaped ]; do :; done; cat escaped",
      { timeoutMs: 60_000 },
    );
    const escaped = Number(r.stdout.trim());
    strays.push(escaped);
    expect(r).toMatchObject({ exitCode: 0, timedOut: false });
    expect(isGone(escaped)).toBe(false); // it really held the pipe: only the grace period ended the wait
    expect(r.durationMs).toBeGreaterThanOrEqual(200);
    expect(r.durationMs).toBeLessThan(10_000);
  });

  it("leaves no timers or abort listeners behind", async () => {
    const controller = new AbortController();
    const before = timers();
    await sandbox.exec("sleep 100 & echo $!", { timeoutMs: 60_000, signal: controller.signal }).then((r) => {
      strays.push(Number(r.stdout.trim()));
    });
    expect(timers()).toBeLessThanOrEqual(before);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("runs in a cwd inside the workspace, following symlinks only inside", async () => {
    fs.mkdirSync(path.join(ws, "sub"));
    fs.symlinkSync("sub", path.join(ws, "link"));
    expect((await sandbox.exec("pwd -P", { cwd: "sub" })).stdout).toBe(`${ws}/sub\n`);
    expect((await sandbox.exec("pwd -P", { cwd: "link" })).stdout).toBe(`${ws}/sub\n`);
  });

  it.each([
    ["..", /cwd "\.\." leaves the workspace/],
    ["sub/../../..", /leaves the workspace/],
    ["/tmp", /cwd "\/tmp" is absolute/],
    ["out", /cwd "out" resolves to ".*", outside the workspace/],
    ["missing", /cwd "missing" does not exist/],
  ])("refuses cwd %j with a SandboxError before running anything", async (cwd, message) => {
    fs.mkdirSync(path.join(ws, "sub"));
    fs.symlinkSync(base, path.join(ws, "out"));
    const err = await sandbox.exec("touch ran", { cwd }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect((err as Error).message).toMatch(message);
    expect(fs.existsSync(path.join(ws, "ran"))).toBe(false);
    expect(fs.existsSync(path.join(base, "ran"))).toBe(false);
  });

  it("dispose kills running commands and refuses new ones", async () => {
    const running = sandbox.exec("echo started > started; sleep 100");
    await waitForFile("started");
    await sandbox.dispose();
    expect(await running).toMatchObject({ signal: "SIGKILL", exitCode: null });
    await expect(sandbox.exec("true")).rejects.toThrow(SandboxError);
  });
});
