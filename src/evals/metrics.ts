/**
 * The statistics of an eval, computed exactly where the formula allows it. Agents are not
 * deterministic: a case is judged over n runs, and every figure here says how many runs it rests on.
 *
 * - pass@k (unbiased, Chen et al. 2021): 1 − C(n−c, k) / C(n, k), the chance that at least one of k
 *   runs drawn without replacement from the n passes; pass^k: C(c, k) / C(n, k), the chance that all k
 *   pass. Both are exact fractions (BigInt binomials), and `undefined` when k > n: never invented.
 * - pass rate with a Wilson score 95 % interval, which stays inside [0, 1] and is honest at 0/n and n/n.
 * - mean, median and p95 (nearest rank: always an observed value) with the sample size they rest on.
 */

/** An exact non-negative fraction `num/den` in lowest terms, and its value as a float. */
export interface Fraction {
  readonly num: string;
  readonly den: string;
  readonly value: number;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

function fraction(num: bigint, den: bigint): Fraction {
  const g = gcd(num, den) || 1n;
  const n = num / g;
  const d = den / g;
  return { num: n.toString(), den: d.toString(), value: Number(n) / Number(d) };
}

/** C(n, k) exactly; 0 when k > n. */
export function binomial(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  const kk = BigInt(Math.min(k, n - k));
  const nn = BigInt(n);
  let r = 1n;
  // Each partial product r·(n−i)/(i+1) is itself a binomial coefficient, so the division is exact.
  for (let i = 0n; i < kk; i++) r = (r * (nn - i)) / (i + 1n);
  return r;
}

function checkCounts(n: number, c: number, k: number): void {
  if (
    !Number.isInteger(n) ||
    !Number.isInteger(c) ||
    !Number.isInteger(k) ||
    n < 0 ||
    c < 0 ||
    c > n ||
    k < 1
  )
    throw new RangeError(`pass@k needs integers n ≥ c ≥ 0 and k ≥ 1; got n=${n}, c=${c}, k=${k}`);
}

/**
 * Unbiased pass@k: the probability that at least one of k runs (drawn without replacement from the
 * n observed) passed. `undefined` when k > n: there are not k runs to draw.
 *
 * @example
 * passAtK(5, 2, 2); // { num: "7", den: "10", value: 0.7 }
 */
export function passAtK(n: number, c: number, k: number): Fraction | undefined {
  checkCounts(n, c, k);
  if (k > n) return undefined;
  const all = binomial(n, k);
  return fraction(all - binomial(n - c, k), all);
}

/**
 * pass^k: the probability that all k runs drawn from the n observed passed (reliability).
 * `undefined` when k > n.
 *
 * @example
 * passHatK(10, 3, 2); // { num: "1", den: "15", value: 0.0666… }
 */
export function passHatK(n: number, c: number, k: number): Fraction | undefined {
  checkCounts(n, c, k);
  if (k > n) return undefined;
  return fraction(binomial(c, k), binomial(n, k));
}

/** The mean of exact fractions, exactly; `undefined` if any is undefined or there are none. */
export function meanOfFractions(values: readonly (Fraction | undefined)[]): Fraction | undefined {
  if (values.length === 0 || values.some((v) => v === undefined)) return undefined;
  let num = 0n;
  let den = 1n;
  for (const v of values as Fraction[]) {
    const vn = BigInt(v.num);
    const vd = BigInt(v.den);
    num = num * vd + vn * den;
    den = den * vd;
    const g = gcd(num, den) || 1n;
    num /= g;
    den /= g;
  }
  return fraction(num, den * BigInt(values.length));
}

/** z for a two-sided 95 % interval. */
const Z95 = 1.959963984540054;

/** A proportion with its Wilson score 95 % interval. `rate` and the bounds are undefined when n = 0. */
export interface Proportion {
  readonly passed: number;
  readonly n: number;
  readonly rate: number | undefined;
  readonly low: number | undefined;
  readonly high: number | undefined;
}

/**
 * The Wilson score interval of c successes in n trials (95 %).
 *
 * @example
 * wilson(0, 10); // { rate: 0, low: 0, high: 0.2775… }
 */
export function wilson(c: number, n: number, z = Z95): Proportion {
  if (n === 0) return { passed: c, n, rate: undefined, low: undefined, high: undefined };
  const p = c / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return {
    passed: c,
    n,
    rate: p,
    low: c === 0 ? 0 : Math.max(0, centre - half),
    high: c === n ? 1 : Math.min(1, centre + half),
  };
}

/** Summary of a sample: everything undefined when it is empty. */
export interface SampleStats {
  readonly n: number;
  readonly mean: number | undefined;
  readonly median: number | undefined;
  /** Nearest-rank 95th percentile: an observed value. With n < 20 it is the maximum; read `n`. */
  readonly p95: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
}

export function sampleStats(values: readonly number[]): SampleStats {
  const n = values.length;
  if (n === 0)
    return { n, mean: undefined, median: undefined, p95: undefined, min: undefined, max: undefined };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = n >> 1;
  return {
    n,
    mean: sorted.reduce((s, v) => s + v, 0) / n,
    median: n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2,
    p95: sorted[Math.ceil(0.95 * n) - 1]!,
    min: sorted[0]!,
    max: sorted[n - 1]!,
  };
}

/** Population variance; undefined for an empty sample. */
export function variance(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
}

/** How a case behaved over its runs. A case with no scored run is `no_runs`. */
export type CaseClass = "always_pass" | "flaky" | "always_fail" | "no_runs";

export function classify(passed: number, n: number): CaseClass {
  if (n === 0) return "no_runs";
  if (passed === n) return "always_pass";
  if (passed === 0) return "always_fail";
  return "flaky";
}
