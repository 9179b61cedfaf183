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
 */
export interface EventLog {
  append(event: ReinEvent): void;
  /** Events with `seq > afterSeq`, in order, at most `limit`. */
  read(scope: LogScope, afterSeq: number, limit?: number): readonly ReinEvent[];
  /** The highest `seq` appended for the session, or 0. */
  lastSeq(scope: LogScope): number;
  /** Called for every event appended to the scope after subscribing. Returns an unsubscribe function. */
  subscribe(scope: LogScope, listener: (event: ReinEvent) => void): () => void;
  flush(): Promise<void>;
}
