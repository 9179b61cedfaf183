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

  it("keeps events by column and rebuilds each envelope on read: runs, a gap in seq and another version come back exact", () => {
    const log = new MemoryEventLog();
    const scope = { tenantId: "t", sessionId: "s" };
    const appended: ReinEvent[] = [
      { ...ev(1), runId: "run_a", ts: 1_796_000_000_001 },
      { ...ev(2), runId: "run_a", ts: 1_796_000_000_002.5 },
      { ...ev(3), runId: "run_b", ts: 1_796_000_000_003 },
      // a gap: from here on each seq is stored
      { ...ev(7), runId: "run_b", ts: 1_796_000_000_004 },
      { ...ev(8), runId: "run_a", ts: 1_796_000_000_005 },
      // another envelope version: from here on each v is stored
      { ...ev(9), v: 2 as 1, runId: "run_c", ts: 1_796_000_000_006 },
      { ...ev(12), runId: "run_c", ts: 1_796_000_000_007 },
    ];
    for (const e of appended) log.append(e);
    expect(log.read(scope, 0)).toEqual(appended);
    expect(log.lastSeq(scope)).toBe(12);
    // Every starting point and limit: the run of the first event returned is found, not assumed.
    for (let after = 0; after <= 13; after++) {
      const expected = appended.filter((e) => e.seq > after);
      expect(log.read(scope, after), `after ${after}`).toEqual(expected);
      for (const limit of [0, 1, 2, 3]) {
        expect(log.read(scope, after, limit), `after ${after} limit ${limit}`).toEqual(
          expected.slice(0, limit),
        );
      }
    }
    // Still refuses a seq that does not move forward once the seqs are stored.
    expect(() => log.append({ ...ev(12), runId: "run_c" })).toThrow(/seq 12 is not after 12/);
  });

  it("keeps each event's type with its ts: every type and ts comes back exact, across runs' ends and a ts that is not whole milliseconds", () => {
    const log = new MemoryEventLog();
    const scope = { tenantId: "t", sessionId: "s" };
    const at = (seq: number, type: string, ts: number, runId: string): ReinEvent =>
      ({ ...ev(seq), type, ts, runId, data: { n: seq } }) as unknown as ReinEvent;
    const types = [
      "run_started",
      "model_call_started",
      "model_call_finished",
      "tool_call_requested",
      "run_ended",
    ];
    const appended: ReinEvent[] = [];
    let seq = 0;
    // Two runs of packed events (each run's end trims the columns), the largest and smallest ts packed.
    for (const runId of ["run_a", "run_b"])
      for (const type of types) appended.push(at(++seq, type, seq === 1 ? 0 : 2 ** 47 - seq, runId));
    for (const e of appended) log.append(e);
    expect(log.read(scope, 0)).toEqual(appended);
    // A ts that cannot be packed (not whole milliseconds, then beyond 2^47): the earlier events keep theirs.
    for (const ts of [1_796_000_000_000.5, 2 ** 48, 7])
      appended.push(at(++seq, "limit_warning", ts, "run_c"));
    for (const e of appended.slice(-3)) log.append(e);
    appended.push(at(++seq, "run_ended", 8, "run_c"));
    log.append(appended.at(-1)!);
    expect(log.read(scope, 0)).toEqual(appended);
    expect(log.read(scope, 4, 3)).toEqual(appended.slice(4, 7));
    expect(log.lastSeq(scope)).toBe(seq);
  });

  it("read returns the data as appended, by reference (the log copies no event data)", () => {
    const log = new MemoryEventLog();
    const event = ev(1);
    log.append(event);
    const [read] = log.read({ tenantId: "t", sessionId: "s" }, 0);
    expect(read).toEqual(event);
    expect(read!.data).toBe(event.data);
  });

  it("a closed session appended to again is not dropped while others close", () => {
    const log = new MemoryEventLog({ retainClosedSessions: 1 });
    const a = { tenantId: "t", sessionId: "a" };
    log.append(ev(1, "a"));
    log.sessionClosed(a);
    // Appended to again right away (the last stream the log saw, as a resumed session's is).
    log.append(ev(2, "a"));
    for (const id of ["b", "c"]) {
      log.append(ev(1, id));
      log.sessionClosed({ tenantId: "t", sessionId: id });
    }
    expect(log.read(a, 0).map((e) => e.seq)).toEqual([1, 2]);
    expect(log.read({ tenantId: "t", sessionId: "b" }, 0)).toEqual([]); // dropped
    expect(log.lastSeq({ tenantId: "t", sessionId: "c" })).toBe(1);
    // Events of interleaved sessions land in their own streams.
    for (let seq = 3; seq <= 6; seq++)
      for (const id of ["a", "c"]) log.append(ev(seq === 3 && id === "c" ? 2 : seq, id));
    expect(log.read(a, 0).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log.read({ tenantId: "t", sessionId: "c" }, 0).map((e) => e.seq)).toEqual([1, 2, 4, 5, 6]);
  });

  it("a session closed while tailed: once its subscriber leaves, later appends reach no one and read back whole", () => {
    const log = new MemoryEventLog({ retainClosedSessions: 5 });
    const a = { tenantId: "t", sessionId: "a" };
    const seen: number[] = [];
    const stop = log.subscribe(a, (e) => seen.push(e.seq));
    log.sessionClosed(a);
    stop();
    // Appended again later: a new stream, delivered to no one, read back whole.
    log.append(ev(1, "a"));
    expect(seen).toEqual([]);
    expect(log.read(a, 0).map((e) => e.seq)).toEqual([1]);
  });

  it("sessions of other sizes than the last first run read back exact: columns grown past their first size, runs ended, events unpacked", () => {
    const log = new MemoryEventLog();
    const at = (sessionId: string, seq: number, type: string, runId: string, ts = 1_796_000_000_000 + seq) =>
      ({ ...ev(seq, sessionId), type, runId, ts, data: { seq, sessionId } }) as unknown as ReinEvent;
    const appended = new Map<string, ReinEvent[]>();
    const add = (e: ReinEvent) => {
      log.append(e);
      appended.set(e.sessionId, [...(appended.get(e.sessionId) ?? []), e]);
    };
    /** A run of `events` events (the last one `run_ended`) of session `id`, after its last seq. */
    const run = (id: string, runId: string, events: number) => {
      const from = appended.get(id)?.length ?? 0;
      for (let k = 1; k <= events; k++)
        add(at(id, from + k, k === events ? "run_ended" : "text_delta", runId));
    };
    run("a", "r1", 40); // the next sessions' columns start with 41 slots
    run("b", "r1", 3); // far fewer: trimmed at the run's end
    run("c", "r1", 200); // grown several times past its first size
    run("a", "r2", 90); // a second run, past the first one's columns
    // Interleaved sessions, one of them unpacked (a ts that is not whole milliseconds) mid-run.
    for (let k = 1; k <= 30; k++) {
      for (const id of ["b", "d"]) {
        const seq = (appended.get(id)?.length ?? 0) + 1;
        add(
          at(
            id,
            seq,
            k === 30 ? "run_ended" : "text_delta",
            "r9",
            id === "d" && k === 7 ? 1.5 : 1_796_000_000_000 + seq,
          ),
        );
      }
    }
    run("d", "r10", 2);
    for (const [id, events] of appended) {
      const scope = { tenantId: "t", sessionId: id };
      expect(log.read(scope, 0), id).toEqual(events);
      expect(log.lastSeq(scope), id).toBe(events.length);
      expect(log.read(scope, events.length - 5, 3), id).toEqual(events.slice(-5, -2));
    }
  });
});
