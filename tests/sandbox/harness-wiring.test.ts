import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { callbackGate } from "../../src/approvals/callback-gate.js";
import { createHarness } from "../../src/harness.js";
import { scriptedModel } from "../../src/models/providers/scripted/scripted-model.js";
import { createSandbox } from "../../src/sandbox/create-sandbox.js";
import type { Sandbox } from "../../src/sandbox/sandbox.js";
import { recordingSink } from "../../src/testing.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(): { workspace: string; sandbox: Sandbox } {
  const workspace = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-wiring-")));
  const sandbox = createSandbox({ workspace });
  cleanups.push(() => fs.rmSync(workspace, { recursive: true, force: true }));
  cleanups.push(() => sandbox.dispose());
  return { workspace, sandbox };
}

describe("harness wiring", () => {
  it("run_shell and run_code execute in the configured bubblewrap sandbox (approved calls)", async () => {
    const { workspace, sandbox } = setup();
    fs.writeFileSync(path.join(workspace, ".env"), "API_KEY=host-only\n");
    const model = scriptedModel({
      name: "wiring",
      turns: [
        {
          tool_calls: [
            {
              tool: "run_shell",
              input: { command: "id -u; wc -c < .env; tail -n +3 /proc/net/dev | cut -d: -f1" },
            },
            { tool: "run_code", input: { language: "python", code: "import os; print(os.getuid() != 0)" } },
          ],
        },
        { say: "done" },
      ],
    });
    const sink = recordingSink();
    const harness = createHarness({
      model,
      workspace,
      sandbox,
      audit: false,
      approvals: { gate: callbackGate(async () => ({ approve: true })) },
      sinks: [sink],
      // The results are parsed as the tool's JSON; spotlighting (on by default) is tested in tests/security.
      security: { spotlight: false },
    });
    expect(harness.tools).toEqual(expect.arrayContaining(["run_shell", "run_code"]));
    const result = await harness.session().run("go");
    expect(result.stopReason).toEqual({ type: "completed" });
    const [shell, code] = sink.ofType("tool_call_finished").map((e) => JSON.parse(e.data.content));
    const lines = (shell.stdout as string)
      .trim()
      .split("\n")
      .map((l) => l.trim());
    expect(lines[0]).not.toBe("0"); // never host root
    expect(lines[1]).toBe("0"); // .env is masked
    expect(lines.slice(2)).toEqual(["lo"]); // no network
    expect(code.stdout).toBe("True\n");
  });

  it("config.sandbox must be a Sandbox (with runCode): an object without it is a ConfigError", () => {
    const { workspace } = setup();
    expect(() =>
      createHarness({
        model: "scripted:demo",
        workspace,
        sandbox: { exec: async () => ({}), capabilities: {} } as unknown as Sandbox,
      }),
    ).toThrow(/config\.sandbox: expected a Sandbox/);
  });
});
