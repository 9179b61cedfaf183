import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, watch, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { ReinEvent } from "../../src/index.js";
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

function setup(turns: unknown[]) {
  const cwd = tempDir();
  mkdirSync(join(cwd, "ws", "build"), { recursive: true });
  writeFileSync(join(cwd, "script.json"), JSON.stringify({ name: "cli", turns }));
  return cwd;
}

const HIGH_CALL = {
  tool_calls: [{ tool: "run_shell", input: { command: "rm -rf build && echo gone >> log.txt" } }],
};

describe("rein sessions and approvals", () => {
  it("run --approvals durable pauses (exit 4); approvals list/approve from another process; sessions resume runs the call once", () => {
    const cwd = setup([HIGH_CALL, { say: "done" }]);
    const common = ["--sandbox", "none", "--no-audit"];
    const run = rein(
      [
        "run",
        "clean",
        "--model",
        "scripted:script.json",
        "--workspace",
        "ws",
        "--approvals",
        "durable",
        ...common,
      ],
      cwd,
    );
    expect(run.code).toBe(4);
    const sessionId = /rein: session (ses_[a-f0-9]+)/.exec(run.stderr)?.[1];
    expect(sessionId).toBeDefined();
    expect(existsSync(join(cwd, "ws", "build"))).toBe(true);

    const listed = rein(["approvals", "list", "--json"], cwd);
    const pending = JSON.parse(listed.stdout) as {
      id: string;
      argsHash: string;
      tool: string;
      sessionId: string;
    }[];
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ tool: "run_shell", sessionId });
    const id = pending[0]!.id;

    const wrongHash = rein(["approve", id, "--args-hash", "0".repeat(64)], cwd);
    expect(wrongHash.code).toBe(2);
    expect(wrongHash.stderr).toContain("REIN_APPROVAL_ARGS_MISMATCH");
    expect(rein(["approve", id, "--by", "ann"], cwd).code).toBe(0);
    expect(rein(["approve", id, "--by", "ann"], cwd).code).toBe(0); // the same decision again: accepted, once
    const conflict = rein(["deny", id, "--reason", "changed my mind"], cwd);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain("REIN_APPROVAL_CONFLICT");

    const resumed = rein(["sessions", "resume", sessionId!, "--json", ...common], cwd);
    expect(resumed.code).toBe(0);
    const events = resumed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ReinEvent);
    expect(events.find((e) => e.type === "run_ended")).toMatchObject({ data: { status: "completed" } });
    expect(existsSync(join(cwd, "ws", "build"))).toBe(false);
    expect(readFileSync(join(cwd, "ws", "log.txt"), "utf8")).toBe("gone\n");

    const again = rein(["sessions", "resume", sessionId!, ...common], cwd);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("REIN_SESSION_NOT_RESUMABLE");
    expect(readFileSync(join(cwd, "ws", "log.txt"), "utf8")).toBe("gone\n");

    const list = JSON.parse(rein(["sessions", "list", "--json"], cwd).stdout) as {
      sessionId: string;
      status: string;
    }[];
    expect(list).toEqual([expect.objectContaining({ sessionId, status: "closed" })]);
    const exported = rein(["sessions", "export", sessionId!], cwd)
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ReinEvent);
    expect(exported.map((e) => e.seq)).toEqual(exported.map((_, i) => i + 1));
    expect(exported.filter((e) => e.type === "tool_call_started")).toHaveLength(1);
    const shown = JSON.parse(rein(["sessions", "show", sessionId!, "--json"], cwd).stdout);
    expect(shown.approvals).toEqual([expect.objectContaining({ id, status: "approved" })]);
  });

  it("a `rein run` killed with SIGKILL is continued with `rein sessions resume <id>` from the same directory", async () => {
    // The first turn's tool marks that it started (so its journal record is durable: the tool runs only
    // after it) and hangs; the kill lands while it runs.
    const cwd = setup([
      { tool_calls: [{ tool: "run_shell", input: { command: "touch started && sleep 5" } }] },
      { say: "finished after the crash" },
    ]);
    const child = spawn(
      process.execPath,
      [
        BIN,
        "run",
        "wait",
        "--model",
        "scripted:script.json",
        "--workspace",
        "ws",
        "--sandbox",
        "none",
        "--no-audit",
        "--trust",
        "autonomous",
        "--json",
      ],
      { cwd, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.resume();
    await new Promise<void>((resolveStarted) => {
      const watcher = watch(join(cwd, "ws"), (_event, name) => {
        if (name !== "started") return;
        watcher.close();
        child.kill("SIGKILL");
        resolveStarted();
      });
    });
    await new Promise((r) => child.on("exit", r));
    // With --json the session id is in every event (the first line is session_started).
    const sessionId = (JSON.parse(stdout.split("\n")[0]!) as ReinEvent).sessionId;
    expect(sessionId).toMatch(/^ses_/);
    const resumed = rein(["sessions", "resume", sessionId, "--json", "--no-audit"], cwd);
    expect(resumed.code).toBe(0);
    const events = resumed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ReinEvent);
    expect(events.find((e) => e.type === "run_resumed")).toMatchObject({
      data: { calls: [{ tool: "run_shell", resolution: "outcome_unknown" }] },
    });
    expect(events.find((e) => e.type === "run_ended")).toMatchObject({
      data: { status: "completed", finalText: "finished after the crash" },
    });
  });

  it("an unknown session or approval id is an error with its code", () => {
    const cwd = setup([]);
    const s = rein(["sessions", "show", "ses_nope"], cwd);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("REIN_SESSION_NOT_FOUND");
    const a = rein(["approve", "apr_nope"], cwd);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("REIN_APPROVAL_NOT_FOUND");
  });
});
