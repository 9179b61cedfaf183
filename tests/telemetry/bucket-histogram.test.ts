import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BucketHistogram } from "../../src/telemetry/bucket-histogram.js";

const BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OBSERVED: [Record<string, string>, number][] = [
  [{ tool: "echo", outcome: "ok" }, 0.004],
  [{ tool: "echo", outcome: "ok" }, 0.01], // on a bound: counted in that bucket (le)
  [{ tool: "echo", outcome: "ok" }, 0.3],
  [{ tool: "deploy", outcome: "error" }, 12], // above every bound: only in +Inf
  [{ tool: "deploy", outcome: "error" }, 2.5],
  [{ tool: 'a,b="c"\n', outcome: "ok" }, 0], // a label value that needs escaping
];

/** The exposition text's sample lines, without comments, sorted (series order is not part of the format). */
function lines(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      // Same labels in any order: sort them.
      const m = /^(\w+)\{(.*)\} (.*)$/.exec(l);
      if (!m) return l;
      const labels = m[2]!.match(/\w+="(?:[^"\\]|\\.)*"/g)!.sort();
      return `${m[1]}{${labels.join(",")}} ${m[3]}`;
    })
    .sort();
}

describe("BucketHistogram reads like prom-client's Histogram", () => {
  it("gives the same exposition text and JSON for the same observations", async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const h = new Histogram({
      name: "rein_x_seconds",
      help: "X.",
      labelNames: ["tool", "outcome"],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const b = new BucketHistogram("rein_x_seconds", "X.", ["tool", "outcome"], BUCKETS, ours);
    for (const [labels, v] of OBSERVED) {
      h.observe(labels, v);
      b.series(labels).observe(v);
    }
    const text = await ours.metrics();
    expect(lines(text)).toEqual(lines(await theirs.metrics()));
    expect(text).toContain("# HELP rein_x_seconds X.\n# TYPE rein_x_seconds histogram\n");
    const norm = (json: Awaited<ReturnType<Registry["getMetricsAsJSON"]>>) =>
      json.map((m) => ({
        ...m,
        values: m.values
          .map((v) => {
            const labels = Object.entries(v.labels).sort(([a], [b]) => a.localeCompare(b));
            return `${(v as { metricName?: string }).metricName} ${JSON.stringify(labels)} ${v.value}`;
          })
          .sort(),
      }));
    const [mine] = norm(await ours.getMetricsAsJSON());
    const [ref] = norm(await theirs.getMetricsAsJSON());
    expect(mine).toMatchObject({
      name: ref!.name,
      help: ref!.help,
      type: ref!.type,
      aggregator: ref!.aggregator,
    });
    expect(mine!.values).toHaveLength(3 * (BUCKETS.length + 3)); // 3 series: buckets, +Inf, sum, count
    expect(mine!.values).toEqual(ref!.values);
  });

  it("a histogram without labels shows its empty series before any observation; reset empties it", async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const h = new Histogram({ name: "rein_turns", help: "T.", buckets: [1, 2], registers: [theirs] });
    const b = new BucketHistogram("rein_turns", "T.", [], [1, 2], ours);
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
    h.observe(2);
    b.observe({}, 2);
    expect(lines(await ours.metrics())).toContain('rein_turns_bucket{le="2"} 1');
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
  });

  it("refuses a value that is not a finite number, and a missing label, as prom-client does", () => {
    const b = new BucketHistogram("rein_y", "Y.", ["tool"], BUCKETS, new Registry());
    const s = b.series({ tool: "echo" });
    expect(() => s.observe(Number.NaN)).toThrow(/not a finite number/);
    expect(() => s.observe(Number.POSITIVE_INFINITY)).toThrow(/not a finite number/);
    expect(s.count).toBe(0);
    expect(() => b.series({})).toThrow(/label "tool" must be a string/);
  });

  it("series() is the same object for the same labels, whatever their order", () => {
    const b = new BucketHistogram("rein_z", "Z.", ["tool", "outcome"], BUCKETS, new Registry());
    expect(b.series({ tool: "a", outcome: "ok" })).toBe(b.series({ outcome: "ok", tool: "a" }));
    expect(b.series({ tool: "a", outcome: "ok" })).not.toBe(b.series({ tool: "a", outcome: "error" }));
    // A value that contains the key separator cannot collide with another label set.
    expect(b.series({ tool: "a|1:b", outcome: "c" })).not.toBe(b.series({ tool: "a", outcome: "b|1:c" }));
  });
});
