import { describe, expect, it } from "vitest";
import { KnownValues, knownSecretsFromEnv } from "../../src/security/known-values.js";
import { loadRegexEngine, WHOLE_ABOVE, withoutCaptures } from "../../src/security/linear-regex.js";
import { SecretRedactor, shannonEntropy } from "../../src/security/redactor.js";
import { BENIGN, SAMPLES } from "./secret-samples.js";

/** Every 8-character window of the secret: none may survive. */
function leaks(output: string, secret: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 8 <= secret.length; i++)
    if (output.includes(secret.slice(i, i + 8))) out.push(secret.slice(i, i + 8));
  return out;
}

describe.each(["auto", "re2js"] as const)("secret rules (engine %s)", (engine) => {
  const fresh = () => new SecretRedactor({ engine });

  it.each(SAMPLES.map((s) => [s.kind, s] as const))(
    "redacts a %s in context, leaving no 8-char piece of it",
    (_kind, s) => {
      const r = fresh().redact(s.text);
      expect(r.findings.map((f) => f.kind)).toContain(s.kind);
      expect(leaks(r.text, s.secret)).toEqual([]);
      expect(r.text).toContain(`[REDACTED:${s.kind}:1]`);
    },
  );

  it.each(BENIGN.map((t) => [t]))("leaves ordinary text alone: %s", (text) => {
    const r = fresh().redact(text);
    expect(r.findings).toEqual([]);
    expect(r.text).toBe(text);
  });

  it("keeps the key of an assignment and replaces only the value", () => {
    expect(fresh().redact("db_password=Xk3-hq8!Lp").text).toBe("db_password=[REDACTED:password:1]");
  });
});

describe("placeholders", () => {
  it("are stable within a redactor: the same secret gets the same number, another gets the next", () => {
    const r = new SecretRedactor();
    const a = "ghp_R2d2C3poBb8Ewok5Yoda9Luke1Leia7Han0S";
    const b = "ghp_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8";
    expect(r.redact(`first ${a}`).text).toBe("first [REDACTED:github_token:1]");
    expect(r.redact(`other ${b} then ${a}`).text).toBe(
      "other [REDACTED:github_token:2] then [REDACTED:github_token:1]",
    );
    // A new redactor (a new session) starts again at 1.
    expect(new SecretRedactor().redact(b).text).toBe("[REDACTED:github_token:1]");
  });

  it("merge overlapping matches, so no part of either secret survives", () => {
    const r = new SecretRedactor({ knownSecrets: [{ label: "DB_PASSWORD", value: "Hunter2!xyz" }] });
    const out = r.redact("postgres://u:Hunter2!xyz@h/db password=Hunter2!xyz");
    expect(out.text).not.toContain("Hunter2");
    expect(out.findings.every((f) => f.placeholder.startsWith("[REDACTED:"))).toBe(true);
  });
});

describe("known values", () => {
  it("redacts a value the harness holds wherever it appears, also URL-encoded, base64 and JSON-escaped", () => {
    const value = 'pl41n-v@lue/with"quote';
    const r = new SecretRedactor({ knownSecrets: [{ label: "SANDBOX_DB_PASS", value }] });
    for (const form of [
      value,
      encodeURIComponent(value),
      Buffer.from(value).toString("base64"),
      JSON.stringify(value).slice(1, -1),
    ]) {
      const out = r.redact(`x ${form} y`);
      expect(out.text).toBe("x [REDACTED:SANDBOX_DB_PASS:1] y");
      expect(out.findings[0]?.source).toBe("known");
    }
  });

  it("picks credentials out of an environment by name, ignoring short values and ordinary variables", () => {
    const found = knownSecretsFromEnv({
      OPENAI_API_KEY: "sk-test-abcdefgh12345678",
      GITHUB_TOKEN: "ghp_abc",
      PATH: "/usr/bin:/bin:/usr/local/bin",
      DB_PASSWORD: "longenough1",
      HOME: "/root",
    });
    expect(found.map((s) => s.label).sort()).toEqual(["DB_PASSWORD", "OPENAI_API_KEY"]);
  });

  it("ignores values shorter than 8 characters, which would shred ordinary text", () => {
    const k = new KnownValues([{ label: "X", value: "1234567" }]);
    expect(k.size).toBe(0);
  });
});

describe("size caps and hostile input", () => {
  it("withholds text past maxInputChars instead of passing it unscanned", () => {
    const r = new SecretRedactor({ maxInputChars: 64 });
    const text = `${"a".repeat(60)} AKIAIOSFODNN7EXAMPLE`;
    const out = r.redact(text);
    expect(out.text).toBe(`${"a".repeat(60)} AKI[REDACTED:oversize:17 chars]`);
  });

  it("runs rules on a linear-time engine: a pattern that backtracks exponentially in V8 finishes", () => {
    // (a+)+$ on 'a'*40 + '!' takes ~2^40 steps in a backtracking engine; RE2 answers at once.
    for (const name of ["re2js", ...(tryEngine("re2") ? (["re2"] as const) : [])] as const) {
      const re = loadRegexEngine(name).compile("(a+)+$", { ignoreCase: false });
      expect(re.matches(`${"a".repeat(40)}!`, 0)).toEqual([]);
    }
  });

  it("redacts every secret of a long adversarial line (a PEM header with no end, near-miss tokens)", () => {
    const r = new SecretRedactor();
    const hostile = `-----BEGIN RSA PRIVATE KEY-----${" MIIE".repeat(20_000)} tail password=${"p".repeat(1000)}`;
    const out = r.redact(hostile);
    expect(out.text.startsWith("[REDACTED:private_key:1]")).toBe(true);
    expect(out.text).not.toContain("MIIE");
  });

  it("measures entropy in bits per character", () => {
    expect(shannonEntropy("aaaa")).toBe(0);
    expect(shannonEntropy("abcd")).toBe(2);
  });
});

describe("redactValue", () => {
  it("copies only what changed and returns the same object when nothing was found", () => {
    const r = new SecretRedactor();
    const clean = Object.freeze({ a: "hello world", b: [1, "plain text here"] });
    expect(r.redactValue(clean)).toBe(clean);
    const dirty = Object.freeze({
      cmd: "curl -u x:y",
      env: Object.freeze({ AWS: "AKIAIOSFODNN7EXAMPLE" }),
      keep: clean,
    });
    const out = r.redactValue(dirty);
    expect(out).not.toBe(dirty);
    expect(out.env.AWS).toBe("[REDACTED:aws_access_key:1]");
    expect(out.keep).toBe(clean);
    expect(dirty.env.AWS).toBe("AKIAIOSFODNN7EXAMPLE");
  });
});

function tryEngine(name: "re2"): boolean {
  try {
    loadRegexEngine(name);
    return true;
  } catch {
    return false;
  }
}

describe("engines agree", () => {
  it("re2 and re2js find the same spans on every sample, also after non-ASCII text", () => {
    if (!tryEngine("re2")) {
      // Only re2js loads here: the comparison needs both; say so instead of passing silently.
      expect(loadRegexEngine("auto").name).toBe("re2js");
      return;
    }
    const a = new SecretRedactor({ engine: "re2" });
    const b = new SecretRedactor({ engine: "re2js" });
    for (const s of SAMPLES) {
      for (const text of [s.text, `héllo 🚀 ${s.text} ✓`]) expect(a.spans(text), text).toEqual(b.spans(text));
    }
  });
});

describe("the fast path (matches found without groups, groups found per distinct match)", () => {
  it("withoutCaptures makes every capturing group non-capturing and leaves escapes and classes alone", () => {
    expect(withoutCaptures("a(b+)c")).toBe("a(?:b+)c");
    expect(withoutCaptures("(?i)x(?:y)(z)")).toBe("(?i)x(?:y)(?:z)");
    expect(withoutCaptures("\\(a\\)[(](b)")).toBe("\\(a\\)[(](?:b)");
    expect(withoutCaptures("[]()](c)[^]x](d)")).toBe("[]()](?:c)[^]x](?:d)");
    expect(withoutCaptures("(?P<name>e)f")).toBe("(?:e)f");
  });

  it("re2 agrees with re2js on a text that repeats every sample hundreds of times, and one carrying the marker characters", () => {
    if (!tryEngine("re2")) {
      expect(loadRegexEngine("auto").name).toBe("re2js");
      return;
    }
    const a = new SecretRedactor({ engine: "re2" });
    const b = new SecretRedactor({ engine: "re2js" });
    const storm = Array.from({ length: 300 }, (_, i) => SAMPLES[i % SAMPLES.length]!.text).join("\n");
    const found = a.spans(storm);
    expect(found.length).toBeGreaterThanOrEqual(300);
    expect(found).toEqual(b.spans(storm));
    // Private-use characters the fast path uses as markers: the exact path takes over.
    const marked = `\uE000${storm}\uE001`;
    expect(a.spans(marked)).toEqual(b.spans(marked));
    for (const s of SAMPLES)
      expect(leaks(a.redact(`\uE001${s.text}\uE000`).text, s.secret), s.kind).toEqual([]);
  });

  it("a match longer than WHOLE_ABOVE is redacted whole (its name too): nothing of the value is left", () => {
    if (!tryEngine("re2")) {
      expect(loadRegexEngine("auto").name).toBe("re2js");
      return;
    }
    const block = "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY";
    const value = block.repeat(Math.ceil((WHOLE_ABOVE + 10) / 32));
    const r = new SecretRedactor({ engine: "re2" });
    const out = r.redact(`before api_key=${value} after`);
    expect(out.text).toBe("before [REDACTED:generic_secret:1] after");
    expect(leaks(out.text, value.slice(0, 64))).toEqual([]);
    // Just under the limit, only the value goes.
    const short = block.repeat(Math.floor((WHOLE_ABOVE - 40) / 32));
    expect(r.redact(`api_key=${short}`).text).toBe("api_key=[REDACTED:generic_secret:2]");
  });
});

describe("a redactor reused across texts", () => {
  it("finds a secret early in a text after a match far into the previous one (no state carried over)", () => {
    const r = new SecretRedactor();
    const key = "AKIAIOSFODNN7EXAMPLE";
    expect(r.redact(`${"x ".repeat(5000)}${key}`).findings).toHaveLength(1);
    expect(r.redact(`${key} at the start`).text).toBe("[REDACTED:aws_access_key:1] at the start");
    expect(r.redact(`${key} again`).findings).toHaveLength(1);
  });
});
