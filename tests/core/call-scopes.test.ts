import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CallScopes } from "../../src/core/call-scopes.js";
import type { AbortCause } from "../../src/protocol/abort.js";

const toolTimeout = (limitMs: number) => (): AbortCause => ({ kind: "timeout", scope: "tool", limitMs });

describe("CallScopes: one listener and one re-armed timer per limit for a run's calls", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sequential calls share one timer; each call's limit is measured from its own start", () => {
    const run = new AbortController();
    const scopes = new CallScopes(run.signal);
    for (let i = 0; i < 100; i++) {
      const s = scopes.open(1_000, toolTimeout(1_000));
      vi.advanceTimersByTime(600);
      s.dispose();
    }
    // 100 calls, 60 s in all, each under its limit: none aborted, one timer in all.
    expect(vi.getTimerCount()).toBe(1);
    const slow = scopes.open(1_000, toolTimeout(1_000));
    vi.advanceTimersByTime(999);
    expect(slow.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(slow.signal.aborted).toBe(true);
    expect(slow.signal.reason).toEqual({ kind: "timeout", scope: "tool", limitMs: 1_000 });
    slow.dispose();
    scopes.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a call that starts while another with the same limit runs gets its own deadline", () => {
    const run = new AbortController();
    const scopes = new CallScopes(run.signal);
    const a = scopes.open(1_000, toolTimeout(1_000));
    vi.advanceTimersByTime(500);
    const b = scopes.open(1_000, toolTimeout(1_000));
    vi.advanceTimersByTime(500);
    expect([a.signal.aborted, b.signal.aborted]).toEqual([true, false]);
    vi.advanceTimersByTime(499);
    expect(b.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(b.signal.aborted).toBe(true);
    a.dispose();
    b.dispose();
    scopes.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("the run's abort reaches every live scope (and its waiter), not a disposed one; an idle timer aborts nothing", () => {
    const run = new AbortController();
    const scopes = new CallScopes(run.signal);
    const done = scopes.open(1_000, toolTimeout(1_000));
    done.dispose();
    // The shared timer fires with no call running: nothing happens.
    vi.advanceTimersByTime(5_000);
    expect(done.signal.aborted).toBe(false);
    const live = scopes.open(1_000, toolTimeout(1_000));
    const other = scopes.open(undefined, toolTimeout(0));
    let told = 0;
    live.onAbort = () => told++;
    run.abort({ kind: "cancelled", reason: "stop" } satisfies AbortCause);
    expect(live.signal.reason).toEqual({ kind: "cancelled", reason: "stop" });
    expect(other.signal.aborted).toBe(true);
    expect(done.signal.aborted).toBe(false);
    expect(told).toBe(1);
    // Opened after the run aborted: aborted at once, with the run's reason.
    expect(scopes.open(1_000, toolTimeout(1_000)).signal.reason).toEqual({
      kind: "cancelled",
      reason: "stop",
    });
    live.dispose();
    other.dispose();
    scopes.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("between calls the timer keeps no process alive; during a call it does", () => {
    vi.useRealTimers();
    const run = new AbortController();
    const scopes = new CallScopes(run.signal);
    const first = scopes.open(60_000, toolTimeout(60_000));
    first.dispose();
    const second = scopes.open(60_000, toolTimeout(60_000));
    const active = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    second.dispose();
    const idle = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    expect(active - idle).toBe(1);
    scopes.close();
  });
});
