import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createHarness, defineTool, type ReinEvent } from "../../src/index.js";
import { EventRedactor } from "../../src/security/event-redactor.js";
import { keywordScan } from "../../src/security/keyword-scan.js";
import { SecretRedactor } from "../../src/security/redactor.js";
import { SECRET_RULES } from "../../src/security/secret-rules.js";
import { recordingSink, scriptedModel } from "../../src/testing.js";
import { SAMPLES } from "./secret-samples.js";

/**
 * The per-step fast paths of redaction (issue 20, the loop benchmark): each one is shown here to
 * still catch the secret it could otherwise let through.
 */

const PROSE =
  "The quarterly report lists revenue by region, the open invoices and the notes from the review. ";
/** `n` characters of prose (no keyword of any rule) around `middle`, which gets a line of its own. */
const around = (middle: string, n: number) => {
  const half = PROSE.repeat(Math.ceil(n / PROSE.length)).slice(0, n >> 1);
  return `${half}\n${middle}\n${half}`;
};

describe("the JavaScript keyword scan (texts up to 4 KB: no native prefilter)", () => {
  it("reports every keyword that occurs, not only the first, in any case", () => {
    const words = ["ghp_", "password", "q~", "x", "://", "PassWord"];
    const scan = keywordScan(words)!;
    expect([...scan.which("GHP_a then PASSWORD and https://h")].sort()).toEqual([0, 1, 4, 5]);
    expect(scan.which("no literal here at all")).toEqual([]);
    expect([...scan.which("a q~ and an X")].sort()).toEqual([2, 3]);
    expect(scan.any("ends with Q~")).toBe(true);
  });

  it("folds ſ and the Kelvin sign (the characters RE2 folds onto ASCII) in `which` too", () => {
    const scan = keywordScan(["secret", "key"])!;
    expect([...scan.which("\u017Fecret and api_\u212Aey")].sort()).toEqual([0, 1]);
  });

  it("every sample secret inside ~1 KB and ~3 KB of prose is redacted (the quick path), as inside 8 KB (the native one)", () => {
    for (const size of [1000, 3000, 8000]) {
      const r = new SecretRedactor();
      for (const s of SAMPLES) {
        const out = r.redact(around(s.text, size));
        expect(out.text, `${s.kind} in ${size} chars`).not.toContain(s.secret);
        expect(
          out.findings.map((f) => f.kind),
          `${s.kind} in ${size} chars`,
        ).toContain(s.kind);
      }
    }
  });

  it("runs the rules of every keyword found: two secrets of different rules in one short text are both redacted", () => {
    const r = new SecretRedactor();
    const aws = SAMPLES.find((s) => s.kind === "aws_access_key")!;
    const gh = SAMPLES.find((s) => s.kind === "github_token")!;
    const out = r.redact(around(`${aws.text}\n${gh.text}`, 600));
    expect(out.text).not.toContain(aws.secret);
    expect(out.text).not.toContain(gh.secret);
    expect(out.findings.map((f) => f.kind).sort()).toEqual(["aws_access_key", "github_token"]);
  });

  it("finds the same keywords as the literal definition (lower-cased includes) on 300 generated texts", () => {
    const words = [...new Set(SECRET_RULES.flatMap((rule) => rule.keywords))];
    const scan = keywordScan(words)!;
    let s = 7;
    const rand = () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    const pieces = [
      ...words,
      ...words.map((w) => w.toUpperCase()),
      " ",
      "a",
      "é",
      "-",
      "_",
      ":",
      "/",
      "k",
      "s",
    ];
    for (let t = 0; t < 300; t++) {
      let text = "";
      while (text.length < 200) text += pieces[Math.floor(rand() * pieces.length)];
      const lower = text.toLowerCase();
      const expected = words.flatMap((w, i) => (lower.includes(w) ? [i] : []));
      expect([...scan.which(text)].sort((a, b) => a - b)).toEqual(expected);
    }
  });
});

describe("texts vouched clean (the spotlighted result, not scanned again by its event)", () => {
  it("a long vouched text is scanned again once a known secret is added", () => {
    const r = new SecretRedactor();
    const text = around("deploy with Xk3hq8LpQ2Zz now", 600);
    r.vouch(text);
    expect(r.redact(text).text).toBe(text);
    r.known.add("DEPLOY_PASSWORD", "Xk3hq8LpQ2Zz");
    expect(r.redact(text).text).toContain("deploy with [REDACTED:DEPLOY_PASSWORD:1] now");
  });

  it("a text of the same length as a vouched one but other content is scanned", () => {
    const r = new SecretRedactor();
    const gh = SAMPLES.find((s) => s.kind === "github_token")!;
    const secretText = around(gh.text, 600);
    const clean = "x".repeat(secretText.length);
    r.vouch(clean);
    expect(r.redact(secretText).text).not.toContain(gh.secret);
  });

  it("only the last 16 are remembered: an older one is scanned again", () => {
    const r = new SecretRedactor();
    r.known.add("K", "Zq9Wx8Ec7Rv6");
    // Vouching is a promise by the caller; here the first one is (wrongly) vouched to show it expires.
    const first = around("Zq9Wx8Ec7Rv6", 400);
    r.vouch(first);
    expect(r.redact(first).text).toBe(first);
    for (let i = 0; i < 16; i++) r.vouch(around(`entry ${i}`, 400));
    expect(r.redact(first).text).toContain("[REDACTED:K:1]");
  });
});

/** A frozen list of frozen records, as a call's stage list is: enough entries to be remembered. */
const stageList = (note: string) =>
  Object.freeze(
    ["validate", "classify", "guards", "approve"].map((stage) =>
      Object.freeze({ stage, outcome: "pass", by: "rein", note: stage === "guards" ? note : "ok" }),
    ),
  );

describe("frozen records inside an event, remembered clean by identity", () => {
  it("the same object is scanned again under another registry's known values (another harness)", () => {
    const stages = stageList("reads Xk3hq8LpQ2Zz");
    const plain = new SecretRedactor();
    for (let i = 0; i < 3; i++) expect(plain.redactValue({ turn: i, stages }).stages).toBe(stages);
    const holding = new SecretRedactor({ knownSecrets: [{ label: "DB_PASSWORD", value: "Xk3hq8LpQ2Zz" }] });
    const out = holding.redactValue({ turn: 3, stages }).stages;
    expect(JSON.stringify(out)).not.toContain("Xk3hq8LpQ2Zz");
    expect(out[2]!.note).toBe("reads [REDACTED:DB_PASSWORD:1]");
  });

  it("the same object is scanned again once a known secret is added to the same registry", () => {
    const r = new SecretRedactor();
    const stages = stageList("reads Xk3hq8LpQ2Zz");
    for (let i = 0; i < 3; i++) expect(r.redactValue({ turn: i, stages }).stages).toBe(stages);
    r.known.add("DB_PASSWORD", "Xk3hq8LpQ2Zz");
    expect(r.redactValue({ turn: 3, stages }).stages[2]!.note).toBe("reads [REDACTED:DB_PASSWORD:1]");
  });

  it("a frozen list holding a mutable record is never skipped: a secret put into it later is redacted", () => {
    const r = new SecretRedactor();
    const gh = SAMPLES.find((s) => s.kind === "github_token")!;
    const mutable = { stage: "hooks", outcome: "pass", by: "hooks", note: "nothing here yet" };
    const stages = Object.freeze([...stageList("ok"), mutable]);
    for (let i = 0; i < 3; i++) expect(r.redactValue({ turn: i, stages }).stages).toBe(stages);
    mutable.note = gh.text;
    expect(JSON.stringify(r.redactValue({ turn: 3, stages }))).not.toContain(gh.secret);
  });

  it("a frozen list holding a getter is never skipped: what the getter answers next is redacted", () => {
    const r = new SecretRedactor();
    const gh = SAMPLES.find((s) => s.kind === "github_token")!;
    let value = "nothing here yet";
    const withGetter = Object.freeze(
      Object.defineProperty({ stage: "hooks", outcome: "pass" }, "note", {
        enumerable: true,
        get: () => value,
      }),
    );
    const stages = Object.freeze([...stageList("ok"), withGetter]);
    for (let i = 0; i < 3; i++) r.redactValue({ turn: i, stages });
    value = gh.text;
    expect(JSON.stringify(r.redactValue({ turn: 3, stages }))).not.toContain(gh.secret);
  });

  it("past the ring's size, every record is still right: a known value added later is found in each", () => {
    const r = new SecretRedactor();
    const lists = Array.from({ length: 40 }, (_, i) => stageList(`step ${i} uses Xk3hq8LpQ2Zz`));
    for (let round = 0; round < 2; round++)
      for (const stages of lists) expect(r.redactValue({ turn: round, stages }).stages).toBe(stages);
    r.known.add("DB_PASSWORD", "Xk3hq8LpQ2Zz");
    for (const [i, stages] of lists.entries())
      expect(r.redactValue({ turn: 2, stages }).stages[2]!.note).toBe(
        `step ${i} uses [REDACTED:DB_PASSWORD:1]`,
      );
  });

  it("a short string found clean by a scan (a call's id) is redacted once its value becomes a known secret", () => {
    const r = new SecretRedactor();
    const id = "toolu_Zq9Wx8Ec7Rv6";
    for (let i = 0; i < 3; i++)
      expect(r.redactValue({ callId: id, turn: i })).toEqual({ callId: id, turn: i });
    r.known.add("K", "Zq9Wx8Ec7Rv6");
    expect(r.redactValue({ callId: id, turn: 3 }).callId).toBe("toolu_[REDACTED:K:1]");
  });
});

describe("frozen objects found clean (walked once, not per event)", () => {
  it("a frozen clean object is walked again once a known secret is added", () => {
    const r = new SecretRedactor();
    const risk = Object.freeze({ level: "LOW", reason: "reads Xk3hq8LpQ2Zz" });
    expect(r.redactValue({ risk }).risk).toBe(risk);
    r.known.add("SECRET", "Xk3hq8LpQ2Zz");
    expect(r.redactValue({ risk }).risk).toEqual({ level: "LOW", reason: "reads [REDACTED:SECRET:1]" });
  });

  it("a frozen object holding a mutable object is not remembered: a secret put into it later is redacted", () => {
    const r = new SecretRedactor();
    const inner: { note: string } = { note: "nothing here yet" };
    const outer = Object.freeze({ inner });
    expect(r.redactValue(outer)).toBe(outer);
    const gh = SAMPLES.find((s) => s.kind === "github_token")!;
    inner.note = gh.text;
    expect(JSON.stringify(r.redactValue(outer))).not.toContain(gh.secret);
  });

  it("a frozen object with a getter is not remembered: what the getter answers next is redacted", () => {
    const r = new SecretRedactor();
    const gh = SAMPLES.find((s) => s.kind === "github_token")!;
    let value = "nothing here yet";
    const obj = Object.freeze(
      Object.defineProperty({}, "note", { enumerable: true, get: () => value }) as { note: string },
    );
    expect(r.redactValue(obj).note).toBe("nothing here yet");
    value = gh.text;
    expect(r.redactValue(obj).note).not.toContain(gh.secret);
  });

  it("the event filter redacts a secret in an event field next to frozen shared records", () => {
    const r = new SecretRedactor();
    const filter = new EventRedactor(r);
    const stage = Object.freeze({ stage: "classify", outcome: "pass", by: "policy:rein" });
    const aws = SAMPLES.find((s) => s.kind === "aws_access_key")!;
    for (let i = 0; i < 3; i++) {
      const data = filter.filter("tool_call_decided", {
        turn: i,
        callId: `toolu_${i}`,
        tool: "read",
        verdict: "allow",
        risk: Object.freeze({ level: "LOW", reason: "ok", rule: "r" }),
        approval: null,
        stages: [stage, { stage: "hooks", outcome: "deny", by: "hooks", note: `saw ${aws.text}` }],
      } as never) as unknown as { stages: { note?: string }[] };
      expect(data.stages[0]).toBe(stage);
      expect(data.stages[1]!.note).not.toContain(aws.secret);
    }
  });
});

describe("in a session: every result different, as in the loop benchmark", () => {
  it("a secret inside one ~1 KB result among many clean ones reaches neither the model, the events nor the stream", async () => {
    const gh = SAMPLES.find((s) => s.kind === "github_token")!;
    let n = 0;
    const sink = recordingSink();
    const h = createHarness({
      model: scriptedModel({
        name: "loop",
        turns: [
          {
            tool_calls: [
              { tool: "read", input: {} },
              { tool: "read", input: {} },
            ],
            repeat: 10,
          },
          { say: "done" },
        ],
      }),
      tools: [
        defineTool({
          name: "read",
          description: "reads",
          input: z.object({}),
          risk: { level: "LOW", reason: "read-only" },
          execute: () => {
            n++;
            return around(n === 13 ? gh.text : `call ${n}`, 1000);
          },
        }),
      ],
      sinks: [sink],
      security: { redact: true, spotlight: true, detect: false, secretsFromEnv: false },
    });
    const session = h.session();
    const streamed: ReinEvent[] = [];
    const stream = session.stream("go");
    for await (const e of stream) streamed.push(e);
    expect((await stream.result).toolCalls).toBe(20);
    expect(JSON.stringify(session.messages)).not.toContain(gh.secret);
    expect(JSON.stringify(sink.events)).not.toContain(gh.secret);
    expect(JSON.stringify(streamed)).not.toContain(gh.secret);
    expect(JSON.stringify(session.messages)).toContain("[REDACTED:github_token:1]");
  });
});

describe("the post-process stage runs processors synchronously until one answers a promise", () => {
  const echo = defineTool({
    name: "echo",
    description: "echoes",
    input: z.object({ text: z.string() }),
    risk: { level: "LOW", reason: "read-only" },
    execute: ({ text }) => text,
  });
  const turns = [{ tool_calls: [{ tool: "echo", input: { text: "a" } }] }, { say: "done" }];
  const contentOf = (messages: readonly unknown[]) => JSON.stringify(messages[2]);

  it("chains sync, async and sync processors, then an async hook, in order, and records each pass", async () => {
    const sink = recordingSink();
    const h = createHarness({
      model: scriptedModel({ name: "p", turns }),
      tools: [echo],
      sinks: [sink],
      security: { redact: false, spotlight: false, detect: false },
      resultProcessors: [
        { name: "one", process: (o) => (o.ok ? { ...o, content: `${o.content}1` } : o) },
        { name: "two", process: async (o) => (o.ok ? { ...o, content: `${o.content}2` } : o) },
        { name: "three", process: (o) => (o.ok ? { ...o, content: `${o.content}3` } : o) },
      ],
      hooks: { afterToolCall: async (_call, o) => (o.ok ? { ...o, content: `${o.content}h` } : o) },
    });
    const r = await h.session().run("go");
    expect(contentOf(r.messages)).toContain('"a123h"');
    const finished = sink.ofType("tool_call_finished")[0]!.data;
    expect(finished.stages.map((s) => `${s.by}:${s.outcome}`)).toEqual([
      "processor:one:pass",
      "processor:two:pass",
      "processor:three:pass",
      "hook:afterToolCall:pass",
    ]);
  });

  it("a processor whose promise rejects withholds the result; the ones after it never run", async () => {
    let after = 0;
    const h = createHarness({
      model: scriptedModel({ name: "p", turns }),
      tools: [echo],
      security: { redact: false, spotlight: false, detect: false },
      resultProcessors: [
        { name: "scanner", process: () => Promise.reject(new Error("engine down")) },
        {
          name: "later",
          process: (o) => {
            after++;
            return o;
          },
        },
      ],
    });
    const r = await h.session().run("go");
    expect(contentOf(r.messages)).toContain("The result was withheld: processor");
    expect(contentOf(r.messages)).toContain("scanner");
    expect(after).toBe(0);
  });

  it("an async hook that rejects, or resolves to garbage, withholds the result", async () => {
    for (const afterToolCall of [
      () => Promise.reject(new Error("hook down")),
      () => Promise.resolve({ ok: "yes" } as never),
    ]) {
      const h = createHarness({
        model: scriptedModel({ name: "p", turns }),
        tools: [echo],
        security: { redact: false, spotlight: false, detect: false },
        hooks: { afterToolCall },
      });
      const r = await h.session().run("go");
      expect(contentOf(r.messages)).toContain("The result was withheld: the afterToolCall hook failed.");
    }
  });

  it("with redaction on, a secret is redacted before a later async processor and the hook see the result", async () => {
    const aws = SAMPLES.find((s) => s.kind === "aws_access_key")!;
    const seen: string[] = [];
    const h = createHarness({
      model: scriptedModel({
        name: "p",
        turns: [{ tool_calls: [{ tool: "echo", input: { text: aws.text } }] }, { say: "done" }],
      }),
      tools: [echo],
      security: { redact: true, spotlight: true, detect: false, secretsFromEnv: false },
      resultProcessors: [
        {
          name: "peek",
          process: async (o) => {
            if (o.ok) seen.push(o.content);
            return o;
          },
        },
      ],
      hooks: {
        afterToolCall: (_call, o) => {
          if (o.ok) seen.push(o.content);
          return o;
        },
      },
    });
    const r = await h.session().run("go");
    expect(seen).toHaveLength(2);
    // The tool result as the model reads it (messages[1] is the model's own call, which it wrote).
    for (const text of [...seen, contentOf(r.messages)]) expect(text).not.toContain(aws.secret);
    expect(contentOf(r.messages)).toContain("[REDACTED:aws_access_key:1]");
  });
});

describe("rule prechecks (a rule whose keyword is common is not run when it cannot match)", () => {
  const rule = SECRET_RULES.find((r) => r.id === "url_password")!;

  it("url_password: a URL with credentials among many without is still redacted", () => {
    const r = new SecretRedactor();
    const urls = "see https://example.com/docs and http://h:8080/x?q=a@b and ftp://files/a:b@c ";
    const text = `${urls.repeat(5)}DATABASE_URL=postgres://app:s3cr3tP4ss@db/app ${urls}`;
    const out = r.redact(text);
    expect(out.text).not.toContain("s3cr3tP4ss");
    expect(out.findings.map((f) => f.kind)).toEqual(["url_password"]);
    // Without credentials the precheck says no, and nothing is found.
    expect(rule.precheck!(urls.repeat(3))).toBe(false);
    expect(r.redact(urls.repeat(3)).findings).toEqual([]);
  });

  it("url_password's precheck never says no where the rule matches (2,000 generated texts)", () => {
    // The rule itself, without its precheck or its placeholder check: every match counts.
    const r = new SecretRedactor({ rules: [{ ...rule, precheck: undefined, validate: undefined }] });
    let s = 11;
    const rand = () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    const chars = [
      "a",
      "Z",
      "9",
      "é",
      ":",
      "@",
      "/",
      "?",
      "#",
      " ",
      "\t",
      "\v",
      "\f",
      "\r",
      "'",
      '"',
      ".",
      "ab",
      "\u00a0",
    ];
    const seg = () => {
      let out = "";
      for (let n = Math.floor(rand() * 4); n > 0; n--) out += chars[Math.floor(rand() * chars.length)];
      return out;
    };
    let matched = 0;
    for (let t = 0; t < 2000; t++) {
      // Around a URL-like shape, characters that end or continue its authority.
      const text = `${seg()}db${seg()}://${seg()}${rand() < 0.7 ? ":" : ""}${seg()}${rand() < 0.7 ? "@" : ""}${seg()}`;
      if (r.spans(text).length > 0) {
        matched++;
        expect(rule.precheck!(text), JSON.stringify(text)).toBe(true);
      }
    }
    expect(matched).toBeGreaterThan(20);
  });
});

describe("the keyword scan's edges", () => {
  it("finds keywords at every offset, at the end, past the scratch buffer, and through ſ and the Kelvin sign", () => {
    const scan = keywordScan(["secret", "key", "://", "q~"])!;
    for (let pad = 0; pad < 6; pad++) {
      const p = "x".repeat(pad);
      expect(scan.which(`${p}SeCrEt`), `secret at ${pad}`).toEqual([0]);
      expect(scan.which(`${p}\u017Fecret`), `ſecret at ${pad}`).toEqual([0]);
      expect(scan.which(`${p}\u212Aey`), `Kelvin key at ${pad}`).toEqual([1]);
      expect(scan.which(`${p}a://`), `:// at ${pad}`).toEqual([2]);
      expect(scan.which(`${p}Q~`), `q~ at ${pad}`).toEqual([3]);
      expect(scan.which(`${p}secre`), `cut-off at ${pad}`).toEqual([]);
    }
    const long = `${"y".repeat(20_001)}key`;
    expect(scan.which(long)).toEqual([1]);
    expect(scan.any(long)).toBe(true);
    // The scratch buffer keeps a longer text's bytes: a shorter text after it finds nothing of them.
    scan.which(`${"z".repeat(100)}secret`);
    expect(scan.which("z".repeat(50))).toEqual([]);
  });
});
