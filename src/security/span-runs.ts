import type { KnownHit } from "./known-values.js";

/**
 * Secret spans as parallel arrays. An adversarial text (a password assignment every 31 bytes) has
 * tens of thousands per megabyte; one object per span per stage would cost more than finding them,
 * and keeping them alive while the text is scanned makes the garbage collector's work grow faster
 * than the text.
 */
export interface SpanList {
  readonly count: number;
  /** UTF-16 offsets; typed arrays, sized once: a few bytes a span, and nothing for the collector. */
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** The run each span's kind and source come from (the first in merge order, for a union). */
  readonly runOf: Uint32Array;
  readonly runs: readonly SpanRun[];
}

export const NO_SPANS: SpanList = Object.freeze({
  count: 0,
  starts: new Int32Array(0),
  ends: new Int32Array(0),
  runOf: new Uint32Array(0),
  runs: [],
});

/** Spans of one kind and source, in order, none overlapping another of the run. */
export interface SpanRun {
  readonly kind: string;
  readonly source: "rule" | "known";
  readonly starts: number[];
  readonly ends: number[];
}

/** Known-value hits (every needle's, each needle's in order) as runs that are each in order. */
export function knownRuns(hits: readonly KnownHit[]): SpanRun[] {
  const runs: SpanRun[] = [];
  let current: SpanRun | undefined;
  for (const h of hits) {
    const n = current ? current.ends.length : 0;
    if (!current || current.kind !== h.label || h.start < current.ends[n - 1]!) {
      current = { kind: h.label, source: "known", starts: [], ends: [] };
      runs.push(current);
    }
    current.starts.push(h.start);
    current.ends.push(h.end);
  }
  return runs;
}

/**
 * The union of the runs' spans, merged so none overlap (the union of overlapping matches is redacted
 * whole), in order: earliest first; at the same start, the longest, and a known value before a rule;
 * a merged span keeps the kind of the first in that order (ties keep the runs' order). A k-way merge of
 * runs that are already in order: O(spans × runs), where sorting every span of an adversarial text
 * would cost O(spans × log spans) and an object each.
 */
export function mergeRuns(runs: readonly SpanRun[]): SpanList {
  const live = runs.filter((r) => r.starts.length > 0);
  if (live.length === 0) return NO_SPANS;
  let total = 0;
  for (const r of live) total += r.starts.length;
  const starts = new Int32Array(total);
  const ends = new Int32Array(total);
  const runOf = new Uint32Array(total);
  if (live.length === 1) {
    starts.set(live[0]!.starts);
    ends.set(live[0]!.ends);
    return { count: total, starts, ends, runOf, runs: live };
  }
  const heads = new Array<number>(live.length).fill(0);
  let count = 0;
  let lastEnd = -1;
  for (;;) {
    let pick = -1;
    let pickStart = 0;
    let pickEnd = 0;
    for (let r = 0; r < live.length; r++) {
      const run = live[r]!;
      const h = heads[r]!;
      if (h >= run.starts.length) continue;
      const start = run.starts[h]!;
      const end = run.ends[h]!;
      if (
        pick < 0 ||
        start < pickStart ||
        (start === pickStart &&
          (end > pickEnd || (end === pickEnd && run.source === "known" && live[pick]!.source === "rule")))
      ) {
        pick = r;
        pickStart = start;
        pickEnd = end;
      }
    }
    if (pick < 0) return { count, starts, ends, runOf, runs: live };
    heads[pick]!++;
    if (count > 0 && pickStart < lastEnd) {
      if (pickEnd > lastEnd) {
        lastEnd = pickEnd;
        ends[count - 1] = pickEnd;
      }
    } else {
      starts[count] = pickStart;
      ends[count] = pickEnd;
      runOf[count] = pick;
      count++;
      lastEnd = pickEnd;
    }
  }
}
