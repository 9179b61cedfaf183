import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createHarness } from "../../../src/harness.js";
import { BubblewrapSandbox } from "../../../src/sandbox/bubblewrap/bubblewrap-sandbox.js";
import { UnsafeLocalProcess } from "../../../src/sandbox/unsafe-local-process.js";
import { runCodeTool } from "../../../src/tools/builtin/run-code.js";
import { callTool } from "./workspace-fixture.js";

const dirs: string[] = [];
const sandboxes: { dispose(): Promise<void> }[] = [];
const ws = () => {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-run-code-")));
  dirs.push(d);
  return d;
};
afterEach(async () => {
  for (const s of sandboxes.splice(0)) await s.dispose();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("run_code", () => {
  it("offers exactly the sandbox's languages and runs python in bubblewrap as an unprivileged user", async () => {
    const sandbox = new BubblewrapSandbox({ workspace: ws() });
    sandboxes.push(sandbox);
    const tool = runCodeTool({ sandbox });
    const schema = tool.inputSchema as { properties: { language: { enum: string[] } } };
    expect(schema.properties.language.enum).toEqual([...sandbox.capabilities.languages]);
    expect(tool.risk?.level).toBe("HIGH");
    const r = (await callTool(tool, {
      language: "python",
      code: "import os; print(os.getuid() != 0, 6*7)",
    })) as {
      stdout: string;
      exitCode: number;
      oomKilled: boolean;
    };
    expect(r).toMatchObject({ stdout: "True 42\n", exitCode: 0, oomKilled: false });
  });

  it("refuses a language the sandbox does not have at validation", () => {
    const sandbox = new BubblewrapSandbox({ workspace: ws(), limitsVia: "rlimit" });
    sandboxes.push(sandbox);
    expect(sandbox.capabilities.languages).not.toContain("javascript");
    const parsed = runCodeTool({ sandbox }).parse({ language: "javascript", code: "1" });
    expect(parsed.ok).toBe(false);
  });

  it("is registered with run_shell once a sandbox is configured, and not without one", () => {
    const workspace = ws();
    const sandbox = new UnsafeLocalProcess({ workspace });
    sandboxes.push(sandbox);
    expect(createHarness({ model: "scripted:demo", workspace, sandbox }).tools).toEqual(
      expect.arrayContaining(["run_shell", "run_code"]),
    );
    expect(createHarness({ model: "scripted:demo", workspace }).tools).not.toContain("run_code");
    expect(() => createHarness({ model: "scripted:demo", workspace, builtinTools: ["run_code"] })).toThrow(
      /builtinTools lists "run_code" but no sandbox is configured/,
    );
  });
});
