import { describe, expect, it, vi } from "vitest";
import { parseDuration } from "../../src/cli/duration.js";
import { scopedSignal } from "../../src/protocol/abort.js";

describe("scopedSignal", () => {
  it("aborts with the parent's reason, or its own timeout cause", async () => {
    const parent = new AbortController();
    const child = scopedSignal(parent.signal, 10_000);
    parent.abort({ kind: "cancelled", reason: "stop" });
    expect(child.signal.reason).toEqual({ kind: "cancelled", reason: "stop" });
    child.dispose();

    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const timed = scopedSignal(new AbortController().signal, 5, () => ({
        kind: "timeout",
        scope: "model_call",
        limitMs: 5,
      }));
      vi.advanceTimersByTime(4);
      expect(timed.signal.aborted).toBe(false);
      vi.advanceTimersByTime(1);
      expect(timed.signal.reason).toEqual({ kind: "timeout", scope: "model_call", limitMs: 5 });
      timed.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it("dispose() leaves no timer behind and detaches from the parent", () => {
    const parent = new AbortController();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const scopes = Array.from({ length: 100 }, () => scopedSignal(parent.signal, 60_000));
    expect(timers()).toBe(before + 100);
    for (const s of scopes) s.dispose();
    expect(timers()).toBe(before);
    parent.abort("late");
    expect(scopes.every((s) => !s.signal.aborted)).toBe(true);
  });
});

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["1.5m", 90_000],
    ["2h", 7_200_000],
    ["45", 45_000],
  ])("%s is %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "soon", "-5s", "0", "5d", "1e3"])("refuses %j", (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});
