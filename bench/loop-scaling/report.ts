/** Turns the loop-scaling measurements into tables, target verdicts and the JSON payload. */
import type { BenchOutput, Table } from "../lib/bench.ts";
import { MB, median } from "../lib/measure.ts";
import type { ChildReport } from "./child.ts";
import type { Subject, SubjectId } from "./subjects.ts";

export interface RunRecord {
  readonly ms: number;
  readonly perCallUs: number;
  readonly heldBytes: number;
  readonly rep: number;
  /** Place of the subject in that repetition's order (the order alternates). */
  readonly position: number;
}

/** One subject at one N. */
export interface Cell {
  readonly subject: SubjectId;
  readonly calls: number;
  readonly runs: RunRecord[];
  /** Peers only: the projected seconds of one run, from the smaller sizes. */
  projectedRunS?: number;
}

export type ChildResult = { readonly subject: SubjectId; readonly calls: number } & (
  | { readonly report: ChildReport }
  | { readonly skipped: string }
  | { readonly error: string }
);

interface Stats {
  readonly medianUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  /** (max − min) / median. */
  readonly spread: number;
  readonly heldMedianBytes: number;
  readonly heldMaxBytes: number;
}

interface Input {
  readonly config: {
    readonly sizes: readonly number[];
    readonly reps: number;
    readonly rssCalls: number;
    readonly peerBudgetS: number;
  };
  readonly subjects: readonly Subject[];
  readonly cells: readonly Cell[];
  readonly children: readonly ChildResult[];
  readonly processMaxRssBytes: number;
}

const TARGET_CALLS = { small: 500, reference: 2000, large: 10_000 } as const;

function statsOf(cell: Cell): Stats | undefined {
  if (cell.runs.length === 0) return undefined;
  const us = cell.runs.map((r) => r.perCallUs);
  const held = cell.runs.map((r) => r.heldBytes);
  const medianUs = median(us);
  return {
    medianUs,
    minUs: Math.min(...us),
    maxUs: Math.max(...us),
    spread: (Math.max(...us) - Math.min(...us)) / medianUs,
    heldMedianBytes: median(held),
    heldMaxBytes: Math.max(...held),
  };
}

const us = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (v: number) =>
  v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : v.toPrecision(2);
const mb = (bytes: number) => (Math.abs(bytes) < 0.05 * MB ? "0.0" : (bytes / MB).toFixed(1));

export function report(input: Input): BenchOutput {
  const { config, subjects, cells, children } = input;
  const stats = new Map<string, Stats | undefined>(cells.map((c) => [`${c.subject}@${c.calls}`, statsOf(c)]));
  const statOf = (id: SubjectId, calls: number) => stats.get(`${id}@${calls}`);
  const comparators = subjects.filter((s) => s.kind !== "rein");
  const growthPairs = pairsOf(config.sizes);

  const perCall: Table = {
    title: `Per tool call, in one process (µs; median of up to ${config.reps} runs, min–max; × = this subject's median ÷ that one's at the same N)`,
    header: [
      "subject",
      "N",
      "runs",
      "median µs",
      "min–max µs",
      ...comparators.map((c) => `×${c.id}`),
      "held MB",
    ],
    rows: subjects.flatMap((subject) => {
      if (subject.available !== true) return [[subject.id, "", "", `not available: ${subject.available}`]];
      return config.sizes.map((calls) => {
        const cell = cells.find((c) => c.subject === subject.id && c.calls === calls)!;
        const s = statOf(subject.id, calls);
        if (!s) {
          const projected =
            cell.projectedRunS === undefined ? "" : `: projected ${cell.projectedRunS.toFixed(0)} s per run`;
          return [subject.id, String(calls), "0", `not run${projected} (budget ${config.peerBudgetS} s)`];
        }
        const ratios = comparators.map((c) => {
          const other = statOf(c.id, calls);
          return other ? ratio(s.medianUs / other.medianUs) : "–";
        });
        const runs =
          cell.runs.length < config.reps ? `${cell.runs.length}/${config.reps}` : String(cell.runs.length);
        return [
          subject.id,
          String(calls),
          runs,
          us(s.medianUs),
          `${us(s.minUs)}–${us(s.maxUs)}`,
          ...ratios,
          mb(s.heldMaxBytes),
        ];
      });
    }),
    notes: [
      ...subjects.map((s) => `  ${s.id}: ${s.label}`),
      "  held MB: heapUsed after a full GC with the run's result still referenced, minus before the run (max of the runs).",
      "  For Rein the harness and session stay referenced too (the default in-memory event log lives in the harness).",
      `  runs a/${config.reps}: a peer ran only the runs that fit --peer-budget ${config.peerBudgetS} s per subject and N`,
      "  (each run only if the time spent plus the projected or previous run's time fits).",
    ],
  };

  const growth: Table = {
    title: "Growth of the per-call median as the session grows (1.00 = flat)",
    header: ["subject", ...growthPairs.map(([a, b]) => `${a}→${b}`)],
    rows: subjects
      .filter((s) => s.available === true)
      .map((s) => [
        s.id,
        ...growthPairs.map(([a, b]) => {
          const from = statOf(s.id, a);
          const to = statOf(s.id, b);
          return from && to ? `${ratio(to.medianUs / from.medianUs)}×` : "–";
        }),
      ]),
  };

  const rss: Table = {
    title: `Peak RSS per subject: one fresh process each (node --expose-gc), one run at N = ${config.rssCalls}`,
    header: ["subject", "peak RSS MB", "RSS after load MB", "run s", "held MB"],
    rows: children.map((c) => {
      if ("report" in c) {
        const r = c.report;
        return [c.subject, mb(r.maxRssBytes), mb(r.startRssBytes), (r.ms / 1000).toFixed(1), mb(r.heldBytes)];
      }
      return [c.subject, "skipped" in c ? c.skipped : `failed: ${c.error}`];
    }),
    notes: [
      "  peak RSS: process.resourceUsage().maxRSS of that child alone (node, the subject's modules and the run).",
      `  The in-process runs above share one process; its peak RSS over all subjects was ${mb(input.processMaxRssBytes)} MB.`,
    ],
  };

  const targets = evaluateTargets(subjects, statOf);
  const targetTable: Table = {
    title: "Targets (issue 11), Rein with every default on",
    header: ["target", "figures", "verdict"],
    rows: targets.map((t) => [
      t.target,
      t.figures,
      t.met === undefined ? "NOT EVALUATED" : t.met ? "MET" : "NOT MET",
    ]),
  };

  return {
    tables: [perCall, growth, rss, targetTable],
    json: {
      config,
      subjects: subjects.map((s) => ({ id: s.id, label: s.label, kind: s.kind, available: s.available })),
      cells: cells.map((c) => ({ ...c, stats: statOf(c.subject, c.calls) ?? null })),
      growth: Object.fromEntries(
        subjects.map((s) => [
          s.id,
          Object.fromEntries(
            growthPairs.map(([a, b]) => {
              const from = statOf(s.id, a);
              const to = statOf(s.id, b);
              return [`${a}->${b}`, from && to ? to.medianUs / from.medianUs : null];
            }),
          ),
        ]),
      ),
      freshProcess: children,
      processMaxRssBytes: input.processMaxRssBytes,
      targets,
    },
  };
}

function pairsOf(sizes: readonly number[]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < sizes.length; i++)
    for (let j = i + 1; j < sizes.length; j++) pairs.push([sizes[i]!, sizes[j]!]);
  return pairs;
}

interface TargetResult {
  readonly target: string;
  readonly figures: string;
  /** `undefined`: a figure it needs was not measured (e.g. `--quick`, or no peer ran). */
  readonly met: boolean | undefined;
  readonly verdict: "MET" | "NOT MET" | "NOT EVALUATED";
}

function evaluateTargets(
  subjects: readonly Subject[],
  statOf: (id: SubjectId, calls: number) => Stats | undefined,
): TargetResult[] {
  const { small, reference, large } = TARGET_CALLS;
  const rein = (calls: number) => statOf("rein", calls);
  const missing = (what: string): Pick<TargetResult, "figures" | "met"> => ({
    figures: `${what} not measured`,
    met: undefined,
  });
  const results: Omit<TargetResult, "verdict">[] = [];

  const ref = rein(reference);
  results.push({
    target: `per call at ${reference} ≤ 100 µs`,
    ...(ref ? { figures: `${us(ref.medianUs)} µs`, met: ref.medianUs <= 100 } : missing(`N=${reference}`)),
  });

  const peers = subjects
    .filter((s) => s.kind === "peer")
    .map((s) => ({ id: s.id, stats: statOf(s.id, reference) }))
    .filter((p): p is { id: SubjectId; stats: Stats } => p.stats !== undefined)
    .sort((a, b) => a.stats.medianUs - b.stats.medianUs);
  const fastest = peers[0];
  results.push({
    target: `per call at ${reference} ≤ 1/10 of the faster peer`,
    ...(ref && fastest
      ? {
          figures: `${us(ref.medianUs)} µs vs ${fastest.id} ${us(fastest.stats.medianUs)} µs = 1/${(fastest.stats.medianUs / ref.medianUs).toFixed(1)}`,
          met: ref.medianUs * 10 <= fastest.stats.medianUs,
        }
      : missing(ref ? `a peer at N=${reference}` : `N=${reference}`)),
  });

  const from = rein(small);
  results.push({
    target: `growth ${small}→${reference} ≤ 1.5×`,
    ...(from && ref
      ? {
          figures: `${us(from.medianUs)} → ${us(ref.medianUs)} µs = ${ratio(ref.medianUs / from.medianUs)}×`,
          met: ref.medianUs / from.medianUs <= 1.5,
        }
      : missing(`N=${from ? reference : small}`)),
  });

  results.push({
    target: `heap held after ${reference} ≤ 10 MB`,
    ...(ref
      ? { figures: `${mb(ref.heldMaxBytes)} MB (max of runs)`, met: ref.heldMaxBytes <= 10 * MB }
      : missing(`N=${reference}`)),
  });

  const big = rein(large);
  results.push({
    target: `per call at ${large} within 2× of ${reference}`,
    ...(big && ref
      ? {
          figures: `${us(ref.medianUs)} → ${us(big.medianUs)} µs = ${ratio(big.medianUs / ref.medianUs)}×`,
          met: big.medianUs / ref.medianUs <= 2,
        }
      : missing(`N=${big ? reference : large}`)),
  });
  return results.map((r) => ({
    ...r,
    verdict: r.met === undefined ? "NOT EVALUATED" : r.met ? "MET" : "NOT MET",
  }));
}
