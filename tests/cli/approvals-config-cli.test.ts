import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/rein.js");

function rein(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const RUN = [
  "run",
  "clean",
  "--model",
  "scripted:script.json",
  "--workspace",
  "ws",
  "--sandbox",
  "none",
  "--no-audit",
];

function setup(config: string) {
  const cwd = tempDir();
  mkdirSync(join(cwd, "ws", "build"), { recursive: true });
  const high = { tool_calls: [{ tool: "run_shell", input: { command: "rm -rf build" } }] };
  writeFileSync(join(cwd, "script.json"), JSON.stringify({ name: "cli", turns: [high, { say: "done" }] }));
  writeFileSync(join(cwd, "rein.config.yaml"), config);
  return cwd;
}

const pending = (cwd: string) =>
  JSON.parse(rein(["approvals", "list", "--json"], cwd).stdout) as { tool: string }[];

describe("rein.config approvals.gate", () => {
  it("approvals.gate: durable makes rein run keep the HIGH call as a pending approval (exit 4); --approvals terminal overrides it", () => {
    const cwd = setup("approvals:\n  gate: durable\n");
    const run = rein(RUN, cwd);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain("rein: waiting for approval apr_");
    expect(pending(cwd)).toEqual([expect.objectContaining({ tool: "run_shell" })]);
    expect(existsSync(join(cwd, "ws", "build"))).toBe(true);

    // The flag wins over the file: the terminal gate (no terminal here) denies, nothing new is pending.
    const terminal = rein([...RUN, "--approvals", "terminal"], cwd);
    expect(terminal.code).toBe(0);
    expect(pending(cwd)).toHaveLength(1);
    expect(existsSync(join(cwd, "ws", "build"))).toBe(true);
  });

  it("approvals.gate: durable with --no-store is refused before anything runs (REIN_CONFIG_INVALID)", () => {
    const cwd = setup("approvals:\n  gate: durable\n");
    const run = rein([...RUN, "--no-store"], cwd);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("REIN_CONFIG_INVALID");
    expect(run.stderr).toContain("approvals.gate: durable");
    expect(existsSync(join(cwd, "ws", "build"))).toBe(true);
  });

  it("a bad gate in the file stops rein run with the file, line and field", () => {
    const cwd = setup("model: scripted:script.json\napprovals:\n  gate: later\n");
    const run = rein(RUN, cwd);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('rein.config.yaml:3: approvals.gate: expected "terminal" or "durable"');
    expect(run.stderr).toContain("REIN_CONFIG_INVALID");
  });
});
