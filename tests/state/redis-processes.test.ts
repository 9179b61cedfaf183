import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createHarness } from "../../src/harness.js";
import type { Model, ModelRequest } from "../../src/models/model.js";
import { defineTool } from "../../src/tools/define-tool.js";
import { disposeTestStore, openTestStore, REDIS_URL } from "./redis-test-store.js";

const dir = mkdtempSync(join(tmpdir(), "rein-redis-proc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves with the child's stdout once it printed `line` (rejects if it exits first). */
function waitFor(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.split("\n").includes(line)) {
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`child exited (${code ?? signal}) before "${line}": ${err}`)),
    );
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

describe("RedisStore across processes", () => {
  it("a race of 100 reservations from 5 processes against one $1 budget never overspends: exactly 33 of $0.03 are accepted", async () => {
    const store = await openTestStore();
    const children: ChildProcess[] = [];
    try {
      for (let i = 0; i < 5; i++)
        children.push(
          spawn(
            process.execPath,
            [join(import.meta.dirname, "redis-race-child.mjs"), REDIS_URL, store.prefix, "20"],
            {
              stdio: ["pipe", "pipe", "pipe"],
            },
          ),
        );
      await Promise.all(children.map((c) => waitFor(c, "ready")));
      const results = children.map(
        (c) =>
          new Promise<number>((resolve, reject) => {
            let out = "";
            c.stdout?.on("data", (d: Buffer) => {
              out += d.toString();
            });
            c.once("exit", (code) => {
              const last = out.trim().split("\n").at(-1) ?? "";
              if (code === 0) resolve((JSON.parse(last) as { accepted: number }).accepted);
              else reject(new Error(`race child exited ${code}`));
            });
          }),
      );
      for (const c of children) c.stdin?.end("go\n"); // all start together
      const accepted = await Promise.all(results);
      const total = accepted.reduce((a, b) => a + b, 0);
      expect(total).toBe(33);
      const budget = store.ledger.usageOf({ tenantId: "local", sessionId: "any" }, "budget:team");
      expect(budget.reservedUsd).toBeLessThanOrEqual(1);
      expect(budget.reservedUsd).toBeCloseTo(0.99, 10);
      // More than one process got reservations: the race was real, not one process taking all.
      expect(accepted.filter((n) => n > 0).length).toBeGreaterThan(1);
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
      await Promise.all(children.map(exited));
      await disposeTestStore(store);
    }
  }, 120_000);

  it("a child SIGKILLed while its tool runs (tool_call_started durable) is resumed by a new process: the call is outcome_unknown, never run twice", async () => {
    const out = join(dir, "crash.txt");
    writeFileSync(out, "");
    const store = await openTestStore();
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, "redis-crash-child.mjs"), REDIS_URL, store.prefix, out],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      await waitFor(child, "appended");
      child.kill("SIGKILL");
      await exited(child);
      const scope = { tenantId: "local", sessionId: "ses_crash" };
      expect(store.sessions.get(scope)?.status).toBe("running");
      const before = store.eventLog.read(scope, 0).map((e) => e.type);
      expect(before).toContain("tool_call_started");
      expect(before).not.toContain("tool_call_finished");

      let runs = 0;
      const model: Model = {
        id: "test:model",
        async generate(req: ModelRequest) {
          const turns = req.messages.filter((m) => m.role === "assistant").length;
          const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
          expect(turns).toBe(1); // the resumed run continues after the first call
          return {
            content: [{ type: "text", text: "done" }],
            stopReason: "end_turn",
            usage,
            model: "test:model",
          };
        },
      };
      const harness = createHarness({
        model,
        tools: [
          defineTool({
            name: "append_line",
            description: "appends a line",
            input: z.object({ line: z.string() }),
            risk: { level: "LOW", reason: "appends to a test file" },
            idempotent: false,
            async execute() {
              runs++;
              return "ran again";
            },
          }),
        ],
        builtinTools: false,
        audit: false,
        pricing: { overrides: { "test:model": { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 } } },
        store,
      });
      const { session, result } = await harness.resume("ses_crash");
      expect(result.status).toBe("completed");
      await session.close();
      expect(runs).toBe(0);
      expect(readFileSync(out, "utf8")).toBe("once\n");
      const events = store.eventLog.read(scope, 0);
      expect(events.filter((e) => e.type === "tool_call_started")).toHaveLength(1);
      expect(events.find((e) => e.type === "tool_call_finished")).toMatchObject({
        data: { callId: "call_1", errorType: "outcome_unknown" },
      });
      expect(events.every((e, i) => e.seq === i + 1)).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited(child);
      await disposeTestStore(store);
    }
  }, 60_000);
});
