import { EventLogError } from "../protocol/errors.js";
import type { ReinEvent } from "../protocol/events.js";
import type { EventLog, LogScope } from "./event-log.js";

type Listener = (event: ReinEvent) => void;

interface Stream {
  readonly events: ReinEvent[];
  /** Replaced, never mutated, on (un)subscribe: an append delivers to the listeners it started with. */
  listeners: readonly Listener[];
}

/** The in-process event log: an array per session, O(1) append, binary-searched reads. */
export class MemoryEventLog implements EventLog {
  /** tenant → session → stream. Nested rather than a joined key, so no pair of ids can collide. */
  readonly #tenants = new Map<string, Map<string, Stream>>();
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
    const s = this.#find(event) ?? this.#create(event);
    const lastSeq = s.events.at(-1)?.seq ?? 0;
    const seq = event.seq;
    if (!Number.isSafeInteger(seq) || seq <= lastSeq) {
      const problem = Number.isSafeInteger(seq) ? `is not after ${lastSeq}` : "is not a positive integer";
      throw new EventLogError(
        `event seq ${String(seq)} ${problem} in session ${event.sessionId} (tenant ${event.tenantId}); nothing was appended`,
        { tenantId: event.tenantId, sessionId: event.sessionId, seq: String(seq), lastSeq },
      );
    }
    s.events.push(event);
    this.#last = { tenantId: event.tenantId, sessionId: event.sessionId, stream: s };
    for (const listener of s.listeners) listener(event);
  }

  read(scope: LogScope, afterSeq: number, limit = Number.POSITIVE_INFINITY): readonly ReinEvent[] {
    checkScope(scope, "read");
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
      throw new EventLogError(`read: afterSeq must be an integer >= 0, got ${String(afterSeq)}`, {
        afterSeq: String(afterSeq),
      });
    }
    if (!(limit === Number.POSITIVE_INFINITY || (Number.isSafeInteger(limit) && limit >= 0))) {
      throw new EventLogError(`read: limit must be an integer >= 0, got ${String(limit)}`, {
        limit: String(limit),
      });
    }
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

/** Cheap on purpose (it runs on every append): two typeof checks. */
function checkScope(scope: LogScope, what: string): void {
  if (
    typeof scope?.tenantId !== "string" ||
    scope.tenantId === "" ||
    typeof scope.sessionId !== "string" ||
    scope.sessionId === ""
  ) {
    throw new EventLogError(
      `${what}: tenantId and sessionId must be non-empty strings, got tenantId ${JSON.stringify(scope?.tenantId) ?? "undefined"}, sessionId ${JSON.stringify(scope?.sessionId) ?? "undefined"}`,
    );
  }
}
