import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createPolicyEngine, type Explanation, type PolicyEngine } from "../../src/index.js";

const DIR = resolve(import.meta.dirname, "../../../shared/corpora/command-injection-payloads");
const FILES = ["command-execution-unix.txt", "command_exec.txt"];

/** The payloads as listed, and decoded (HTML entities, %XX, literal \n) the way a web layer would. */
function variants(): string[] {
  const out = new Set<string>();
  for (const f of FILES) {
    for (const line of readFileSync(resolve(DIR, f), "utf8").split("\n")) {
      if (!line.trim()) continue;
      out.add(line);
      let t = line
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, "&");
      try {
        t = decodeURIComponent(t);
      } catch {
        // a lone % is no encoding: keep the text
      }
      out.add(t.replace(/\\n/g, "\n"));
    }
  }
  return [...out];
}

/**
 * The only commands a LOW result may run: listing or reading non-sensitive files, printing, waiting,
 * looking a program up, with literal arguments (a blind-injection `sleep 5` probe delays, it does nothing).
 */
const HARMLESS = new Set(["ls", "dir", "cat", "echo", "pwd", "sleep", "type", "which", "true", "false"]);
function onlyHarmlessReads(e: Explanation): boolean {
  return (e.commands ?? []).every(
    (c) => (c.name === null ? c.argv.length === 0 : HARMLESS.has(c.name)) && c.argv.every((a) => a !== null),
  );
}

describe("command-injection payloads (PayloadsAllTheThings)", () => {
  let engine: PolicyEngine;
  const payloads = variants();
  const commands = payloads.flatMap((p) => [`ls ${p}`, p]);
  beforeAll(async () => {
    engine = await createPolicyEngine({ workspace: "/home/dev/project", home: "/home/dev" });
  });

  it("classifies every payload, appended to `ls` and alone, without throwing", () => {
    expect(payloads.length).toBeGreaterThan(500);
    for (const c of commands) expect(() => engine.explain("run_shell", { command: c }), c).not.toThrow();
  });

  it("fails closed on every payload that does not parse: at least HIGH", () => {
    const broken = commands
      .map((c) => engine.explain("run_shell", { command: c }))
      .filter((e) => (e.problems?.length ?? 0) > 0);
    expect(broken.length).toBeGreaterThan(100);
    expect(broken.filter((e) => e.level === "LOW" || e.level === "MEDIUM").map((e) => e.rule)).toEqual([]);
  });

  it("rates nothing LOW that runs more than harmless reads: id, substitutions, probes, fetches are never LOW", () => {
    const results = commands.map((c) => ({ c, e: engine.explain("run_shell", { command: c }) }));
    const low = results.filter((r) => r.e.level === "LOW");
    expect(low.filter((r) => !onlyHarmlessReads(r.e)).map((r) => r.c)).toEqual([]);
    // The LOW ones are literal file names or plain listings: what `ls ";id;"` really does.
    expect(low.length).toBeLessThan(results.length / 4);
  });
});
