import { EventLogError } from "../protocol/errors.js";
import { EVENT_VERSION, type EventType, type ReinEvent } from "../protocol/events.js";
import type { EventLog, LogScope } from "./event-log.js";
import { checkNextSeq, checkReadBounds, checkScope } from "./log-checks.js";

type Listener = (event: ReinEvent) => void;

/**
 * One session's events, kept by column rather than as event objects: an idle session holds its
 * events for as long as it lives, and the envelope of each (`v`, `seq`, the ids, `ts`, `type`) is
 * worth more than most events' data. Each event costs two slots: its `ts` and its type's code in
 * one double (`ts * TYPE_CODES + code`, unboxed in a double array) and its `data` by reference. The
 * ids are the stream's, `seq` is implied while the seqs have no gap, `v` while every event has the
 * same, and runs are kept as ranges. `read` builds the envelopes again (equal to what was
 * appended, not the same objects). An event whose `ts` is not a whole number of milliseconds (or
 * a type past the codes) turns the stream to a column of types and one of plain `ts`.
 */
interface Stream {
  readonly tenantId: string;
  readonly sessionId: string;
  /** seq of the first event: event i has seq `firstSeq + i` while `seqs` is undefined. */
  firstSeq: number;
  /** Every event's seq, made when one leaves a gap. */
  seqs: number[] | undefined;
  /**
   * Events stored: the first `n` slots of `ts` and `data`. Those two columns are made with room for
   * more (the same number of slots each, past `n` unused): the first with as many as the log's last
   * first run took (see `MemoryEventLog#firstRun`), so a session like the ones before it fills its
   * columns exactly, with no growth and no copy to trim them at its run's end.
   */
  n: number;
  /** `ts * TYPE_CODES + code` per event while `types` is undefined; else each event's `ts`. */
  ts: number[];
  /** Every event's type, made when one cannot be packed with its `ts`. */
  types: EventType[] | undefined;
  data: unknown[];
  /** The envelope version of every event while they all have the same (else `vs`). */
  v: number;
  vs: number[] | undefined;
  /**
   * Run k's id, from event `runStarts[k]` on: made with the first event, copied to one more slot
   * when a run starts (a run's first event; exact sizes, where a push leaves room for 17).
   */
  runIds: readonly string[];
  runStarts: readonly number[];
  /** Replaced, never mutated, on (un)subscribe: an append delivers to the listeners it started with. */
  listeners: readonly Listener[];
  /** Among the closed sessions kept (`#closed`): an append takes it out again. */
  closed: boolean;
}

function newStream(scope: LogScope): Stream {
  return {
    tenantId: scope.tenantId,
    sessionId: scope.sessionId,
    firstSeq: 0,
    seqs: undefined,
    n: 0,
    ts: NO_SLOTS as unknown as number[],
    types: undefined,
    data: NO_SLOTS as unknown as unknown[],
    v: EVENT_VERSION,
    vs: undefined,
    runIds: NO_RUNS,
    runStarts: FIRST_RUN,
    listeners: NO_LISTENERS,
    closed: false,
  };
}

const NO_RUNS: readonly string[] = Object.freeze([]);
/** The columns of a stream with no event: never written (the first event makes the columns). */
const NO_SLOTS: readonly never[] = Object.freeze([]);

/**
 * Slots of a double column are sliced from this one: a slice of a double array is a double array
 * from the start, where an array made empty turns to doubles with its first double (made again).
 */
const DOUBLES: readonly number[] = new Array<number>(256).fill(0.5);

/** A copy of the first `n` slots of each column, in columns of `capacity` slots. */
function grow(s: Stream, capacity: number): void {
  const n = s.n;
  const ts = capacity <= DOUBLES.length ? DOUBLES.slice(0, capacity) : new Array<number>(capacity).fill(0.5);
  const data = new Array<unknown>(capacity);
  for (let k = 0; k < n; k++) {
    ts[k] = s.ts[k]!;
    data[k] = s.data[k];
  }
  s.ts = ts;
  s.data = data;
}
/** Every stream's first run starts at its first event. */
const FIRST_RUN: readonly number[] = Object.freeze([0]);

/**
 * Event types by code, in the order this process first stored them (there are ~30). A `ts` up to
 * MAX_PACKED_TS (the year 6429) times TYPE_CODES plus a code stays an exact double (below 2^53).
 */
const TYPE_CODES = 64;
/** The most slots a new stream's columns start with. */
const MAX_FIRST_RUN = 128;
const MAX_PACKED_TS = 2 ** 47 - 1;
const typeNames: EventType[] = [];
const typeCodes = new Map<EventType, number>();

/** The code of `type`, assigned at first sight; -1 once all codes are taken. */
function codeOf(type: EventType): number {
  const known = typeCodes.get(type);
  if (known !== undefined) return known;
  if (typeNames.length >= TYPE_CODES) return -1;
  typeCodes.set(type, typeNames.length);
  return typeNames.push(type) - 1;
}

/** Event `i`'s `ts`. */
function tsAt(s: Stream, i: number): number {
  return s.types === undefined ? Math.floor(s.ts[i]! / TYPE_CODES) : s.ts[i]!;
}

/** Event `i`'s type. */
function typeAt(s: Stream, i: number): EventType {
  return s.types === undefined ? typeNames[s.ts[i]! % TYPE_CODES]! : s.types[i]!;
}

/** The stream's `ts` and types, unpacked into two columns (for an event that cannot be packed). */
function unpack(s: Stream): void {
  const n = s.n;
  const ts = s.ts.slice();
  const types = new Array<EventType>(n);
  for (let i = 0; i < n; i++) {
    ts[i] = tsAt(s, i);
    types[i] = typeAt(s, i);
  }
  s.ts = ts;
  s.types = types;
}

/** Most streams never have a listener: they share this empty list (`subscribe` replaces it). */
const NO_LISTENERS: readonly Listener[] = Object.freeze([]);

function lastSeqOf(s: Stream): number {
  const n = s.n;
  if (n === 0) return 0;
  return s.seqs === undefined ? s.firstSeq + n - 1 : s.seqs[n - 1]!;
}

/**
 * Stores `e` (its seq already checked) at the end of `s`; `firstCapacity` is the slots its columns
 * get with its first event.
 */
function store(s: Stream, e: ReinEvent, firstCapacity: number): void {
  const i = s.n;
  // Full (or no columns yet): grown by half plus 16, as a push would.
  if (i === s.data.length) grow(s, i === 0 ? firstCapacity : i + (i >> 1) + 16);
  if (i === 0) s.firstSeq = e.seq;
  else if (s.seqs === undefined && e.seq !== s.firstSeq + i) {
    const first = s.firstSeq;
    s.seqs = Array.from({ length: i }, (_, k) => first + k);
  }
  s.seqs?.push(e.seq);
  if (s.vs === undefined && e.v !== s.v) {
    if (i === 0) s.v = e.v;
    else s.vs = new Array<number>(i).fill(s.v);
  }
  s.vs?.push(e.v);
  if (i === 0) s.runIds = [e.runId];
  else if (s.runIds[s.runIds.length - 1] !== e.runId) {
    s.runIds = s.runIds.concat(e.runId);
    s.runStarts = s.runStarts.concat(i);
  }
  if (s.types === undefined) {
    const code = Number.isInteger(e.ts) && e.ts >= 0 && e.ts <= MAX_PACKED_TS ? codeOf(e.type) : -1;
    if (code >= 0) s.ts[i] = e.ts * TYPE_CODES + code;
    else unpack(s);
  }
  if (s.types !== undefined) {
    s.ts[i] = e.ts;
    s.types.push(e.type);
  }
  s.data[i] = e.data;
  s.n = i + 1;
  if (e.type === "run_ended" || e.type === "session_ended") trim(s);
}

/**
 * A run (or the session) ended: the session may now idle for long, holding its columns. Columns
 * with more than an eighth of their slots unused (they grew during the run) are copied to their
 * exact size; columns that fit (the usual case, see `Stream.n`) are left as they are, so a long
 * session is not copied whole at the end of each of its runs.
 */
function trim(s: Stream): void {
  const n = s.n;
  if (s.data.length - n > (n >> 3) + 2) {
    s.ts = s.ts.slice(0, n);
    s.data = s.data.slice(0, n);
  }
  // The rare columns grow by push: copied to their exact size.
  if (s.types !== undefined) s.types = s.types.slice();
  if (s.seqs !== undefined) s.seqs = s.seqs.slice();
  if (s.vs !== undefined) s.vs = s.vs.slice();
}

/** Index of the first event with seq > `afterSeq`. */
function firstAfter(s: Stream, afterSeq: number): number {
  const n = s.n;
  const seqs = s.seqs;
  if (seqs === undefined) return Math.min(n, Math.max(0, afterSeq - s.firstSeq + 1));
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seqs[mid]! <= afterSeq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Events `from` to `to` (exclusive) of `s`, as envelopes. */
function envelopes(s: Stream, from: number, to: number): ReinEvent[] {
  const out: ReinEvent[] = [];
  if (from >= to) return out;
  // The run of event `from`: the last run that starts at or before it.
  let run = 0;
  let lo = 0;
  let hi = s.runStarts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (s.runStarts[mid]! <= from) {
      run = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  let nextRun = s.runStarts[run + 1] ?? Number.POSITIVE_INFINITY;
  for (let i = from; i < to; i++) {
    if (i >= nextRun) {
      run++;
      nextRun = s.runStarts[run + 1] ?? Number.POSITIVE_INFINITY;
    }
    out.push({
      v: s.vs === undefined ? s.v : s.vs[i]!,
      seq: s.seqs === undefined ? s.firstSeq + i : s.seqs[i]!,
      sessionId: s.sessionId,
      runId: s.runIds[run]!,
      tenantId: s.tenantId,
      ts: tsAt(s, i),
      type: typeAt(s, i),
      data: s.data[i],
    } as ReinEvent);
  }
  return out;
}

export interface MemoryEventLogOptions {
  /**
   * Closed sessions whose events stay readable, most recent first (default 256). Older ones are
   * dropped (a session with a live subscriber is kept), so a long-lived process holds the events of
   * its open sessions and of the last few closed ones, not of every session it has served. A
   * dropped session reads as empty, and a new session with its id starts again at seq 1: keep
   * history that must outlive that in a durable event log.
   */
  readonly retainClosedSessions?: number;
}

/**
 * The in-process event log: columns per session (see `Stream`), O(1) append, reads by seq in O(log n)
 * plus what they return; closed sessions evicted. `read` returns new envelopes around the stored data.
 */
export class MemoryEventLog implements EventLog {
  /** tenant → session → stream. Nested rather than a joined key, so no pair of ids can collide. */
  readonly #tenants = new Map<string, Map<string, Stream>>();
  readonly #retain: number;
  /** Closed sessions' streams still kept, oldest first (insertion order). */
  readonly #closed = new Set<Stream>();

  constructor(options: MemoryEventLogOptions = {}) {
    const n = options.retainClosedSessions ?? 256;
    if (!Number.isInteger(n) || n < 0)
      throw new EventLogError(
        `MemoryEventLog: retainClosedSessions must be an integer >= 0, got ${String(options.retainClosedSessions)}`,
      );
    this.#retain = n;
  }

  /** The session closed: its events are kept among the last `retainClosedSessions` closed ones, then dropped. */
  sessionClosed(scope: LogScope): void {
    checkScope(scope, "sessionClosed");
    // A session with no stream (no event, no subscriber) leaves nothing to drop.
    const stream = this.#tenants.get(scope.tenantId)?.get(scope.sessionId);
    if (stream === undefined) return;
    this.#closed.delete(stream);
    this.#closed.add(stream);
    stream.closed = true;
    for (const s of this.#closed) {
      if (this.#closed.size <= this.#retain) break;
      this.#closed.delete(s);
      s.closed = false;
      if (s.listeners.length > 0) continue;
      this.#drop(s);
    }
  }

  /** Forgets `s` (if it is still the stream of its session). */
  #drop(s: Stream): void {
    const sessions = this.#tenants.get(s.tenantId);
    if (sessions === undefined || sessions.get(s.sessionId) !== s) return;
    sessions.delete(s.sessionId);
    if (sessions.size === 0) this.#tenants.delete(s.tenantId);
    if (this.#last === s) this.#last = undefined;
  }

  /**
   * The stream last appended to: a session appends many events in a row, so skip the lookups. With
   * many sessions interleaved, another session's stream costs two lookups by its ids (strings that
   * keep their hash): no key is built, nothing is allocated.
   */
  #last: Stream | undefined;
  /** Slots a new stream's columns get with its first event: the last first run's size plus one (at first, a push's 17). */
  #firstRun = 17;

  #find(scope: LogScope): Stream | undefined {
    const last = this.#last;
    if (last !== undefined && last.sessionId === scope.sessionId && last.tenantId === scope.tenantId)
      return last;
    return this.#tenants.get(scope.tenantId)?.get(scope.sessionId);
  }

  #create(scope: LogScope): Stream {
    let sessions = this.#tenants.get(scope.tenantId);
    if (!sessions) {
      sessions = new Map();
      this.#tenants.set(scope.tenantId, sessions);
    }
    let s = sessions.get(scope.sessionId);
    if (!s) {
      s = newStream(scope);
      sessions.set(scope.sessionId, s);
    }
    return s;
  }

  append(event: ReinEvent): void {
    checkScope(event, "append");
    const s = this.#find(event) ?? this.#create(event);
    checkNextSeq(event, lastSeqOf(s));
    // Appended to again: no longer a closed session waiting to be dropped.
    if (s.closed) {
      s.closed = false;
      this.#closed.delete(s);
    }
    store(s, event, this.#firstRun);
    // The first run of a session ended: the next sessions' columns start with its size (and a slot
    // for the session's end), within a bound, so one very long first run cannot make every later
    // session reserve room it may not use (a column that is too large is trimmed at its run's end).
    if (event.type === "run_ended" && s.runIds.length === 1)
      this.#firstRun = Math.min(s.n + 1, MAX_FIRST_RUN);
    this.#last = s;
    const listeners = s.listeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]!(event);
  }

  read(scope: LogScope, afterSeq: number, limit = Number.POSITIVE_INFINITY): readonly ReinEvent[] {
    checkScope(scope, "read");
    checkReadBounds(afterSeq, limit);
    const s = this.#find(scope);
    if (!s) return [];
    const from = firstAfter(s, afterSeq);
    return envelopes(s, from, Math.min(s.n, from + limit));
  }

  lastSeq(scope: LogScope): number {
    checkScope(scope, "lastSeq");
    const s = this.#find(scope);
    return s ? lastSeqOf(s) : 0;
  }

  subscribe(scope: LogScope, listener: (event: ReinEvent) => void): () => void {
    checkScope(scope, "subscribe");
    const s = this.#find(scope) ?? this.#create(scope);
    s.listeners = [...s.listeners, listener];
    return () => {
      s.listeners = s.listeners.filter((l) => l !== listener);
      // A tail on a session that never got an event leaves nothing behind.
      if (s.listeners.length === 0 && s.n === 0) {
        if (s.closed) {
          s.closed = false;
          this.#closed.delete(s);
        }
        this.#drop(s);
      }
    };
  }

  async flush(): Promise<void> {}
}
