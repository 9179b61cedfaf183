import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { verifyAuditFile } from "../../src/index.js";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");
const dist = (file: string) => pathToFileURL(join(ROOT, "dist", file)).href;

/**
 * 20 sessions at once, each making tool calls without end; the tool's observable effect is a file
 * named after the session and the call, created when the tool runs. The parent SIGKILLs the process
 * at a random point once calls are under way.
 */
const CHILD = `
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, defineTool } from ${JSON.stringify(dist("index.js"))};
import { scriptedModel } from ${JSON.stringify(dist("testing.js"))};
import { z } from "zod";
const effects = process.env.EFFECTS_DIR;
let calls = 0;
const act = defineTool({ name: "act", description: "leaves a file behind", input: z.object({}),
  risk: { level: "LOW", reason: "test" },
  execute: (_input, ctx) => {
    writeFileSync(join(effects, ctx.sessionId + "__" + ctx.callId), "done");
    if (++calls === 50) process.stdout.write("acting\\n");
    return "ok";
  } });
const h = createHarness({
  model: scriptedModel({ name: "kill", turns: [{ tool_calls: [{ tool: "act", input: {} }, { tool: "act", input: {} }], repeat: 100000 }] }),
  tools: [act],
  audit: { dir: process.env.AUDIT_DIR },
  limits: { maxTurns: 1000000 },
});
await Promise.all(Array.from({ length: 20 }, (_, i) => h.session({ id: "ses_" + i }).run("go")));
`;

function runAndKill(auditDir: string, effectsDir: string, killAfterMs: number): Promise<void> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
    cwd: ROOT,
    env: { ...process.env, AUDIT_DIR: auditDir, EFFECTS_DIR: effectsDir },
  });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  return new Promise((resolvePromise, reject) => {
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      // The kill point is random on purpose: anywhere in the stream of calls.
      if (chunk.includes("acting")) setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    });
    child.on("exit", (_code, signal) =>
      signal === "SIGKILL"
        ? resolvePromise()
        : reject(new Error(`child exited without being killed: ${err}`)),
    );
  });
}

describe("a process killed at any point leaves no executed call without its audit record", () => {
  it("every call whose tool had an observable effect is in its session's trail (SIGKILL at random points)", async () => {
    for (let round = 0; round < 6; round++) {
      const auditDir = tempDir();
      const effectsDir = tempDir();
      await runAndKill(auditDir, effectsDir, Math.floor(Math.random() * 150));
      const effects = readdirSync(effectsDir);
      expect(effects.length).toBeGreaterThanOrEqual(50);
      const missing: string[] = [];
      for (const name of effects) {
        const [sessionId, callId] = name.split("__") as [string, string];
        const trail = join(auditDir, `${sessionId}.jsonl`);
        const text = existsSync(trail) ? readFileSync(trail, "utf8") : "";
        if (!text.includes(`"callId":${JSON.stringify(callId)}`)) missing.push(name);
      }
      expect(missing).toEqual([]);
      // The trails are cut, never corrupt: what was written verifies up to where the writer died.
      // Linux stops a write(2) between pages when SIGKILL is pending (generic_perform_write checks
      // fatal_signal_pending per page), so a kill can leave the last line partial: `truncated`, but
      // only at the very end (every complete record before it verified, the tail has no newline).
      for (const file of readdirSync(auditDir).filter((f) => f.endsWith(".jsonl"))) {
        const path = join(auditDir, file);
        const v = verifyAuditFile(path);
        expect(["unsealed", "empty", "truncated"]).toContain(v.status);
        if (v.status === "truncated") {
          const bytes = readFileSync(path);
          const lines = bytes.toString("utf8").split("\n");
          expect(bytes.at(-1)).not.toBe(0x0a);
          expect(v.line).toBe(lines.length);
        }
        if (v.status === "unsealed" && v.startedWithoutRecord)
          for (const s of v.startedWithoutRecord) expect(s.tool).toBe("act");
      }
    }
  }, 120_000);
});
