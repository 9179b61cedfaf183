import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { QuickJSSandbox } from "../../../src/sandbox/wasm/quickjs-sandbox.js";

const open: QuickJSSandbox[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.dispose();
});
const make = (o: ConstructorParameters<typeof QuickJSSandbox>[0] = {}) => {
  const s = new QuickJSSandbox(o);
  open.push(s);
  return s;
};

describe("QuickJSSandbox: limits and their typed results", () => {
  it("an infinite loop is interrupted at its deadline: timedOut, stoppedBy interrupt, no exit code", async () => {
    const r = await make().runCode("javascript", "for (;;) {}", { timeoutMs: 200 });
    expect(r).toMatchObject({ timedOut: true, stoppedBy: "interrupt", exitCode: null, oomKilled: false });
    expect(r.stderr).toMatch(/InternalError: interrupted/);
  });

  it("a native built-in that never reaches an interrupt check is stopped by the watchdog terminating its worker", async () => {
    const s = make({ memory: "256m", watchdogGraceMs: 100 });
    // Array.prototype.sort over 2 million strings is one native call of seconds with no interrupt check
    // inside; building the array takes a fraction of the deadline, so the deadline passes inside sort().
    const overrun = `const a = "qwertyuiopasdfghjklzxcvbnm".repeat(80000).split(""); a.sort(); console.log("sorted")`;
    const r = await s.runCode("javascript", overrun, { timeoutMs: 1000 });
    expect(r).toMatchObject({ timedOut: true, stoppedBy: "watchdog", signal: "SIGKILL", exitCode: null });
    expect(r.stdout).not.toContain("sorted");
    // A new worker serves the next run.
    expect((await s.runCode("javascript", "console.log(6 * 7)")).stdout).toBe("42\n");
  });

  it("a memory bomb fails with oomKilled at the WebAssembly memory's hard maximum, and the next run works", async () => {
    const s = make({ memory: "32m" });
    const r = await s.runCode("javascript", "const keep = []; for (;;) keep.push(new Uint8Array(1 << 20))");
    expect(r).toMatchObject({ oomKilled: true, timedOut: false, exitCode: 1 });
    expect(r.stderr).toMatch(/out of memory/);
    expect((await s.runCode("javascript", "console.log(1 + 1)")).stdout).toBe("2\n");
  });

  it("deep recursion hits the stack limit with a short trace", async () => {
    const r = await make().runCode("javascript", "function f() { return f() + 1 } f()");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/stack overflow/);
    expect(r.stderr.split("\n").length).toBeLessThan(30);
  });

  it("state never carries over between runs (a fresh runtime and context each)", async () => {
    const s = make();
    await s.runCode("javascript", "globalThis.leak = 'x'; Object.prototype.polluted = 1");
    expect((await s.runCode("javascript", "console.log(typeof leak, ({}).polluted)")).stdout).toBe(
      "undefined undefined\n",
    );
  });

  it("a bad language, a shell command and bad options are refused with typed errors", async () => {
    const s = make();
    await expect(s.runCode("python", "print(1)")).rejects.toMatchObject({
      code: "REIN_SANDBOX_FAILED",
      message: expect.stringMatching(/runs only javascript, not python/),
    });
    await expect(s.runCode("cobol" as never, "x")).rejects.toMatchObject({ code: "REIN_SANDBOX_FAILED" });
    await expect(s.exec("ls")).rejects.toMatchObject({
      code: "REIN_SANDBOX_UNSUPPORTED",
      message: expect.stringMatching(/no shell/),
    });
    expect(() => new QuickJSSandbox({ memory: "lots" })).toThrow(/memory must be a positive size/);
    expect(() => new QuickJSSandbox({ timeoutMs: 0 })).toThrow(/timeoutMs must be a positive number/);
  });

  it("workspace files: the guest reads and writes text in the workspace, the host sees it", async () => {
    const ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-qjs-")));
    try {
      fs.writeFileSync(path.join(ws, "in.txt"), "from the host");
      const s = make({ workspace: ws });
      const r = await s.runCode(
        "javascript",
        `workspace.writeFile("out/result.txt", workspace.readFile("in.txt").toUpperCase()); console.log(workspace.listFiles())`,
      );
      expect(r.stdout).toBe('["in.txt","out"]\n');
      expect(fs.readFileSync(path.join(ws, "out/result.txt"), "utf8")).toBe("FROM THE HOST");
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });
});
