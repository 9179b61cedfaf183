import { describe, expect, it } from "vitest";
import { createHarness, MemoryEventLog } from "../../src/index.js";
import { countingHistory, scriptedModel } from "../../src/testing.js";
import { echoTool, tempDir } from "../helpers.js";

/**
 * Structural guard for "a step costs the same at turn 2,000 as at turn 2": counts the history
 * elements read per step through a Proxy. A per-step copy, re-validation or re-scan of the history
 * (spread, map, structuredClone, JSON round-trip, for..of) reads O(history) elements and fails this.
 */
async function readsPerStep(calls: number): Promise<{ perStep: number; turns: number }> {
  const probe = countingHistory();
  const h = createHarness({
    model: scriptedModel({
      name: "probe",
      turns: [{ tool_calls: [{ tool: "echo", input: { text: "x" } }], repeat: calls }, { say: "done" }],
    }),
    tools: [echoTool],
    audit: { dir: tempDir() },
    eventLog: new MemoryEventLog(),
    limits: { maxTurns: calls + 1 },
  });
  const result = await h.session({ history: probe.history }).run("loop");
  expect(result.stopReason.type).toBe("completed");
  expect(result.toolCalls).toBe(calls);
  expect(result.messages).toBe(probe.history);
  return { perStep: probe.reads / result.turns, turns: result.turns };
}

describe("long sessions", () => {
  it("history elements read per step do not grow with the session (200 vs 2,000 tool calls)", async () => {
    const short = await readsPerStep(200);
    const long = await readsPerStep(2000);
    expect(long.turns).toBe(2001);
    // The loop reads the last message (and the scripted model the last message for branches): a constant.
    expect(short.perStep).toBeLessThan(4);
    expect(long.perStep).toBeLessThanOrEqual(short.perStep + 0.01);
  });

  it("the probe does count a per-step scan (it can fail)", () => {
    const probe = countingHistory();
    for (let i = 0; i < 100; i++) probe.history.push({ role: "user", content: [] });
    probe.reset();
    void [...probe.history];
    expect(probe.reads).toBe(100);
  });
});
