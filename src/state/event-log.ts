import type { ReinEvent } from "../protocol/events.js";

export interface LogScope {
  readonly tenantId: string;
  readonly sessionId: string;
}

/**
 * The per-session, append-only event log: the history of record. The session is its single writer
 * and assigns `seq`; readers read after a `seq` and see exactly what a live reader saw.
 * `append` is synchronous so ordering never depends on I/O timing; a store whose writes are
 * asynchronous buffers them and completes them in `flush`.
 *
 * Every implementation passes `eventLogContract` from `rein/testing`: sessions are scoped by
 * tenant (tenant A never sees tenant B's events, whatever the ids), and bad input is refused with
 * `EventLogError` (`REIN_EVENT_LOG_REJECTED`) before anything is stored.
 */
export interface EventLog {
  /**
   * Stores the event under its `(tenantId, sessionId)`. Its `seq` must be an integer greater than
   * the session's last (the first may be any integer >= 1); otherwise nothing is stored and it throws.
   */
  append(event: ReinEvent): void;
  /** Events with `seq > afterSeq` (an integer >= 0), in order, at most `limit` (an integer >= 0). */
  read(scope: LogScope, afterSeq: number, limit?: number): readonly ReinEvent[];
  /** The highest `seq` appended for the session, or 0. */
  lastSeq(scope: LogScope): number;
  /**
   * Called for every event appended to the scope after subscribing, in order; not for events of
   * other sessions or tenants, nor for the event being appended when it subscribed. Returns an
   * unsubscribe function.
   */
  subscribe(scope: LogScope, listener: (event: ReinEvent) => void): () => void;
  flush(): Promise<void>;
  /**
   * For a store that commits in batches: resolves when every event appended so far is durable
   * (survives a crash of this process), rejects when it cannot be. The loop awaits it before a tool
   * runs and before a turn's tool results reach the model. A store whose `append` is durable when it
   * returns (or one that is not durable at all, like `MemoryEventLog`) leaves it out.
   */
  sync?(): Promise<void>;
  /**
   * The session was closed (`session.close()`): a log may drop what it keeps in memory for it (a
   * durable log keeps the history in its store). Called once per close; optional.
   */
  sessionClosed?(scope: LogScope): void;
}
