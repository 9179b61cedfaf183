import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { callbackGate } from "../../../src/approvals/callback-gate.js";
import { loadConfigFile } from "../../../src/config/config-file.js";
import { createHarness } from "../../../src/harness.js";
import { scriptedModel } from "../../../src/models/providers/scripted/scripted-model.js";
import { createSandbox } from "../../../src/sandbox/create-sandbox.js";
import type { Sandbox } from "../../../src/sandbox/sandbox.js";
import { recordingSink } from "../../../src/testing.js";

const BIN = path.resolve(import.meta.dirname, "../../../bin/rein.js");
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function workspace(): string {
  const ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-route-")));
  cleanups.push(() => fs.rmSync(ws, { recursive: true, force: true }));
  return ws;
}
function track(s: Sandbox): Sandbox {
  cleanups.push(() => s.dispose());
  return s;
}

// Each program says where it ran: Pyodide reports sys.platform "emscripten"; QuickJS has no `process`.
const WHERE_PY = "import sys; print(sys.platform)";
const WHERE_JS = 'console.log(typeof process === "undefined" ? "quickjs" : "node")';

describe("run_code chooses a backend per language", () => {
  it("backend wasm: python runs in Pyodide, javascript in QuickJS, and there is no shell", async () => {
    const s = track(createSandbox({ backend: "wasm", workspace: workspace() }));
    expect([...s.capabilities.languages].sort()).toEqual(["javascript", "python"]);
    expect(s.capabilities.isolation).toBe("wasm");
    expect((await s.runCode("python", WHERE_PY, { timeoutMs: 60_000 })).stdout).toBe("emscripten\n");
    expect((await s.runCode("javascript", WHERE_JS)).stdout).toBe("quickjs\n");
    await expect(s.exec("ls")).rejects.toMatchObject({ code: "REIN_SANDBOX_UNSUPPORTED" });
    await expect(s.runCode("shell", "ls")).rejects.toMatchObject({ code: "REIN_SANDBOX_FAILED" });
  }, 120_000);

  it("bubblewrap with code routing: shell in bubblewrap, python in Pyodide, javascript in QuickJS", async () => {
    const s = track(
      createSandbox({ workspace: workspace(), code: { python: "pyodide", javascript: "quickjs" } }),
    );
    expect((await s.exec("hostname")).stdout).toBe("rein-sandbox\n");
    expect((await s.runCode("python", WHERE_PY, { timeoutMs: 60_000 })).stdout).toBe("emscripten\n");
    expect((await s.runCode("javascript", WHERE_JS)).stdout).toBe("quickjs\n");
    expect(s.capabilities.isolation).toBe("namespaces");
  }, 120_000);

  it("python routed to bubblewrap runs CPython in the process sandbox", async () => {
    const s = track(
      createSandbox({ workspace: workspace(), code: { python: "bubblewrap", javascript: "quickjs" } }),
    );
    expect((await s.runCode("python", WHERE_PY)).stdout).toBe("linux\n");
  });

  it("the harness offers run_code (not run_shell) over a wasm sandbox, with its languages, and runs the model's python in Pyodide", async () => {
    const ws = workspace();
    const sandbox = track(createSandbox({ backend: "wasm", workspace: ws }));
    const model = scriptedModel({
      name: "wasm-wiring",
      turns: [
        { tool_calls: [{ tool: "run_code", input: { language: "python", code: "print(sum(range(10)))" } }] },
        { say: "done" },
      ],
    });
    const sink = recordingSink();
    const harness = createHarness({
      model,
      workspace: ws,
      sandbox,
      audit: false,
      approvals: { gate: callbackGate(async () => ({ approve: true })) },
      sinks: [sink],
      security: { spotlight: false },
    });
    expect(harness.tools).toContain("run_code");
    expect(harness.tools).not.toContain("run_shell");
    const result = await harness.session().run("go");
    expect(result.stopReason).toEqual({ type: "completed" });
    const [code] = sink.ofType("tool_call_finished").map((e) => JSON.parse(e.data.content));
    expect(code).toMatchObject({ exitCode: 0, stdout: "45\n" });
  }, 120_000);

  it("rein.config.yaml sandbox section: valid keys load, a bad language route names the field", () => {
    const dir = workspace();
    const good = path.join(dir, "good.yaml");
    fs.writeFileSync(
      good,
      "sandbox:\n  backend: bubblewrap\n  code: { python: pyodide, javascript: quickjs }\n  pyodide: { poolSize: 2 }\n",
    );
    expect(loadConfigFile(good).sandbox).toEqual({
      backend: "bubblewrap",
      code: { python: "pyodide", javascript: "quickjs" },
      pyodide: { poolSize: 2 },
    });
    const bad = path.join(dir, "bad.yaml");
    fs.writeFileSync(bad, "sandbox:\n  code: { ruby: pyodide }\n");
    expect(() => loadConfigFile(bad)).toThrow(expect.objectContaining({ code: "REIN_CONFIG_INVALID" }));
    expect(() => loadConfigFile(bad)).toThrow(/sandbox\.code/);
  });
});

describe("rein sandbox exec --backend wasm", () => {
  const rein = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000, input });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it("--language javascript runs the arguments in QuickJS; python from stdin in Pyodide", () => {
    const ws = workspace();
    const js = rein([
      "sandbox",
      "exec",
      "--backend",
      "wasm",
      "--workspace",
      ws,
      "--language",
      "javascript",
      "--",
      WHERE_JS,
    ]);
    expect(js).toMatchObject({ code: 0, stdout: "quickjs\n" });
    const py = rein(
      ["sandbox", "exec", "--backend", "wasm", "--workspace", ws, "--language", "python", "--", "-"],
      "import sys\nprint(sys.platform)\nsys.exit(4)\n",
    );
    expect(py).toMatchObject({ code: 4, stdout: "emscripten\n" });
  }, 180_000);

  it("an infinite loop exits 124 and says it was interrupted; --json carries stoppedBy", () => {
    const ws = workspace();
    const r = rein([
      "sandbox",
      "exec",
      "--backend",
      "quickjs",
      "--workspace",
      ws,
      "--language",
      "javascript",
      "--timeout",
      "300ms",
      "--json",
      "--",
      "for(;;){}",
    ]);
    expect(r.code, r.stdout).toBe(124);
    expect(JSON.parse(r.stdout)).toMatchObject({
      timedOut: true,
      stoppedBy: "interrupt",
      sandbox: "quickjs",
    });
  }, 60_000);

  it("a shell command without --language is refused with REIN_SANDBOX_UNSUPPORTED; a bad --language names the choices", () => {
    const ws = workspace();
    const shell = rein(["sandbox", "exec", "--backend", "wasm", "--workspace", ws, "--", "ls"]);
    expect(shell.code).not.toBe(0);
    expect(shell.stderr).toMatch(/REIN_SANDBOX_UNSUPPORTED/);
    expect(shell.stderr).toMatch(/no shell/);
    const bad = rein([
      "sandbox",
      "exec",
      "--backend",
      "wasm",
      "--workspace",
      ws,
      "--language",
      "cobol",
      "--",
      "x",
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--language must be one of python, javascript, shell, got "cobol"/);
  }, 60_000);
});

describe("rein run --sandbox wasm", () => {
  it("the model's javascript runs in QuickJS; run_shell is not offered (an attempt is unknown_tool)", () => {
    const ws = workspace();
    const file = path.join(workspace(), "script.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        name: "wasm-run",
        turns: [
          {
            tool_calls: [
              {
                tool: "run_code",
                input: { language: "javascript", code: 'console.log("in", typeof process)' },
              },
              { tool: "run_shell", input: { command: "id" } },
            ],
          },
          { say: "done" },
        ],
      }),
    );
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        "run",
        "go",
        "--model",
        `scripted:${file}`,
        "--workspace",
        ws,
        "--sandbox",
        "wasm",
        "--trust",
        "autonomous",
        "--json",
        "--no-audit",
      ],
      { encoding: "utf8", timeout: 120_000, cwd: ws },
    );
    expect(r.status, r.stderr).toBe(0);
    const finished = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === "tool_call_finished");
    expect(finished[0].data.content).toContain("in undefined");
    expect(finished[1].data.content).toContain("unknown_tool");
  }, 150_000);
});
