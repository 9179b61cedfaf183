import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ReinError } from "../../../src/protocol/errors.js";
import type { ExecOptions, ExecResult, Sandbox } from "../../../src/sandbox/sandbox.js";
import { UnsafeLocalProcess } from "../../../src/sandbox/unsafe-local-process.js";
import { runShellTool } from "../../../src/tools/builtin/run-shell.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

/** A sandbox that records what it was asked to run (to show run_shell goes through the interface). */
class RecordingSandbox implements Sandbox {
  readonly name = "recording";
  // It runs shell commands, so it says so: the harness offers run_shell only to a sandbox with a shell.
  readonly capabilities = { isolation: "none", network: [], limits: [], languages: ["shell"] } as const;
  readonly calls: { command: string | readonly string[]; options: ExecOptions | undefined }[] = [];
  constructor(readonly workspace: string) {}
  async exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ command, options });
    return {
      stdout: "ok",
      stderr: "",
      exitCode: 0,
      signal: null,
      timedOut: false,
      oomKilled: false,
      truncated: false,
      durationMs: 1,
    };
  }
  async runCode(): Promise<ExecResult> {
    throw new Error("not used");
  }
  async putFile(): Promise<void> {}
  async getFile(): Promise<Buffer> {
    return Buffer.alloc(0);
  }
  async reset(): Promise<void> {}
  async dispose(): Promise<void> {}
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
}

describe("run_shell", () => {
  let t: TempWorkspace;
  let sandbox: UnsafeLocalProcess;
  let tool: Tool;
  const run = (input: Record<string, unknown>, signal?: AbortSignal) => callTool(tool, input, signal);

  beforeEach(() => {
    t = tempWorkspace();
    sandbox = new UnsafeLocalProcess({ workspace: t.root });
    tool = runShellTool({ sandbox });
  });
  afterEach(async () => {
    await sandbox.dispose();
    delete process.env.FAKE_SECRET;
    t.cleanup();
  });

  it("declares itself HIGH and names its sandbox", () => {
    expect(tool).toMatchObject({
      name: "run_shell",
      risk: { level: "HIGH", reason: expect.stringContaining("unsafe-local-process") },
    });
  });

  it("returns exit code, stdout, stderr and timing", async () => {
    const r = await run({ command: "echo out; echo err >&2; exit 7" });
    expect(r).toEqual({
      exitCode: 7,
      signal: null,
      timedOut: false,
      truncated: false,
      stdout: "out\n",
      stderr: "err\n",
      durationMs: expect.any(Number),
    });
  });

  it("caps output and reports truncated", async () => {
    tool = runShellTool({ sandbox, maxOutputBytes: 10 });
    expect(await run({ command: "seq 1 1000" })).toMatchObject({
      stdout: "1\n2\n3\n4\n5\n",
      truncated: true,
      exitCode: 0,
    });
  });

  it("kills the command and its background children on timeout", async () => {
    const r = (await run({ command: "sleep 100 & echo $!; wait", timeoutMs: 1000 })) as { stdout: string };
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" });
    const grandchild = Number(r.stdout.trim());
    await vi.waitFor(() => expect(isGone(grandchild)).toBe(true), { timeout: 2000, interval: 5 });
  });

  it("kills the command when the tool call is cancelled", async () => {
    const controller = new AbortController();
    const running = run({ command: "echo $$ > pid; sleep 100" }, controller.signal);
    await vi.waitFor(() => expect(fs.readFileSync(path.join(t.root, "pid"), "utf8")).toMatch(/\n$/), {
      timeout: 5000,
      interval: 5,
    });
    const pid = Number(fs.readFileSync(path.join(t.root, "pid"), "utf8"));
    controller.abort();
    expect(await running).toMatchObject({ signal: "SIGKILL", timedOut: false });
    await vi.waitFor(() => expect(isGone(pid)).toBe(true), { timeout: 2000, interval: 5 });
  });

  it("does not leak the host environment", async () => {
    process.env.FAKE_SECRET = "sk-live-should-not-leak";
    const r = (await run({ command: "env" })) as { stdout: string };
    expect(r.stdout).not.toMatch(/FAKE_SECRET|sk-live/);
    expect(r.stdout).toContain(`HOME=${t.root}`);
  });

  it("runs in a cwd inside the workspace", async () => {
    fs.mkdirSync(path.join(t.root, "sub"));
    expect(await run({ command: "pwd", cwd: "sub" })).toMatchObject({ stdout: `${t.root}/sub\n` });
  });

  it("refuses cwd escapes with the file tools' failure types, before running anything", async () => {
    t.symlink("out", t.outside);
    fs.writeFileSync(path.join(t.root, "f.txt"), "");
    const cmd = "touch ran";
    await expectFailure(
      run({ command: cmd, cwd: ".." }),
      "outside_workspace",
      /leaves the workspace through "\.\."/,
    );
    await expectFailure(
      run({ command: cmd, cwd: "a/../../outside" }),
      "outside_workspace",
      /leaves the workspace/,
    );
    await expectFailure(run({ command: cmd, cwd: t.outside }), "outside_workspace", /is absolute/);
    await expectFailure(
      run({ command: cmd, cwd: "out" }),
      "outside_workspace",
      /symlink "out", which resolves to/,
    );
    await expectFailure(run({ command: cmd, cwd: ".rein" }), "outside_workspace", /reserved for the harness/);
    await expectFailure(run({ command: cmd, cwd: "f.txt" }), "not_a_file", /not a directory/);
    expect(fs.existsSync(path.join(t.root, "ran"))).toBe(false);
    expect(fs.readdirSync(t.outside)).toEqual(["secret.txt"]);
  });

  it("runs only through the Sandbox interface, passing cwd, timeout and the call's signal", async () => {
    const recording = new RecordingSandbox(t.root);
    fs.mkdirSync(path.join(t.root, "sub"));
    tool = runShellTool({ sandbox: recording });
    const controller = new AbortController();
    await run({ command: "make test", cwd: "./sub/", timeoutMs: 5000 }, controller.signal);
    await run({ command: "ls" });
    expect(recording.calls).toEqual([
      {
        command: "make test",
        options: expect.objectContaining({ cwd: "sub", timeoutMs: 5000, signal: controller.signal }),
      },
      { command: "ls", options: expect.objectContaining({ cwd: undefined, timeoutMs: 120_000 }) },
    ]);
  });

  it("validates its input: empty command and an excessive timeout are refused", () => {
    expect(tool.parse({ command: "" })).toMatchObject({ ok: false });
    expect(tool.parse({ command: "ls", timeoutMs: 10_000_000 })).toMatchObject({ ok: false });
  });

  it("refuses a sandbox whose workspace is not the file tools' workspace", () => {
    expect(() => runShellTool({ sandbox, workspace: t.outside })).toThrow(ReinError);
    expect(() => runShellTool({ sandbox, workspace: t.outside })).toThrow(/is not the file tools' workspace/);
  });
});

describe("run_shell and the harness agree on timeouts", () => {
  it("the schema's maximum is the harness's toolTimeoutMs; the tool's own deadline is never cut short by the harness", async () => {
    const { createHarness } = await import("../../../src/index.js");
    const { scriptedModel } = await import("../../../src/testing.js");
    const dir = fs.mkdtempSync(path.join((await import("node:os")).tmpdir(), "rein-shell-"));
    const sandbox = new RecordingSandbox(fs.realpathSync(dir));
    const h = createHarness({
      model: scriptedModel({
        name: "t",
        turns: [
          { tool_calls: [{ tool: "run_shell", input: { command: "ls", timeoutMs: 5_000 } }] },
          { tool_calls: [{ tool: "run_shell", input: { command: "ls", timeoutMs: 20_000 } }] },
          { tool_calls: [{ tool: "run_shell", input: { command: "ls" } }] },
          { say: "done" },
        ],
      }),
      workspace: dir,
      sandbox,
      audit: false,
      limits: { toolTimeoutMs: 10_000 },
      approvals: {
        gate: { name: "yes", decide: async () => ({ outcome: "approved", by: "yes", scope: "once" }) },
      },
    });
    const r = await h.session().run("go");
    // 5 s: within the harness's 10 s, passed to the sandbox as asked.
    expect(sandbox.calls[0]?.options?.timeoutMs).toBe(5_000);
    // 20 s: over the harness's limit, refused by the schema with the limit named (not cut at 10 s mid-run).
    const second = JSON.parse((r.messages[4]?.content[0] as { content: string } | undefined)?.content ?? "");
    expect(second.error.type).toBe("invalid_input");
    expect(second.error.message).toMatch(/timeoutMs: .*10000/);
    // No timeoutMs: the default is capped at the harness's limit.
    expect(sandbox.calls[1]?.options?.timeoutMs).toBe(10_000);
    expect(sandbox.calls).toHaveLength(2);
    // The harness's own cut for run_shell comes after the command's deadline plus time to collect output.
    expect(runShellTool({ sandbox, maxTimeoutMs: 10_000 }).timeoutMs).toBe(10_000 + 5_000);
  });
});
