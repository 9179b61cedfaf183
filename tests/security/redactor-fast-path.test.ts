import { describe, expect, it } from "vitest";
import { keywordScan, keywordScanner } from "../../src/security/keyword-scan.js";
import { loadRegexEngine } from "../../src/security/linear-regex.js";
import { SecretRedactor } from "../../src/security/redactor.js";
import { mergeRuns, type SpanRun } from "../../src/security/span-runs.js";
import { SAMPLES } from "./secret-samples.js";

function tryEngine(name: "re2"): boolean {
  try {
    loadRegexEngine(name);
    return true;
  } catch {
    return false;
  }
}

/** A seeded generator: the same runs every time, in any order of tests. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The merge as specified: sort every span (start, longest, known first, stable), then union overlaps. */
function referenceMerge(runs: readonly SpanRun[]) {
  const all = runs.flatMap((r) =>
    r.starts.map((start, i) => ({ start, end: r.ends[i]!, kind: r.kind, source: r.source })),
  );
  all.sort(
    (a, b) =>
      a.start - b.start || b.end - a.end || (a.source === b.source ? 0 : a.source === "known" ? -1 : 1),
  );
  const out: { start: number; end: number; kind: string; source: string }[] = [];
  for (const s of all) {
    const last = out.at(-1);
    if (last && s.start < last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

describe("merging the spans of several rules (k-way, no sort)", () => {
  it("equals sorting every span and taking the union of overlaps, on 200 random sets of overlapping runs", () => {
    const rnd = prng(20);
    for (let round = 0; round < 200; round++) {
      const runs: SpanRun[] = [];
      const nRuns = 1 + Math.floor(rnd() * 5);
      for (let r = 0; r < nRuns; r++) {
        const run: SpanRun = {
          kind: `k${r % 3}`,
          source: rnd() < 0.3 ? "known" : "rule",
          starts: [],
          ends: [],
        };
        let at = Math.floor(rnd() * 10);
        for (let n = Math.floor(rnd() * 30); n > 0; n--) {
          const start = at + Math.floor(rnd() * 8);
          const end = start + 1 + Math.floor(rnd() * 12);
          run.starts.push(start);
          run.ends.push(end);
          at = end;
        }
        runs.push(run);
      }
      const got = mergeRuns(runs);
      const flat = Array.from({ length: got.count }, (_, i) => ({
        start: got.starts[i]!,
        end: got.ends[i]!,
        kind: got.runs[got.runOf[i]!]!.kind,
        source: got.runs[got.runOf[i]!]!.source,
      }));
      expect(flat, `round ${round}`).toEqual(referenceMerge(runs));
    }
  });

  it("redacts the union of overlapping matches of two rules in a storm, leaving no piece of either", () => {
    // password= takes "api_key:token"; generic_secret takes "password=api_key": they overlap.
    const storm = "password=api_key:token secret= ".repeat(2000);
    const out = new SecretRedactor().redact(storm);
    expect(out.text).not.toContain("api_key");
    expect(out.text).not.toContain("token");
    expect(out.text.startsWith("password=[REDACTED:password:1] secret= [REDACTED:")).toBe(true);
  });
});

describe("the native path (exec while matches are sparse, a marked replace once they are dense)", () => {
  const sparse = (n: number, i: number) =>
    `${"ordinary log line with nothing secret in it, ".repeat(n)}key ${i}: AKIAIOSFODNN7EXAMPL${String.fromCharCode(65 + (i % 26))}\n`;
  const storm = "password=api_key:token secret= ".repeat(400);

  it("finds the same spans as re2js when a text turns dense after a sparse start, and sparse again (ASCII and not)", () => {
    if (!tryEngine("re2")) {
      expect(loadRegexEngine("auto").name).toBe("re2js");
      return;
    }
    const a = new SecretRedactor({ engine: "re2" });
    const b = new SecretRedactor({ engine: "re2js" });
    // 40 matches 4 KB apart (no switch), then a storm (switch), then sparse ones again.
    const head = Array.from({ length: 40 }, (_, i) => sparse(90, i)).join("");
    const tail = Array.from({ length: 5 }, (_, i) => sparse(20, i + 40)).join("");
    for (const text of [`${head}${storm}${tail}`, `é🚀 ${head}ü ${storm}✓ ${tail}𝄞`]) {
      const spans = a.spans(text);
      expect(spans.length).toBe(445);
      expect(spans).toEqual(b.spans(text));
    }
  });

  it("reports UTF-16 offsets after characters of 2, 3 and 4 UTF-8 bytes and a lone surrogate", () => {
    const r = new SecretRedactor();
    for (const prefix of ["é", "✓", "🚀", "\uD800", "é✓🚀\uDC00"]) {
      const text = `${prefix} token: ghp_R2d2C3poBb8Ewok5Yoda9Luke1Leia7Han0S ${prefix}`;
      const [span] = r.spans(text);
      expect(text.slice(span!.start, span!.end)).toBe("ghp_R2d2C3poBb8Ewok5Yoda9Luke1Leia7Han0S");
    }
  });

  it("is not fooled by text made of the characters around the marker bytes (À, Á, U+C080)", () => {
    const r = new SecretRedactor();
    for (const s of SAMPLES) {
      const out = r.redact(`ÀÁ\u00C0\u00C1\uC080 ${s.text} \u00C1\u00C0`);
      expect(
        out.findings.map((f) => f.kind),
        s.kind,
      ).toContain(s.kind);
      expect(out.text).toContain(`[REDACTED:${s.kind}:`);
    }
  });
});

describe("texts vouched clean", () => {
  it("a short vouched text is scanned again once a known secret is added", () => {
    const r = new SecretRedactor();
    const text = "deploy with Xk3hq8LpQ2 now";
    r.vouch(text);
    expect(r.redact(text).text).toBe(text);
    r.known.add("DEPLOY_PASSWORD", "Xk3hq8LpQ2");
    expect(r.redact(text).text).toBe("deploy with [REDACTED:DEPLOY_PASSWORD:1] now");
  });
});

describe("the keyword check for short strings (keyword-scan.ts)", () => {
  it("finds a keyword at any position and in any ASCII case, and nothing in text without one", () => {
    const any = keywordScanner(["ghp_", "password", "q~", "x"])!;
    expect(any("ends with GHP_")).toBe(true);
    expect(any("PassWord at the start")).toBe(true);
    expect(any("a q~ pair")).toBe(true);
    expect(any("one X")).toBe(true);
    expect(any("gh p_ passwor d q ~")).toBe(false);
    expect(any("")).toBe(false);
  });

  it("folds ſ and the Kelvin sign as RE2 does, so a rule that would match is never skipped", () => {
    const r = new SecretRedactor();
    // RE2's (?i) matches "ſecret" and "api_Key" (Kelvin sign): the quick check must let them through.
    for (const text of ["\u017Fecret=Zx9Qw7Er5Ty3Ui1Op", "api_\u212Aey=Zx9Qw7Er5Ty3Ui1Op"]) {
      expect(keywordScanner(["secret", "key"])!(text)).toBe(true);
      expect(r.redact(text).text, text).not.toContain("Zx9Qw7Er5Ty3Ui1Op");
    }
  });

  it("finds a keyword with a space (looked for by a pair without one) at every offset, short text or long", () => {
    // Literals with a space are looked for by a pair of their own that holds none (a pair with a
    // space is common in prose); this checks every start parity, both scan paths (in place up to 96
    // characters, in words beyond), every case, and a space pair at the literal's end or start.
    const literals = ["private key", "e k", "ab cd", " xyz", "xyz "];
    const any = keywordScanner(literals)!;
    const prose = "The quarterly report lists revenue by region, the open invoices and the notes. ";
    for (const literal of literals)
      for (const pad of [0, 1, 2, 3, 7, 8, 90, 91, 200, 201])
        for (const form of [literal, literal.toUpperCase()]) {
          const text = `${prose.repeat(4).slice(0, pad)}${form}${"z".repeat(pad % 3)}`;
          expect(any(text), JSON.stringify(text)).toBe(true);
        }
    expect(any(prose.repeat(20))).toBe(false);
    expect(any("privatekey private_key e_k ab_cd")).toBe(false);
  });

  it("answers one literal found with a shared frozen list, and forgets it for the next text", () => {
    const scan = keywordScan(["a1x", "b2y", "A1X"])!;
    const one = scan.which("zz a1x zz");
    expect([...one].sort()).toEqual([0, 2]);
    expect(Object.isFrozen(one)).toBe(true);
    // The same literal again, then with another: each answer is whole (nothing left marked).
    expect([...scan.which("A1X")].sort()).toEqual([0, 2]);
    expect([...scan.which("b2y a1x")].sort()).toEqual([0, 1, 2]);
    expect(scan.which("nothing")).toHaveLength(0);
    expect([...scan.which("a1x")].sort()).toEqual([0, 2]);
  });

  it("runs every rule of a keyword found alone, in rule order, and each rule once with keywords listed twice", () => {
    const rules = [
      { id: "first", description: "test", pattern: "zq1=(\\w+)", keywords: ["zq1"], group: 1 },
      {
        id: "second",
        description: "test",
        pattern: "(?:zq1|xw2)-(\\w+)",
        keywords: ["zq1", "xw2", "zq1"],
        group: 1,
      },
      { id: "third", description: "test", pattern: "xw2=(\\w+)", keywords: ["xw2"], group: 1 },
    ];
    const r = new SecretRedactor({ rules });
    // One keyword (its rules alone), the other alone, then both (the union of their rules).
    const one = r.redact("zq1=alpha zq1-beta");
    expect(one.text).toBe("zq1=[REDACTED:first:1] zq1-[REDACTED:second:1]");
    expect(one.findings.map((f) => f.kind)).toEqual(["first", "second"]);
    const other = r.redact("xw2-gamma xw2=delta");
    expect(other.text).toBe("xw2-[REDACTED:second:2] xw2=[REDACTED:third:1]");
    const both = r.redact("zq1=alpha xw2=delta zq1-beta");
    expect(both.text).toBe("zq1=[REDACTED:first:1] xw2=[REDACTED:third:1] zq1-[REDACTED:second:1]");
    expect(both.findings).toHaveLength(3);
  });

  it("gives way to a regular expression when a keyword is not ASCII", () => {
    expect(keywordScanner(["pässword"])).toBeUndefined();
    const r = new SecretRedactor({
      rules: [
        { id: "umlaut", description: "test", pattern: "pässword=(\\S+)", keywords: ["pässword"], group: 1 },
      ],
    });
    expect(r.redact("PÄSSWORD=x1y2z3 pässword=abc123").text).toBe(
      "PÄSSWORD=x1y2z3 pässword=[REDACTED:umlaut:1]",
    );
  });
});
