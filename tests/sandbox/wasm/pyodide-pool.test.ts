import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PyodideSandbox } from "../../../src/sandbox/wasm/pyodide-sandbox.js";
import { warmPoolContract } from "../warm-pool-contract.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(poolSize: number) {
  const workspace = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-pyodide-")));
  const sandbox = new PyodideSandbox({ workspace, poolSize, memory: "512m" });
  cleanups.push(() => fs.rmSync(workspace, { recursive: true, force: true }));
  cleanups.push(() => sandbox.dispose());
  return { workspace, sandbox };
}

/** Processes whose command line names this workspace (the interpreters' bwrap and node). */
function interpretersOf(workspace: string): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes("pyodide-runner") && cmd.includes(workspace)) out.push(Number(pid));
    } catch {} // exited meanwhile
  }
  return out;
}

type Interpreter = Awaited<ReturnType<PyodideSandbox["pool"]["acquire"]>>;
const contractSandboxes: { workspace: string; sandbox: PyodideSandbox }[] = [];
function contractSandbox(options: { poolSize: number; memory: string }): PyodideSandbox {
  const workspace = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-pyodide-")));
  const sandbox = new PyodideSandbox({ workspace, ...options });
  contractSandboxes.push({ workspace, sandbox });
  return sandbox;
}

warmPoolContract<Interpreter>({
  name: "pyodide interpreters",
  pool: (size) => contractSandbox({ poolSize: size, memory: "512m" }).pool,
  usable: async (i) => !i.kill.signal.aborted,
  release: async (i) => {
    i.kill.abort();
    await i.result.catch(() => {});
  },
  // bwrap dies with its launcher (--die-with-parent): the kernel reaps it just after.
  nothingLeft: async () => {
    for (const { workspace } of contractSandboxes)
      await expect.poll(() => interpretersOf(workspace), { timeout: 10_000 }).toEqual([]);
  },
  // Too little memory for node to load Pyodide: the interpreter ends before it is ready.
  broken: () => ({ pool: contractSandbox({ poolSize: 1, memory: "8m" }).pool, code: "REIN_SANDBOX_FAILED" }),
  timeoutMs: 180_000,
  cleanup: async () => {
    for (const { workspace, sandbox } of contractSandboxes.splice(0)) {
      await sandbox.dispose();
      fs.rmSync(workspace, { recursive: true, force: true });
    }
  },
});

describe("Pyodide warm pool", () => {
  it("hands out a loaded interpreter, uses each once (no state carries over) and refills in the background", async () => {
    const { sandbox } = setup(1);
    await sandbox.warm();
    expect(sandbox.pool.ready).toBe(1);
    const first = await sandbox.runCode("python", "import sys\nx = 41\nprint(sys.platform, x + 1)", {
      timeoutMs: 60_000,
    });
    expect(first.stdout).toBe("emscripten 42\n");
    // The pool started the next interpreter when it handed the first out.
    expect(sandbox.pool.ready + sandbox.pool.warming).toBe(1);
    await sandbox.pool.fill();
    const second = await sandbox.runCode("python", "print(x)", { timeoutMs: 60_000 });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/NameError: name 'x' is not defined/);
  }, 180_000);

  it("dispose drains the pool: no interpreter process is left, and later runs are refused", async () => {
    const { workspace, sandbox } = setup(2);
    await sandbox.warm();
    expect(interpretersOf(workspace).length).toBeGreaterThan(0);
    await sandbox.dispose();
    expect(sandbox.pool.ready).toBe(0);
    // bwrap dies with its launcher (--die-with-parent): wait for the kernel to reap them.
    await expect.poll(() => interpretersOf(workspace), { timeout: 10_000 }).toEqual([]);
    await expect(sandbox.runCode("python", "print(1)")).rejects.toMatchObject({
      code: "REIN_SANDBOX_FAILED",
    });
  }, 180_000);

  it("a secret file created after an interpreter warmed is masked all the same: the stale interpreter is replaced", async () => {
    const { workspace, sandbox } = setup(1);
    await sandbox.warm();
    fs.writeFileSync(path.join(workspace, ".env"), "API_KEY=created-after-warm\n");
    const r = await sandbox.runCode("python", "print(repr(open('.env').read()))", { timeoutMs: 60_000 });
    expect(r.stdout).toBe("''\n");
    expect(fs.readFileSync(path.join(workspace, ".env"), "utf8")).toContain("created-after-warm");
  }, 180_000);

  it("an infinite loop is killed at the deadline with its process (stoppedBy watchdog); a bad language is refused", async () => {
    const { sandbox } = setup(0);
    const r = await sandbox.runCode("python", "while True:\n  pass", { timeoutMs: 1_000 });
    expect(r).toMatchObject({ timedOut: true, stoppedBy: "watchdog", signal: "SIGKILL", exitCode: null });
    await expect(sandbox.runCode("javascript", "1")).rejects.toMatchObject({
      code: "REIN_SANDBOX_FAILED",
      message: expect.stringMatching(/runs only python/),
    });
    await expect(sandbox.exec(["python3", "-c", "1"])).rejects.toMatchObject({
      code: "REIN_SANDBOX_UNSUPPORTED",
    });
  }, 180_000);
});
