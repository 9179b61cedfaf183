/**
 * The EventLog contract (src/state/event-log.ts). Run it on every implementation:
 *
 * ```ts
 * import { eventLogContract } from "rein/testing";
 * eventLogContract({ name: "SqliteEventLog", create: () => new SqliteEventLog(tempFile()) });
 * ```
 */
import { expect } from "vitest";
import { EVENT_VERSION, type ReinEvent } from "../protocol/events.js";
import type { EventLog, LogScope } from "../state/event-log.js";
import { type ContractCheck, type Factory, registerContract } from "./contract.js";

export interface EventLogContractOptions {
  /** Names the suite: `EventLog contract: <name>`. */
  readonly name: string;
  /** A fresh, empty log; called once per check. */
  readonly create: Factory<EventLog>;
  /** Called after each check with the log it used (close files, connections). */
  readonly dispose?: (log: EventLog) => void | Promise<void>;
}

/** Registers the EventLog contract's checks as vitest tests. */
export function eventLogContract(options: EventLogContractOptions): void {
  registerContract(`EventLog contract: ${options.name}`, eventLogChecks(options));
}

/** An event of `scope` with this `seq`; `turn` doubles as a payload to tell events apart. */
export function contractEvent(scope: LogScope, seq: number, runId = "run_1"): ReinEvent {
  return {
    v: EVENT_VERSION,
    seq,
    sessionId: scope.sessionId,
    tenantId: scope.tenantId,
    runId,
    ts: 1_700_000_000_000 + seq,
    type: "text_delta",
    data: { turn: seq, delta: `${scope.tenantId}/${scope.sessionId}#${seq}` },
  };
}

const A: LogScope = { tenantId: "tenant-a", sessionId: "session-1" };
const B: LogScope = { tenantId: "tenant-b", sessionId: "session-1" };

const seqs = (events: readonly ReinEvent[]) => events.map((e) => e.seq);
const append = (log: EventLog, scope: LogScope, ...seq: number[]) => {
  for (const s of seq) log.append(contractEvent(scope, s));
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The EventLog contract as named checks (see `ContractCheck`). */
export function eventLogChecks(options: EventLogContractOptions): ContractCheck[] {
  const check = (name: string, body: (log: EventLog) => void | Promise<void>): ContractCheck => ({
    name,
    async run() {
      const log = await options.create();
      try {
        await body(log);
        await log.flush();
      } finally {
        await options.dispose?.(log);
      }
    },
  });

  return [
    check("an unknown session reads as empty, with lastSeq 0", (log) => {
      expect(log.read(A, 0)).toEqual([]);
      expect(log.lastSeq(A)).toBe(0);
    }),

    check("read returns the appended events, in order, with their envelope and data intact", (log) => {
      append(log, A, ...range(1, 5));
      const events = log.read(A, 0);
      expect(events).toEqual(range(1, 5).map((s) => contractEvent(A, s)));
      expect(log.lastSeq(A)).toBe(5);
    }),

    check("read after seq N returns exactly the later events, in order, for every N", (log) => {
      append(log, A, ...range(1, 12));
      for (let n = 0; n <= 14; n++) {
        expect(seqs(log.read(A, n)), `read after ${n}`).toEqual(range(n + 1, 12));
      }
    }),

    check("keeps the seq it was given: gaps are allowed and read after a gap is exact", (log) => {
      append(log, A, 3, 4, 10, 11, 40);
      expect(seqs(log.read(A, 0))).toEqual([3, 4, 10, 11, 40]);
      expect(seqs(log.read(A, 5))).toEqual([10, 11, 40]);
      expect(seqs(log.read(A, 10))).toEqual([11, 40]);
      expect(log.lastSeq(A)).toBe(40);
    }),

    check("a limit returns the first events after seq N; pages concatenate to the whole log", (log) => {
      append(log, A, ...range(1, 10));
      expect(seqs(log.read(A, 3, 2))).toEqual([4, 5]);
      expect(seqs(log.read(A, 8, 5))).toEqual([9, 10]);
      expect(log.read(A, 0, 0)).toEqual([]);
      const paged: number[] = [];
      for (let after = 0; ; ) {
        const page = log.read(A, after, 3);
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(3);
        paged.push(...seqs(page));
        after = page.at(-1)!.seq;
      }
      expect(paged).toEqual(range(1, 10));
    }),

    check("each session has its own seq line: sessions of one tenant do not mix", (log) => {
      const other: LogScope = { tenantId: A.tenantId, sessionId: "session-2" };
      append(log, A, 1, 2, 3);
      append(log, other, 1, 2);
      append(log, A, 4);
      expect(log.read(A, 0).map((e) => e.data)).toEqual(range(1, 4).map((s) => contractEvent(A, s).data));
      expect(log.read(other, 0).map((e) => e.sessionId)).toEqual(["session-2", "session-2"]);
      expect(log.lastSeq(A)).toBe(4);
      expect(log.lastSeq(other)).toBe(2);
    }),

    check("tenant isolation: tenant A never sees tenant B's events for the same session id", (log) => {
      append(log, A, 1, 2);
      append(log, B, 1, 2, 3);
      expect(log.read(A, 0).every((e) => e.tenantId === A.tenantId)).toBe(true);
      expect(log.read(A, 0)).toEqual([contractEvent(A, 1), contractEvent(A, 2)]);
      expect(log.read(B, 0).every((e) => e.tenantId === B.tenantId)).toBe(true);
      expect(log.lastSeq(A)).toBe(2);
      expect(log.lastSeq(B)).toBe(3);
      expect(log.read({ tenantId: "tenant-c", sessionId: A.sessionId }, 0)).toEqual([]);
      // B's seq line is its own: A may append 3 although B already has 3.
      append(log, A, 3);
      expect(seqs(log.read(A, 0))).toEqual([1, 2, 3]);
    }),

    check("tenant isolation holds for ids built to collide when joined with a separator", (log) => {
      // A store that keys by `tenant + sep + session` maps each pair to one key. A store may refuse
      // such ids (a throw), but what it accepts it must keep apart.
      const pairs: LogScope[] = [
        { tenantId: "a", sessionId: "b\u0000c" },
        { tenantId: "a\u0000b", sessionId: "c" },
        { tenantId: "a", sessionId: "b:c" },
        { tenantId: "a:b", sessionId: "c" },
        { tenantId: "a", sessionId: "b/c" },
        { tenantId: "a/b", sessionId: "c" },
      ];
      // Distinct seqs, so a store that merges two of them cannot hide it behind a seq refusal.
      const accepted = pairs.flatMap((scope, i) => {
        try {
          append(log, scope, i + 1);
          return [{ scope, seq: i + 1 }];
        } catch {
          return [];
        }
      });
      for (const { scope, seq } of accepted) {
        expect(log.read(scope, 0), JSON.stringify(scope)).toEqual([contractEvent(scope, seq)]);
      }
    }),

    check(
      "a subscriber sees exactly the later appends of its scope, in order, until it unsubscribes",
      (log) => {
        append(log, A, 1, 2);
        const seen: ReinEvent[] = [];
        const off = log.subscribe(A, (e) => seen.push(e));
        append(log, B, 3);
        append(log, { tenantId: A.tenantId, sessionId: "session-2" }, 3);
        append(log, A, 3, 4, 5);
        off();
        append(log, A, 6);
        expect(seen).toEqual([3, 4, 5].map((s) => contractEvent(A, s)));
      },
    ),

    check("a reader that starts after seq N sees exactly what a live subscriber saw", (log) => {
      append(log, A, ...range(1, 4));
      const live: ReinEvent[] = [];
      const n = log.lastSeq(A);
      const off = log.subscribe(A, (e) => live.push(e));
      append(log, A, ...range(5, 9));
      off();
      expect(log.read(A, n)).toEqual(live);
    }),

    check(
      "subscribers are independent; one that subscribes during delivery sees only later events",
      (log) => {
        const first: number[] = [];
        const late: number[] = [];
        let offLate: (() => void) | undefined;
        const offFirst = log.subscribe(A, (e) => {
          first.push(e.seq);
          offLate ??= log.subscribe(A, (l) => late.push(l.seq));
        });
        append(log, A, 1, 2, 3);
        offFirst();
        offLate?.();
        expect(first).toEqual([1, 2, 3]);
        expect(late).toEqual([2, 3]);
      },
    ),

    check("refuses a seq that does not move forward, and stores nothing", (log) => {
      append(log, A, 1, 2, 3);
      expect(() => log.append(contractEvent(A, 3))).toThrow();
      expect(() => log.append(contractEvent(A, 2))).toThrow();
      expect(seqs(log.read(A, 0))).toEqual([1, 2, 3]);
      expect(log.lastSeq(A)).toBe(3);
    }),

    check("refuses a seq that is not a positive integer, and stores nothing", (log) => {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "4" as unknown as number]) {
        expect(() => log.append({ ...contractEvent(A, 1), seq: bad }), `seq ${String(bad)}`).toThrow();
      }
      expect(log.read(A, 0)).toEqual([]);
      expect(log.lastSeq(A)).toBe(0);
    }),

    check("refuses an event without a tenant or session id", (log) => {
      for (const bad of [
        { tenantId: "", sessionId: "s" },
        { tenantId: "t", sessionId: "" },
        { tenantId: undefined, sessionId: "s" },
        { tenantId: "t", sessionId: 7 },
      ]) {
        const event = { ...contractEvent(A, 1), ...bad } as unknown as ReinEvent;
        expect(() => log.append(event), JSON.stringify(bad)).toThrow();
      }
      expect(log.read(A, 0)).toEqual([]);
    }),

    check("refuses a read with a negative or fractional afterSeq or limit", (log) => {
      append(log, A, 1, 2);
      for (const after of [-1, 0.5, Number.NaN]) {
        expect(() => log.read(A, after), `afterSeq ${after}`).toThrow();
      }
      for (const limit of [-1, 1.5, Number.NaN])
        expect(() => log.read(A, 0, limit), `limit ${limit}`).toThrow();
    }),

    check("what read returns is a copy: changing it does not change the log", (log) => {
      append(log, A, 1, 2);
      const events = log.read(A, 0) as ReinEvent[];
      events.pop();
      events.push(contractEvent(A, 99));
      expect(seqs(log.read(A, 0))).toEqual([1, 2]);
    }),

    check("flush resolves, and the log reads the same after it", async (log) => {
      append(log, A, 1, 2, 3);
      await log.flush();
      expect(seqs(log.read(A, 0))).toEqual([1, 2, 3]);
    }),
  ];
}
