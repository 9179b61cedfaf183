import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { ReinEvent } from "../../src/index.js";
import { tempDir } from "../helpers.js";

const BIN = join(resolve(import.meta.dirname, "../.."), "bin/rein.js");

function rein(args: string[], cwd = tempDir()) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function script(turns: unknown[]): string {
  const file = join(tempDir(), "script.json");
  writeFileSync(file, JSON.stringify({ name: "cli", turns }));
  return file;
}

const loop = (usage?: object) =>
  script([
    {
      tool_calls: [{ tool: "list_directory", input: { path: "." } }],
      repeat: 20,
      ...(usage ? { usage } : {}),
    },
    { say: "done" },
  ]);

describe("rein run guard flags", () => {
  it("--stall-window: a looping agent gets a warning, then stops `stalled`; the live view and summary say why", () => {
    const r = rein([
      "run",
      "look around",
      "--model",
      `scripted:${loop()}`,
      "--workspace",
      tempDir(),
      "--stall-window",
      "4",
      "--no-audit",
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(
      '! stall: the same call list_directory {"path":"."} repeated 4 times with the same results',
    );
    expect(r.stdout).toContain(
      'stop: stalled (the same call list_directory {"path":"."} repeated 6 times with the same results)',
    );
    expect(r.stdout).toMatch(/turns 6 · tool calls 6/);
  });

  it("the stall detector is on by default in rein run (window 6)", () => {
    const r = rein([
      "run",
      "look around",
      "--model",
      `scripted:${loop()}`,
      "--workspace",
      tempDir(),
      "--json",
      "--no-audit",
    ]);
    expect(r.code).toBe(3);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ReinEvent);
    expect(events.find((e) => e.type === "stall_warning")?.data).toMatchObject({ turn: 6, kind: "cycle" });
    const end = events.find((e) => e.type === "run_ended");
    expect(end?.type === "run_ended" && end.data.stopReason.type).toBe("stalled");
  });

  it("--max-tokens 2k stops the run before the call that could cross it, and the summary shows the budget used", () => {
    const file = script([
      {
        tool_calls: [{ tool: "list_directory", input: { path: "." } }],
        usage: { input_tokens: 100, output_tokens: 50 },
      },
      {
        tool_calls: [{ tool: "read_file", input: { path: "nothing.txt" } }],
        usage: { input_tokens: 100, output_tokens: 50 },
      },
      { say: "done", usage: { input_tokens: 100, output_tokens: 50 } },
    ]);
    const r = rein([
      "run",
      "look",
      "--model",
      `scripted:${file}`,
      "--workspace",
      tempDir(),
      "--max-tokens",
      "2k",
      "--no-audit",
    ]);
    // The worst case of a call is maxTokens (4096) of output: more than 2k, so even the first call is refused.
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(
      /stop: cost_ceiling \(model call 1 was refused before it was made: 0 spent \+ 0 reserved \+ \d+ worst case would cross the run budget's 2000-token ceiling\)/,
    );
    expect(r.stdout).toContain("budget: 0 of 2000 tokens (0%)");
    expect(r.stdout).not.toContain("── turn 1");
  });

  it("--max-cost is shown in the summary; a scripted model costs nothing, so the run completes", () => {
    const r = rein([
      "run",
      "look",
      "--model",
      `scripted:${script([{ say: "done" }])}`,
      "--workspace",
      tempDir(),
      "--max-cost",
      "0.50",
      "--no-audit",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("budget: $0.0000 of $0.5 (0%)");
  });

  it("limits and guards come from rein.config.yaml too; flags override the file", () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "rein.config.yaml"),
      "limits:\n  maxTurns: 40\nguards:\n  stall:\n    window: 4\n    graceCalls: 1\n",
    );
    const fromFile = rein(
      ["run", "look", "--model", `scripted:${loop()}`, "--workspace", tempDir(), "--no-audit"],
      dir,
    );
    expect(fromFile.code).toBe(3);
    expect(fromFile.stdout).toContain("repeated 4 times with the same results");
    expect(fromFile.stdout).toMatch(/stop: stalled \(the same call list_directory .* repeated 5 times/);
    const flag = rein(
      [
        "run",
        "look",
        "--model",
        `scripted:${loop()}`,
        "--workspace",
        tempDir(),
        "--no-audit",
        "--stall-window",
        "6",
      ],
      dir,
    );
    expect(flag.stdout).toMatch(/stop: stalled \(the same call list_directory .* repeated 7 times/);

    writeFileSync(join(dir, "rein.config.yaml"), "guards:\n  stall:\n    window: 1\n");
    const bad = rein(
      ["run", "look", "--model", `scripted:${loop()}`, "--workspace", tempDir(), "--no-audit"],
      dir,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/rein\.config\.yaml:3: guards\.stall\.window/);
  });

  it("bad guard flags are refused with the reason", () => {
    const a = rein(["run", "x", "--max-cost", "lots"]);
    expect(a.code).toBe(2); // a usage error
    expect(a.stderr).toContain('--max-cost must be a positive amount of USD (e.g. 0.50), got "lots"');
    const b = rein(["run", "x", "--max-tokens", "0"]);
    expect(b.stderr).toContain(
      '--max-tokens must be a positive whole number of tokens (e.g. 200000, 200k or 1.5m), got "0"',
    );
    const c = rein(["run", "x", "--stall-window", "1"]);
    expect(c.stderr).toContain('--stall-window must be an integer from 2 to 64, got "1"');
  });
});

describe("live view of guard events", () => {
  it("shows budget warnings, breaker changes and guard stops with their diagnostic", async () => {
    const { LiveView } = await import("../../src/cli/live-view.js");
    const { Writable } = await import("node:stream");
    let out = "";
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += String(chunk);
        done();
      },
    });
    const view = new LiveView(sink);
    const envelope = { v: 1, seq: 1, sessionId: "s", runId: "r", tenantId: "local", ts: 0 } as const;
    view.handle({
      ...envelope,
      type: "budget_warning",
      data: {
        budget: "run",
        fraction: 0.5,
        spentUsd: 0.26,
        limitUsd: 0.5,
        spentTokens: 10,
        limitTokens: null,
      },
    });
    view.handle({
      ...envelope,
      type: "circuit_changed",
      data: {
        circuit: "fetch",
        from: "closed",
        to: "open",
        failures: 5,
        reason: "5 failures within 60000 ms",
        shared: false,
      },
    });
    const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
    view.summary(
      {
        stopReason: { type: "circuit_open", circuit: "fetch" },
        status: "incomplete",
        turns: 3,
        toolCalls: 3,
        usage,
        costUsd: 0.3,
        durationMs: 10,
      } as never,
      undefined,
      { maxCostUsd: 0.5, maxTokens: 1000 },
    );
    expect(out).toContain("! budget run: 50% used ($0.2600 of $0.5)");
    expect(out).toContain("! circuit fetch: closed → open (5 failures within 60000 ms)");
    expect(out).toContain("stop: circuit_open (circuit of tool fetch is open)");
    expect(out).toContain("budget: $0.3000 of $0.5 (60%) · 15 of 1000 tokens (2%)");
  });
});
