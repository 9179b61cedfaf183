import type { EventDataFilter, EventDataMap, EventType } from "../protocol/events.js";
import type { SecretRedactor } from "./redactor.js";

/**
 * Redacts every event of a session as it is built, before the event log, the sinks (audit trail,
 * live view) or a stream reader sees it: tool inputs, the task, model text, results, approval
 * prompts, error messages. O(the event's own data); the history is never rescanned. Data that
 * cannot be walked is replaced, never passed through.
 *
 * @example
 * createHarness({ model, security: { redact: true } }); // wires one per session
 */
export class EventRedactor implements EventDataFilter {
  readonly name = "secret-redaction";
  readonly #redactor: SecretRedactor;

  constructor(redactor: SecretRedactor) {
    this.#redactor = redactor;
  }

  filter<T extends EventType>(type: T, data: EventDataMap[T]): EventDataMap[T] {
    // Deltas were already redacted by the stream redactor, which saw them in order (see redacting-model.ts).
    if (type === "text_delta") return data;
    try {
      return this.#redactor.redactValue(data);
    } catch (err) {
      return withheld(data, err) as EventDataMap[T];
    }
  }
}

/** Every string replaced: what could not be scanned is not recorded. */
function withheld(value: unknown, err: unknown, depth = 0): unknown {
  if (typeof value === "string") return `[REDACTED:unscanned:${(err as Error)?.name ?? "error"}]`;
  if (typeof value !== "object" || value === null || depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => withheld(v, err, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = withheld(v, err, depth + 1);
  return out;
}
