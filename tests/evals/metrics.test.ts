import { describe, expect, it } from "vitest";
import {
  binomial,
  classify,
  meanOfFractions,
  passAtK,
  passHatK,
  sampleStats,
  signTestP,
  wilson,
} from "../../src/evals.js";

describe("eval metrics: exact pass@k and pass^k", () => {
  it("n=5, c=2, k=2: pass@k is exactly 7/10 and pass^k 1/10", () => {
    expect(passAtK(5, 2, 2)).toEqual({ num: "7", den: "10", value: 0.7 });
    expect(passHatK(5, 2, 2)).toEqual({ num: "1", den: "10", value: 0.1 });
  });

  it("n=10, c=3, k=2: pass@k is exactly 8/15 and pass^k 1/15", () => {
    expect(passAtK(10, 3, 2)).toMatchObject({ num: "8", den: "15" });
    expect(passHatK(10, 3, 2)).toMatchObject({ num: "1", den: "15" });
    expect(passAtK(10, 3, 2)!.value).toBe(8 / 15);
  });

  it("is undefined when k > n (never invented), and rejects impossible counts", () => {
    expect(passAtK(3, 3, 5)).toBeUndefined();
    expect(passHatK(3, 1, 4)).toBeUndefined();
    expect(() => passAtK(3, 4, 1)).toThrow(RangeError);
    expect(() => passAtK(3, 1, 0)).toThrow(RangeError);
  });

  it("is not the biased 'did one of the first k pass': order of runs does not matter, and pass@1 is the pass rate", () => {
    // The seed's estimator reads only the first k runs: [fail, fail, pass] gives 0 at k=2; unbiased gives 2/3.
    expect(passAtK(3, 1, 2)).toMatchObject({ num: "2", den: "3" });
    expect(passAtK(7, 3, 1)).toMatchObject({ num: "3", den: "7" });
    expect(passAtK(4, 0, 2)).toMatchObject({ num: "0", den: "1" });
    expect(passHatK(4, 4, 3)).toMatchObject({ num: "1", den: "1" });
  });

  it("stays exact where floats would not: binomials past 2^53", () => {
    expect(binomial(100, 50)).toBe(100891344545564193334812497256n);
    const f = passHatK(100, 99, 50)!;
    expect(f).toMatchObject({ num: "1", den: "2" });
  });

  it("averages exact fractions exactly, and a suite figure is undefined when one case lacks k runs", () => {
    expect(meanOfFractions([passAtK(5, 2, 2), passAtK(10, 3, 2)])).toMatchObject({ num: "37", den: "60" });
    expect(meanOfFractions([passAtK(5, 2, 2), passAtK(1, 1, 2)])).toBeUndefined();
  });
});

describe("eval metrics: intervals, samples, classes", () => {
  it("Wilson 95% for 0/10 is [0, 0.2775…]", () => {
    const w = wilson(0, 10);
    expect(w.low).toBe(0);
    expect(w.high).toBeCloseTo(0.27753, 5);
    expect(w.rate).toBe(0);
  });

  it("Wilson is symmetric, inside [0, 1], and undefined for n = 0", () => {
    const a = wilson(3, 10);
    const b = wilson(7, 10);
    expect(a.low! + b.high!).toBeCloseTo(1, 12);
    expect(wilson(10, 10).high).toBe(1);
    expect(wilson(0, 0)).toMatchObject({ rate: undefined, low: undefined, high: undefined });
  });

  it("p95 is an observed value (nearest rank) and comes with its sample size", () => {
    expect(sampleStats([5, 1, 3])).toEqual({ n: 3, mean: 3, median: 3, p95: 5, min: 1, max: 5 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(sampleStats(hundred)).toMatchObject({ n: 100, p95: 95, median: 50.5 });
    expect(sampleStats([])).toMatchObject({ n: 0, mean: undefined, p95: undefined });
  });

  it("classes cases as always-pass, flaky or always-fail", () => {
    expect(classify(5, 5)).toBe("always_pass");
    expect(classify(2, 5)).toBe("flaky");
    expect(classify(0, 5)).toBe("always_fail");
    expect(classify(0, 0)).toBe("no_runs");
  });

  it("the paired sign test is exact: 6 of 6 moved one way gives p = 2/64; 4 of 4 is not significant", () => {
    expect(signTestP(6, 0)).toBe(0.03125);
    expect(signTestP(4, 0)).toBe(0.125);
    expect(signTestP(3, 3)).toBe(1);
    expect(signTestP(0, 0)).toBe(1);
    expect(signTestP(1, 9)).toBeCloseTo(0.021484375, 12);
  });
});
