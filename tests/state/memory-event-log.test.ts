import { describe, expect, it } from "vitest";
import { MemoryEventLog, type ReinEvent } from "../../src/index.js";

const ev = (seq: number, sessionId = "s"): ReinEvent => ({
  v: 1,
  seq,
  sessionId,
  runId: "r",
  tenantId: "t",
  ts: 0,
  type: "limit_warning",
  data: { limit: "max_turns", turn: seq, max: 10 },
});

describe("MemoryEventLog", () => {
  it("reads after any seq, with a limit, per tenant and session", () => {
    const log = new MemoryEventLog();
    for (let i = 1; i <= 10; i++) log.append(ev(i));
    log.append(ev(1, "other"));
    const scope = { tenantId: "t", sessionId: "s" };
    expect(log.read(scope, 0).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(log.read(scope, 7).map((e) => e.seq)).toEqual([8, 9, 10]);
    expect(log.read(scope, 3, 2).map((e) => e.seq)).toEqual([4, 5]);
    expect(log.read(scope, 10)).toEqual([]);
    expect(log.lastSeq(scope)).toBe(10);
    expect(log.lastSeq({ tenantId: "t", sessionId: "other" })).toBe(1);
    expect(log.lastSeq({ tenantId: "x", sessionId: "s" })).toBe(0);
  });

  it("refuses a seq that does not move forward", () => {
    const log = new MemoryEventLog();
    log.append(ev(5));
    expect(() => log.append(ev(5))).toThrow(/seq 5 is not after 5/);
  });

  it("tails: subscribers see later appends until they unsubscribe", () => {
    const log = new MemoryEventLog();
    const seen: number[] = [];
    const off = log.subscribe({ tenantId: "t", sessionId: "s" }, (e) => seen.push(e.seq));
    log.append(ev(1));
    log.append(ev(2));
    off();
    log.append(ev(3));
    expect(seen).toEqual([1, 2]);
  });
});
