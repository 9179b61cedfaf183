import type { StageRecord } from "../../protocol/events.js";

/**
 * The stage records of a decided call as its `tool_call_decided` event keeps them. The event log
 * keeps every event's data for as long as the session lives, and the list built by push has room
 * for 17 records (184 bytes for the usual 5). Calls that pass the same stages with the same frozen
 * records (the pipeline's shared pass records, a policy's cached assessment), as most calls of one
 * tool do, get one frozen list shared by every session; any other list is copied to its exact size.
 *
 * The last SHARED_LISTS frozen lists are remembered (a harness has a few per tool): a list of
 * records that are frozen but new each time (a policy answering a fresh assessment per call) takes
 * a slot and is then pushed out, so nothing grows with the calls made.
 */
const SHARED_LISTS = 16;
const shared: (readonly StageRecord[])[] = [];
/** The slot the last list was found in (checked first: calls in a row are usually alike) or put in. */
let last = 0;
/** The slot the next new list replaces once all are taken (oldest first). */
let next = 0;

function same(a: readonly StageRecord[], b: readonly StageRecord[]): boolean {
  const n = a.length;
  if (b.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `stages` (built by push, not kept by the caller) as the event should keep it. */
export function keptStages(stages: readonly StageRecord[]): readonly StageRecord[] {
  const hit = shared[last];
  if (hit !== undefined && same(hit, stages)) return hit;
  for (let i = 0; i < shared.length; i++) {
    const list = shared[i]!;
    if (same(list, stages)) {
      last = i;
      return list;
    }
  }
  for (let i = 0; i < stages.length; i++) if (!Object.isFrozen(stages[i])) return stages.slice();
  const list = Object.freeze(stages.slice());
  if (shared.length < SHARED_LISTS) last = shared.push(list) - 1;
  else {
    last = next;
    next = (next + 1) % SHARED_LISTS;
    shared[last] = list;
  }
  return list;
}
