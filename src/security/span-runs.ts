import type { KnownHit } from "./known-values.js";

/**
 * Secret spans as parallel arrays. An adversarial text (a password assignment every 31 bytes) has
 * tens of thousands per megabyte; one object per span per stage would cost more than finding them,
 * and keeping them alive while the text is scanned makes the garbage collector's work grow faster
 * than the text.
 */
export interface SpanList {
  readonly starts: number[];
  readonly ends: number[];
  readonly kinds: string[];
  readonly sources: ("rule" | "known")[];
}

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
  const out: SpanList = { starts: [], ends: [], kinds: [], sources: [] };
  const live = runs.filter((r) => r.starts.length > 0);
  if (live.length === 1) {
    const r = live[0]!;
    out.starts.push(...r.starts);
    out.ends.push(...r.ends);
    out.kinds.length = out.sources.length = r.starts.length;
    out.kinds.fill(r.kind);
    out.sources.fill(r.source);
    return out;
  }
  const heads = new Array<number>(live.length).fill(0);
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
    if (pick < 0) return out;
    heads[pick]!++;
    if (out.starts.length > 0 && pickStart < lastEnd) {
      if (pickEnd > lastEnd) {
        lastEnd = pickEnd;
        out.ends[out.ends.length - 1] = pickEnd;
      }
    } else {
      out.starts.push(pickStart);
      out.ends.push(pickEnd);
      out.kinds.push(live[pick]!.kind);
      out.sources.push(live[pick]!.source);
      lastEnd = pickEnd;
    }
  }
}
