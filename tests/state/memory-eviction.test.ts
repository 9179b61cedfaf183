import { describe, expect, it } from "vitest";
import { createHarness, MemoryEventLog, MemoryLedger } from "../../src/index.js";
import { scriptedModel } from "../../src/testing.js";

function harness(eventLog: MemoryEventLog, ledger: MemoryLedger) {
  return createHarness({
    model: scriptedModel({
      name: "evict",
      turns: [{ say: "hi", usage: { input_tokens: 10, output_tokens: 2 } }],
    }),
    eventLog,
    ledger,
    audit: false,
    pricing: { onUnknown: "zero" },
  });
}

describe("memory stores forget closed sessions beyond a bound", () => {
  it("close() hands the session to the stores, which keep only the last retainClosedSessions closed ones", async () => {
    const log = new MemoryEventLog({ retainClosedSessions: 2 });
    const ledger = new MemoryLedger({ retainClosedSessions: 2 });
    const h = harness(log, ledger);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const s = h.session();
      ids.push(s.id);
      await s.run("go");
      await s.close();
    }
    const kept = ids.map((sessionId) => log.read({ tenantId: "local", sessionId }, 0).length > 0);
    expect(kept).toEqual([false, false, true, true]);
    const calls = ids.map((sessionId) => ledger.totals({ tenantId: "local", sessionId }).calls);
    expect(calls).toEqual([0, 0, 1, 1]);
    // The tenant's totals still count every session's spend.
    expect(ledger.totals({ tenantId: "local" }).calls).toBe(4);
  });

  it("an open session is never dropped, however many others close", async () => {
    const log = new MemoryEventLog({ retainClosedSessions: 0 });
    const h = harness(log, new MemoryLedger({ retainClosedSessions: 0 }));
    const open = h.session();
    await open.run("go");
    for (let i = 0; i < 3; i++) {
      const s = h.session();
      await s.run("go");
      await s.close();
      expect(log.read({ tenantId: "local", sessionId: s.id }, 0)).toEqual([]);
    }
    expect(log.read({ tenantId: "local", sessionId: open.id }, 0).length).toBeGreaterThan(0);
  });

  it("rejects a retainClosedSessions that is not an integer >= 0", () => {
    expect(() => new MemoryEventLog({ retainClosedSessions: -1 })).toThrow(/retainClosedSessions/);
    expect(() => new MemoryLedger({ retainClosedSessions: 1.5 })).toThrow(/retainClosedSessions/);
  });
});
