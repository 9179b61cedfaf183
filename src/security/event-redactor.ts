import type { EventDataFilter, EventDataMap, EventType } from "../protocol/events.js";
import type { SecretRedactor } from "./redactor.js";

/**
 * Redacts every event of a session as it is built, before the event log, the sinks (audit trail,
 * live view) or a stream reader sees it: tool inputs, the task, model text, results, approval
 * prompts, error messages. O(the event's own data); the history is never rescanned. Data that
 * cannot be walked is replaced, never passed through.
 *
 * Every value of an event is checked, whatever its type and field: strings are scanned (through the
 * redactor's clean cache), objects and arrays walked, numbers, booleans and null passed. What the
 * filter knows of the harness's events spares only two things (see {@link fieldOf}): the scan of a
 * field *name* that is one of the harness's own (a constant of this file: it holds no secret), and
 * the walk of a shared record (a call's stage list, a policy's assessment) that is deep-frozen and
 * was found clean before under the same known secrets (frozen data cannot have changed). A field
 * the filter does not know, in any event (a gateway's or a guard's, or one added later), is
 * scanned name and value like the rest.
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
      return this.#fields(data, true) as EventDataMap[T];
    } catch (err) {
      return withheld(data, err) as EventDataMap[T];
    }
  }

  /**
   * One event's data (`top`), or a record inside it named by a RECORD field: each value checked as
   * the redactor's walk checks it, each name scanned unless it is one of the harness's. Copies only
   * what changed: the same object comes back when nothing was found.
   */
  #fields(value: unknown, top: boolean): unknown {
    const redactor = this.#redactor;
    // Anything but a plain object (an array, a class instance) is the redactor's to walk.
    if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype)
      return redactor.redactValue(value);
    const obj = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    // for…in, as the redactor's walk (see there): it also lists what the prototype chain adds, and
    // those are checked like the rest.
    for (const k in obj) {
      const v = obj[k];
      const field = fieldOf(k);
      let rv: unknown = v;
      if (typeof v === "string") rv = field === ONCE ? redactor.redactTextOnce(v) : redactor.redactText(v);
      else if (typeof v === "object" && v !== null)
        rv =
          field === SHARED
            ? redactor.redactShared(v)
            : // One level of known records (usage, limits): deeper, the plain walk (no recursion to bound).
              field === RECORD && top
              ? this.#fields(v, false)
              : redactor.redactValue(v);
      const rk = field === UNKNOWN ? redactor.redactText(k) : k;
      if ((rk !== k || rv !== v) && Object.hasOwn(obj, k)) {
        out ??= { ...obj };
        if (rk !== k) delete out[k];
        out[rk] = rv;
      }
    }
    return out ?? value;
  }
}

/** A field name the filter does not know: its name is scanned too. */
const UNKNOWN = 0;
/** One of the harness's field names: its value is checked, its name is not scanned. */
const KNOWN = 1;
/** A known field whose record the harness shares between events (see SecretRedactor.redactShared). */
const SHARED = 2;
/** A known field holding a record of known fields (usage, limits), checked as the event's own. */
const RECORD = 3;
/** A known field holding a string made for this one event (an idempotency key): scanned, not remembered. */
const ONCE = 4;

/**
 * What the filter knows of a field name (see {@link EventRedactor}): the names of the harness's
 * event data and of the records inside them, by kind.
 */
const FIELD_NAMES: readonly (readonly [number, readonly string[]])[] = [
  [
    KNOWN,
    [
      "turn",
      "callId",
      "tool",
      "input",
      "originalInput",
      "model",
      "stopReason",
      "costUsd",
      "sessionCostUsd",
      "durationMs",
      "message",
      "verdict",
      "executed",
      "ok",
      "errorType",
      "content",
      "truncated",
      "sandbox",
      "inputTokens",
      "outputTokens",
      "cacheReadTokens",
      "cacheWriteTokens",
      "task",
      "maxTurns",
      "runTimeoutMs",
      "modelCallTimeoutMs",
      "status",
      "turns",
      "finalText",
      "unsettledToolCalls",
      "kind",
      "by",
      "severity",
      "score",
      "evidence",
    ],
  ],
  [SHARED, ["stages", "risk", "approval"]],
  [RECORD, ["usage", "limits"]],
  [ONCE, ["idempotencyKey"]],
];

/**
 * The names in a table by a slot computed from a name's length and three of its characters (the
 * names of FIELD_NAMES have a slot each), so a name is looked up by one load and one comparison
 * (field names are interned strings: a pointer comparison when it is the same name), cheaper than a
 * map's probe. A name added later whose slot is taken goes to FIELDS_ELSE; a name in neither is UNKNOWN.
 */
const FIELD_SLOTS = 512;
const fieldSlot = (k: string, n: number) =>
  (n * 37 + k.charCodeAt(0) * 11 + k.charCodeAt(n - 1) * 7 + k.charCodeAt(n >> 1) * 3) & (FIELD_SLOTS - 1);
const FIELD_TABLE: (string | undefined)[] = new Array<string | undefined>(FIELD_SLOTS).fill(undefined);
const FIELD_KINDS = new Uint8Array(FIELD_SLOTS);
const FIELDS_ELSE = new Map<string, number>();
for (const [kind, list] of FIELD_NAMES)
  for (const name of list) {
    const slot = fieldSlot(name, name.length);
    if (FIELD_TABLE[slot] === undefined) {
      FIELD_TABLE[slot] = name;
      FIELD_KINDS[slot] = kind;
    } else FIELDS_ELSE.set(name, kind);
  }

/** What the filter knows of field name `k`. */
function fieldOf(k: string): number {
  const n = k.length;
  if (n === 0) return UNKNOWN;
  const slot = fieldSlot(k, n);
  if (FIELD_TABLE[slot] === k) return FIELD_KINDS[slot]!;
  return FIELDS_ELSE.size === 0 ? UNKNOWN : (FIELDS_ELSE.get(k) ?? UNKNOWN);
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
