import type { EventDataFilter, EventDataMap, EventType } from "../protocol/events.js";
import type { SecretRedactor } from "./redactor.js";

/**
 * Redacts every event of a session as it is built, before the event log, the sinks (audit trail,
 * live view) or a stream reader sees it: tool inputs, the task, model text, results, approval
 * prompts, error messages. O(the event's own data); the history is never rescanned. Data that
 * cannot be walked is replaced, never passed through.
 *
 * Every value of an event is checked, whatever its field: strings are scanned (through the
 * redactor's clean cache), objects and arrays walked, numbers, booleans and null passed. The events
 * of a tool call (six or so per call) have a known shape ({@link SHAPES}): when an event's data has
 * exactly those field names, in that order (and nothing else, inherited or not), the names are not
 * scanned (they are this file's constants), a shared record (a call's stage list, a policy's
 * assessment) that is deep-frozen and was found clean before under the same known secrets is not
 * walked again, and the call's idempotency key (made for that one event) is scanned without being
 * cached. Any other event, or one with a field more or less, is walked whole, names included.
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
      const shape = SHAPES.get(type);
      return (
        shape === undefined ? this.#redactor.redactValue(data) : this.#shaped(data, shape)
      ) as EventDataMap[T];
    } catch (err) {
      return withheld(data, err) as EventDataMap[T];
    }
  }

  /**
   * `value` checked field by field when its enumerable names are exactly `shape`'s, in order (for…in
   * lists inherited ones too: any such name breaks the match); otherwise the redactor's whole walk.
   * Copies only what changed: the same object comes back when nothing was found.
   */
  #shaped(value: unknown, shape: Shape): unknown {
    const redactor = this.#redactor;
    if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype)
      return redactor.redactValue(value);
    const obj = value as Record<string, unknown>;
    const { names, kinds } = shape;
    let out: Record<string, unknown> | undefined;
    let i = 0;
    for (const k in obj) {
      // Interned names: the same name is the same string, compared by pointer.
      if (k !== names[i]) return redactor.redactValue(value);
      const kind = kinds[i++]!;
      const v = obj[k];
      let rv: unknown = v;
      if (typeof v === "string") rv = kind === ONCE ? redactor.redactTextOnce(v) : redactor.redactText(v);
      else if (typeof v === "object" && v !== null)
        rv =
          kind === SHARED
            ? redactor.redactShared(v)
            : kind === USAGE
              ? this.#shaped(v, USAGE_SHAPE)
              : redactor.redactValue(v);
      if (rv !== v) {
        out ??= { ...obj };
        out[k] = rv;
      }
    }
    // A name missing: not the shape (its other names were checked all the same; the walk is safe to repeat).
    if (i !== names.length) return redactor.redactValue(value);
    return out ?? value;
  }
}

/** A field whose value is checked as any value is (strings scanned, objects walked). */
const VALUE = 0;
/** A record the harness shares between events: see SecretRedactor.redactShared. */
const SHARED = 1;
/** A string made for this one event (an idempotency key): scanned, not cached. */
const ONCE = 2;
/** A model's usage record: checked by USAGE_SHAPE. */
const USAGE = 3;

interface Shape {
  readonly names: readonly string[];
  readonly kinds: Uint8Array;
}

function shape(fields: Record<string, number>): Shape {
  return { names: Object.keys(fields), kinds: Uint8Array.from(Object.values(fields)) };
}

const USAGE_SHAPE = shape({
  inputTokens: VALUE,
  outputTokens: VALUE,
  cacheReadTokens: VALUE,
  cacheWriteTokens: VALUE,
});

/**
 * The events of a tool call, with their field names in the order the loop builds them
 * (`tests/security/event-redaction-fields.test.ts` checks a real session's events match).
 */
const SHAPES: ReadonlyMap<string, Shape> = new Map<EventType, Shape>([
  ["model_call_started", shape({ turn: VALUE, model: VALUE })],
  [
    "model_call_finished",
    shape({
      turn: VALUE,
      model: VALUE,
      stopReason: VALUE,
      usage: USAGE,
      costUsd: VALUE,
      sessionCostUsd: VALUE,
      durationMs: VALUE,
      message: VALUE,
    }),
  ],
  ["tool_call_requested", shape({ turn: VALUE, callId: VALUE, tool: VALUE, input: VALUE })],
  [
    "tool_call_decided",
    shape({
      turn: VALUE,
      callId: VALUE,
      tool: VALUE,
      verdict: VALUE,
      risk: SHARED,
      approval: SHARED,
      stages: SHARED,
    }),
  ],
  [
    "tool_call_started",
    shape({ turn: VALUE, callId: VALUE, tool: VALUE, idempotencyKey: ONCE, input: VALUE }),
  ],
  [
    "tool_call_finished",
    shape({
      turn: VALUE,
      callId: VALUE,
      tool: VALUE,
      executed: VALUE,
      ok: VALUE,
      errorType: VALUE,
      content: VALUE,
      truncated: VALUE,
      durationMs: VALUE,
      stages: SHARED,
    }),
  ],
]);

/** The shape the filter expects of an event type's data, if it has one (for tests). */
export function eventShape(type: EventType): readonly string[] | undefined {
  return SHAPES.get(type)?.names;
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
