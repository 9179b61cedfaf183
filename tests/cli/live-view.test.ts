import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { LiveView } from "../../src/cli/live-view.js";
import { terminalSafe, terminalSafeJson, terminalSafeText } from "../../src/cli/terminal-text.js";
import { defineTool } from "../../src/index.js";
import { scriptHarness, tempDir } from "../helpers.js";

const ESC = "\u001b";
const CLEAR = `${ESC}[2J${ESC}[H`;
const LINK = `${ESC}]8;;https://evil.example/${ESC}\\click me${ESC}]8;;${ESC}\\`;
const BELL_LINK = `${ESC}]8;;https://evil.example/\u0007here${ESC}]8;;\u0007`;
const OVERWRITE = "rm -rf / \rls -la    ";
const BIDI = "safe\u202Ecod.exe\u202C \u2066hidden\u2069";
const INVISIBLE = "a\u200Bb\u200Dc\uFEFFd\u{E0041}\u{E0042}";
const C1 = "csi\u009B31m and del\u007F";

/** Characters that must never reach the terminal from model, tool or error text. */
const FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF\u{E0000}-\u{E007F}]/u;

/** A stream that keeps the exact bytes written. */
function capture(options: { tty?: boolean } = {}) {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, "utf8"));
      done();
    },
  }) as Writable & { isTTY?: boolean };
  if (options.tty) stream.isTTY = true;
  return { stream, bytes: () => Buffer.concat(chunks), text: () => Buffer.concat(chunks).toString("utf8") };
}

/** A run whose model puts every trick into its text, a tool name, a tool input, a result and an error. */
async function hostileRun(out: Writable) {
  const echo = defineTool({
    name: "echo",
    description: "echoes",
    input: z.object({ text: z.string() }),
    risk: { level: "LOW", reason: "pure" },
    execute: ({ text }) => `echoed ${text}`,
  });
  const fail = defineTool({
    name: "fail",
    description: "fails",
    input: z.object({}),
    risk: { level: "LOW", reason: "pure" },
    execute: () => {
      throw new Error(`disk full${CLEAR}\rall good`);
    },
  });
  const view = new LiveView(out);
  const h = scriptHarness(
    [
      {
        say: `Hello.\nSecond line ${CLEAR}${OVERWRITE}\r\n${LINK} ${BELL_LINK}\n${BIDI} ${INVISIBLE} ${C1}`,
        tool_calls: [
          { tool: `evil${CLEAR}\rtool\u202E`, input: {} },
          { tool: "echo", input: { text: `${LINK}${OVERWRITE}${BIDI}${INVISIBLE}${C1}` } },
          { tool: "fail" },
        ],
      },
      { say: "done" },
    ],
    { tools: [echo, fail], sinks: [{ name: "live-view", handle: (e) => view.handle(e) }] },
  );
  const result = await h.session().run(`task with ${CLEAR}`);
  view.summary(result, undefined);
  return result;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("terminalSafe", () => {
  it.each([
    ["ESC sequences", `${CLEAR}x`, "\\x1b[2J\\x1b[Hx"],
    ["carriage return", "ok\rno", "ok\\rno"],
    ["OSC 8 hyperlinks", BELL_LINK, "\\x1b]8;;https://evil.example/\\x07here\\x1b]8;;\\x07"],
    ["DEL and C1 controls", C1, "csi\\x9b31m and del\\x7f"],
    ["bidi overrides and isolates", BIDI, "safe\\u202ecod.exe\\u202c \\u2066hidden\\u2069"],
    ["zero-width and tag characters", INVISIBLE, "a\\u200bb\\u200dc\\ufeffd\\u{e0041}\\u{e0042}"],
    ["newlines and tabs", "a\nb\tc", "a\\nb\\tc"],
    ["line separators and lone surrogates", "a\u2028b\uD800c", "a\\u2028b\\ud800c"],
  ])("shows %s as escapes", (_what, input, shown) => {
    expect(terminalSafe(input)).toBe(shown);
  });

  it("leaves ordinary text, accents, emoji and backslashes alone", () => {
    const text = "Größe: 3 ≤ 4 — “ok” 🙂 C:\\temp\\x1b";
    expect(terminalSafe(text)).toBe(text);
  });

  it("terminalSafeJson keeps JSON valid and equal in value, with no unsafe character left", () => {
    const value = { text: `${CLEAR}${OVERWRITE}${LINK}${BIDI}${INVISIBLE}${C1}\u2028\uD800`, n: [1, "ü🙂"] };
    const json = terminalSafeJson(JSON.stringify(value));
    expect(json).not.toMatch(FORBIDDEN);
    expect(json).not.toMatch(/[\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual(value);
  });

  it("terminalSafeText keeps newlines and tabs as layout, escapes the rest", () => {
    expect(terminalSafeText(`line one\n\tline two\r\n${ESC}[31m`)).toBe("line one\n\tline two\\r\n\\x1b[31m");
  });
});

describe("the live view cannot be spoofed", () => {
  it("no ESC, CR, C1, bidi or invisible character from the model, a tool or an error reaches the terminal", async () => {
    const out = capture();
    await hostileRun(out.stream);
    const bytes = out.bytes();
    expect(bytes.includes(0x1b)).toBe(false);
    expect(bytes.includes(0x0d)).toBe(false);
    const text = out.text();
    expect(text).not.toMatch(FORBIDDEN);
    // What was there is shown, escaped: in the text, the tool name, the tool input, the result and the error.
    expect(text).toContain("Second line \\x1b[2J\\x1b[Hrm -rf / \\rls -la    \\r\n");
    expect(text).toContain("→ evil\\x1b[2J\\x1b[H\\rtool\\u202e {}");
    expect(text).toContain("\\x1b]8;;https://evil.example/\\x1b\\click me\\x1b]8;;\\x1b\\");
    expect(text).toContain("safe\\u202ecod.exe\\u202c \\u2066hidden\\u2069");
    expect(text).toContain("a\\u200bb\\u200dc\\ufeffd\\u{e0041}\\u{e0042}");
    expect(text).toContain("csi\\x9b31m and del\\x7f");
    // JSON already escapes C0 characters in the input; the rest (bidi, invisible, C1) are escaped by the view.
    expect(text).toContain('→ echo {"text":"\\u001b]8;;https://evil.example/');
    expect(text).toContain('failed: disk full\\u001b[2J\\u001b[H\\rall good"}}');
    expect(text).toContain("task: task with \\x1b[2J\\x1b[H");
  });

  it("the model's ordinary newlines still read as indented lines", async () => {
    const out = capture();
    await hostileRun(out.stream);
    expect(out.text()).toContain("  Hello.\n  Second line ");
  });

  it("with colours on, the only escape sequences are the view's own colours", async () => {
    vi.stubEnv("NO_COLOR", undefined);
    vi.stubEnv("NODE_DISABLE_COLORS", undefined);
    vi.stubEnv("FORCE_COLOR", "1");
    const out = capture({ tty: true });
    await hostileRun(out.stream);
    const text = out.text();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the view's own colour sequences
    const sgr = /\u001b\[[0-9;]*m/g;
    expect(text.match(sgr)?.length ?? 0).toBeGreaterThan(10);
    expect(text.replace(sgr, "")).not.toMatch(FORBIDDEN);
    expect(text).not.toContain(`${ESC}[2J`);
    expect(text).not.toContain(`${ESC}]8;;`);
  });

  it("rein run prints the hostile script inert (the real CLI, raw bytes of stdout and stderr)", () => {
    const file = join(tempDir(), "hostile.json");
    writeFileSync(
      file,
      JSON.stringify({
        name: "hostile",
        turns: [
          {
            say: `Hi${CLEAR}${OVERWRITE}${LINK}${BIDI}`,
            tool_calls: [{ tool: `x${ESC}[2J\r\u202E`, input: { path: `${BELL_LINK}\r${INVISIBLE}` } }],
          },
          { say: `bye\r${C1}` },
        ],
      }),
    );
    const r = spawnSync(
      process.execPath,
      [
        resolve(import.meta.dirname, "../../bin/rein.js"),
        "run",
        "go",
        "--model",
        `scripted:${file}`,
        "--no-audit",
      ],
      { cwd: tempDir(), env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } },
    );
    expect(r.status).toBe(0);
    for (const stream of [r.stdout, r.stderr]) {
      expect(stream.includes(0x1b)).toBe(false);
      expect(stream.includes(0x0d)).toBe(false);
      expect(stream.toString("utf8")).not.toMatch(FORBIDDEN);
    }
    const stdout = r.stdout.toString("utf8");
    expect(stdout).toContain("→ x\\x1b[2J\\r\\u202e");
    expect(stdout).toContain("Hi\\x1b[2J\\x1b[Hrm -rf / \\rls -la");
    expect(stdout).toContain("bye\\rcsi\\x9b31m and del\\x7f");
  });

  it("an error stop reason's message is escaped in the summary", async () => {
    const out = capture();
    const view = new LiveView(out.stream);
    const h = scriptHarness([{ fail: `provider said no${CLEAR}\r\u202Eall fine` }], {
      sinks: [{ name: "live-view", handle: (e) => view.handle(e) }],
    });
    view.summary(await h.session().run("go"), undefined);
    expect(out.text()).toContain(
      "stop: error (REIN_MODEL_CALL_FAILED: provider said no\\x1b[2J\\x1b[H\\r\\u202eall fine)",
    );
    expect(out.bytes().includes(0x1b)).toBe(false);
  });

  it("rein's own error messages quote hostile input inert (a script field named with a bidi override)", () => {
    const file = join(tempDir(), "bad.json");
    writeFileSync(file, JSON.stringify({ turns: [{ "say\u202E": "x", [`tool${ESC}[2J`]: 1 }] }));
    const r = spawnSync(
      process.execPath,
      [resolve(import.meta.dirname, "../../bin/rein.js"), "run", "go", "--model", `scripted:${file}`],
      { cwd: tempDir(), env: { ...process.env, NO_COLOR: "1" } },
    );
    expect(r.status).toBe(2);
    const stderr = r.stderr.toString("utf8");
    expect(stderr).toContain("REIN_SCRIPT_INVALID");
    expect(stderr).toContain('field "["say\\u202e"]": unknown field');
    expect(stderr).not.toMatch(FORBIDDEN);
  });

  it("rein run --json writes the same values, every control, bidi and invisible character as a \\u escape", () => {
    const say = `Hi${CLEAR}${OVERWRITE}${LINK}${BIDI}${INVISIBLE}${C1}`;
    const tool = `x${ESC}[2J\r\u202E\u{E0041}`;
    const file = join(tempDir(), "hostile.json");
    writeFileSync(
      file,
      JSON.stringify({ name: "hostile", turns: [{ say, tool_calls: [{ tool }] }, { say: "bye" }] }),
    );
    const r = spawnSync(
      process.execPath,
      [
        resolve(import.meta.dirname, "../../bin/rein.js"),
        "run",
        "go",
        "--model",
        `scripted:${file}`,
        "--json",
        "--no-audit",
      ],
      { cwd: tempDir() },
    );
    expect(r.status).toBe(0);
    expect(r.stdout.includes(0x1b)).toBe(false);
    expect(r.stdout.includes(0x0d)).toBe(false);
    const stdout = r.stdout.toString("utf8");
    expect(stdout).not.toMatch(FORBIDDEN);
    expect(stdout).toContain("\\u202e");
    expect(stdout).toContain("\\udb40\\udc41");
    const events = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const requested = events.find((e) => e.type === "tool_call_requested");
    expect(requested.data.tool).toBe(tool);
    const text = events.filter((e) => e.type === "text_delta" && e.data.turn === 1).map((e) => e.data.delta);
    expect(text.join("")).toBe(say);
  });
});
