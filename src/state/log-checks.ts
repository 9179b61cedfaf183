/**
 * What every event log checks and keeps the same way, whatever it stores in: the scope, the next seq,
 * a read's bounds, the events of a batch not yet committed (group-commit stores), and subscribers by
 * session. One copy, so the memory, SQLite and Redis logs refuse the same input with the same words.
 */
import { EventLogError } from "../protocol/errors.js";
import type { ReinEvent } from "../protocol/events.js";
import type { LogScope } from "./event-log.js";

/** Cheap on purpose (it runs on every append): two typeof checks. */
export function checkScope(scope: LogScope, what: string): void {
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

/** The event's seq must be a safe integer after the session's last one; nothing is appended otherwise. */
export function checkNextSeq(event: ReinEvent, lastSeq: number): void {
  const seq = event.seq;
  if (!Number.isSafeInteger(seq) || seq <= lastSeq) {
    const problem = Number.isSafeInteger(seq) ? `is not after ${lastSeq}` : "is not a positive integer";
    throw new EventLogError(
      `event seq ${String(seq)} ${problem} in session ${event.sessionId} (tenant ${event.tenantId}); nothing was appended`,
      { tenantId: event.tenantId, sessionId: event.sessionId, seq: String(seq), lastSeq },
    );
  }
}

/** A read's `afterSeq` and `limit` (an integer >= 0, or Infinity for all). */
export function checkReadBounds(afterSeq: number, limit: number): void {
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0)
    throw new EventLogError(`read: afterSeq must be an integer >= 0, got ${String(afterSeq)}`, {
      afterSeq: String(afterSeq),
    });
  if (!(limit === Number.POSITIVE_INFINITY || (Number.isSafeInteger(limit) && limit >= 0)))
    throw new EventLogError(`read: limit must be an integer >= 0, got ${String(limit)}`, {
      limit: String(limit),
    });
}

/**
 * Adds to `events` (what the store returned, in seq order) the scope's events of the batch not yet
 * committed, after the last one returned and up to `limit`, as copies (a reader cannot change them).
 */
export function withUnsent(
  events: ReinEvent[],
  unsent: readonly ReinEvent[] | undefined,
  scope: LogScope,
  afterSeq: number,
  limit: number,
): ReinEvent[] {
  const after = events.at(-1)?.seq ?? afterSeq;
  for (const e of unsent ?? []) {
    if (events.length >= limit) break;
    if (e.seq > after && e.tenantId === scope.tenantId && e.sessionId === scope.sessionId)
      events.push(JSON.parse(JSON.stringify(e)) as ReinEvent);
  }
  return events;
}

/** The session key the stores index by. */
export const sessionKey = (s: LogScope): string => JSON.stringify([s.tenantId, s.sessionId]);

/** Subscribers by session: `notify` calls a session's listeners in the order they subscribed. */
export class SessionListeners {
  readonly #bySession = new Map<string, readonly ((event: ReinEvent) => void)[]>();

  add(scope: LogScope, listener: (event: ReinEvent) => void): () => void {
    const k = sessionKey(scope);
    this.#bySession.set(k, [...(this.#bySession.get(k) ?? []), listener]);
    return () => {
      const rest = (this.#bySession.get(k) ?? []).filter((l) => l !== listener);
      if (rest.length === 0) this.#bySession.delete(k);
      else this.#bySession.set(k, rest);
    };
  }

  notify(key: string, event: ReinEvent): void {
    const listeners = this.#bySession.get(key);
    if (listeners) for (const l of listeners) l(event);
  }
}
