import type { ReinEvent } from "../protocol/events.js";
import type { EventLog, LogScope } from "./event-log.js";

interface Stream {
  readonly events: ReinEvent[];
  readonly listeners: Set<(event: ReinEvent) => void>;
}

/** The in-process event log: an array per session, O(1) append, binary-searched reads. */
export class MemoryEventLog implements EventLog {
  readonly #streams = new Map<string, Stream>();
  /** The stream last appended to: a session appends many events in a row, so skip the key lookup. */
  #last: { tenantId: string; sessionId: string; stream: Stream } | undefined;

  #stream(scope: LogScope): Stream {
    const last = this.#last;
    if (last && last.sessionId === scope.sessionId && last.tenantId === scope.tenantId) return last.stream;
    const key = `${scope.tenantId}\u0000${scope.sessionId}`;
    let s = this.#streams.get(key);
    if (!s) {
      s = { events: [], listeners: new Set() };
      this.#streams.set(key, s);
    }
    this.#last = { tenantId: scope.tenantId, sessionId: scope.sessionId, stream: s };
    return s;
  }

  append(event: ReinEvent): void {
    const s = this.#stream(event);
    const last = s.events.at(-1);
    if (last && event.seq <= last.seq) {
      throw new Error(`event seq ${event.seq} is not after ${last.seq} in session ${event.sessionId}`);
    }
    s.events.push(event);
    for (const listener of s.listeners) listener(event);
  }

  read(scope: LogScope, afterSeq: number, limit = Number.POSITIVE_INFINITY): readonly ReinEvent[] {
    const { events } = this.#stream(scope);
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
    return this.#stream(scope).events.at(-1)?.seq ?? 0;
  }

  subscribe(scope: LogScope, listener: (event: ReinEvent) => void): () => void {
    const s = this.#stream(scope);
    s.listeners.add(listener);
    return () => s.listeners.delete(listener);
  }

  async flush(): Promise<void> {}
}
