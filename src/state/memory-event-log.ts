import { EventLogError } from "../protocol/errors.js";
import type { ReinEvent } from "../protocol/events.js";
import type { EventLog, LogScope } from "./event-log.js";
import { checkNextSeq, checkReadBounds, checkScope } from "./log-checks.js";

type Listener = (event: ReinEvent) => void;

interface Stream {
  readonly events: ReinEvent[];
  /** Replaced, never mutated, on (un)subscribe: an append delivers to the listeners it started with. */
  listeners: readonly Listener[];
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

/** The in-process event log: an array per session, O(1) append, binary-searched reads; closed sessions evicted. */
export class MemoryEventLog implements EventLog {
  /** tenant → session → stream. Nested rather than a joined key, so no pair of ids can collide. */
  readonly #tenants = new Map<string, Map<string, Stream>>();
  readonly #retain: number;
  /** Closed sessions still kept, oldest first, as `tenantId\0sessionId`. */
  readonly #closed = new Map<string, LogScope>();

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
    const id = `${scope.tenantId}\0${scope.sessionId}`;
    this.#closed.delete(id);
    this.#closed.set(id, { tenantId: scope.tenantId, sessionId: scope.sessionId });
    for (const [key, s] of this.#closed) {
      if (this.#closed.size <= this.#retain) break;
      this.#closed.delete(key);
      const sessions = this.#tenants.get(s.tenantId);
      const stream = sessions?.get(s.sessionId);
      if (!sessions || !stream || stream.listeners.length > 0) continue;
      sessions.delete(s.sessionId);
      if (sessions.size === 0) this.#tenants.delete(s.tenantId);
      if (this.#last?.stream === stream) this.#last = undefined;
    }
  }
  /** The stream last appended to: a session appends many events in a row, so skip the lookups. */
  #last: { tenantId: string; sessionId: string; stream: Stream } | undefined;

  #find(scope: LogScope): Stream | undefined {
    const last = this.#last;
    if (last && last.sessionId === scope.sessionId && last.tenantId === scope.tenantId) return last.stream;
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
      s = { events: [], listeners: [] };
      sessions.set(scope.sessionId, s);
    }
    return s;
  }

  append(event: ReinEvent): void {
    checkScope(event, "append");
    let s = this.#find(event);
    if (s === undefined) {
      s = this.#create(event);
      // Appended to again: no longer a closed session waiting to be dropped.
      if (this.#closed.size > 0) this.#closed.delete(`${event.tenantId}\0${event.sessionId}`);
    }
    const lastSeq = s.events.at(-1)?.seq ?? 0;
    checkNextSeq(event, lastSeq);
    s.events.push(event);
    this.#last = { tenantId: event.tenantId, sessionId: event.sessionId, stream: s };
    for (const listener of s.listeners) listener(event);
  }

  read(scope: LogScope, afterSeq: number, limit = Number.POSITIVE_INFINITY): readonly ReinEvent[] {
    checkScope(scope, "read");
    checkReadBounds(afterSeq, limit);
    const events = this.#find(scope)?.events;
    if (!events) return [];
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (events[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return events.slice(lo, Number.isFinite(limit) ? lo + limit : undefined);
  }

  lastSeq(scope: LogScope): number {
    checkScope(scope, "lastSeq");
    return this.#find(scope)?.events.at(-1)?.seq ?? 0;
  }

  subscribe(scope: LogScope, listener: (event: ReinEvent) => void): () => void {
    checkScope(scope, "subscribe");
    const s = this.#find(scope) ?? this.#create(scope);
    s.listeners = [...s.listeners, listener];
    return () => {
      s.listeners = s.listeners.filter((l) => l !== listener);
      // A tail on a session that never got an event leaves nothing behind.
      if (s.listeners.length === 0 && s.events.length === 0) {
        const sessions = this.#tenants.get(scope.tenantId);
        if (sessions?.get(scope.sessionId) === s) sessions.delete(scope.sessionId);
        if (sessions?.size === 0) this.#tenants.delete(scope.tenantId);
      }
    };
  }

  async flush(): Promise<void> {}
}
