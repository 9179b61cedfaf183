import type { Registry } from "prom-client";

type Labels = Readonly<Record<string, string>>;

interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

/**
 * One series of a histogram (one label set): counts per bucket, sum and count. `observe` is a few
 * comparisons and additions: no label hashing or validation, no allocation.
 */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  readonly #counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // A NaN or infinite value would poison the sum for good: refused, as prom-client does.
    if (!Number.isFinite(value)) throw new TypeError(`histogram value is not a finite number: ${value}`);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.#counts as Float64Array)[i]! += 1;
    this.sum += value;
    this.count++;
  }

  /** Cumulative count of observations ≤ the bound at `i`. */
  samples(name: string, out: Sample[]): void {
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.#counts[i] as number;
      out.push({
        labels: { ...this.labels, le: this.bounds[i] as number },
        value: acc,
        metricName: `${name}_bucket`,
      });
    }
    out.push({ labels: { ...this.labels, le: "+Inf" }, value: this.count, metricName: `${name}_bucket` });
    out.push({ labels: { ...this.labels }, value: this.sum, metricName: `${name}_sum` });
    out.push({ labels: { ...this.labels }, value: this.count, metricName: `${name}_count` });
  }
}

/**
 * A Prometheus histogram kept by Rein and read by a prom-client `Registry` (which renders it in the
 * exposition format, as JSON, and resets it like its own). prom-client's `Histogram.observe` hashes and
 * validates the labels and converts the bucket bound to a string key on every call; a sink observing per
 * tool call keeps a `HistogramSeries` per label set instead (`series()`), bound once.
 */
export class BucketHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #series = new Map<string, HistogramSeries>();
  readonly #bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    buckets: readonly number[],
    registry: Registry,
    /** Called before the histogram is read (a sink applies the events it has taken). */
    readonly collect?: () => void,
  ) {
    this.#bounds = [...buckets].sort((a, b) => a - b);
    // Like prom-client: a histogram without labels shows its (empty) series before any observation.
    if (labelNames.length === 0) this.series({});
    registry.registerMetric(this as never);
  }

  /** The series of one label set (created on first use; keep it, it is the same object each time). */
  series(labels: Labels): HistogramSeries {
    let key = "";
    for (const n of this.labelNames) {
      const v = labels[n];
      if (typeof v !== "string") throw new TypeError(`${this.name}: label "${n}" must be a string`);
      key += `${v.length}:${v}|`;
    }
    let s = this.#series.get(key);
    if (!s) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) own[n] = labels[n] as string;
      s = new HistogramSeries(own, this.#bounds);
      this.#series.set(key, s);
    }
    return s;
  }

  observe(labels: Labels, value: number): void {
    this.series(labels).observe(value);
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: "histogram";
    aggregator: "sum";
    values: Sample[];
  }> {
    this.collect?.();
    const values: Sample[] = [];
    for (const s of this.#series.values()) s.samples(this.name, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Forgets every series (prom-client's reset: even a histogram without labels shows none after it). */
  reset(): void {
    this.#series.clear();
  }
}
