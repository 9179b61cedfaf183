// The kill test's child: runs sessions on the SQLite store (or the Redis store, given a redis:// URL
// and REIN_KILL_PREFIX) until it is killed (SIGKILL, at a random
// point) or all are done. Each session appends lines to a file with non-idempotent tools, one of
// them HIGH (a durable approval that the parent process decides). It resumes what a kill left.
import { appendFileSync } from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { z } from "zod";
import { createHarness, defineTool, durableGate, RedisStore, SqliteStore } from "../../dist/index.js";

const [db, out, count] = process.argv.slice(2);
const N = Number(count);
const store = db.startsWith("redis://")
  ? await RedisStore.open(db, { prefix: process.env.REIN_KILL_PREFIX })
  : await SqliteStore.open(db);

const model = {
  id: "test:model",
  async generate(req) {
    await tick(); // spread each step over ticks, so kills land between commits too
    const turns = req.messages.filter((m) => m.role === "assistant").length;
    const sid = req.messages[0].content[0].text.split(" ")[1];
    const usage = { inputTokens: 100 + turns, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const call = (name, k) => ({
      content: [{ type: "tool_use", id: `call_${k}`, name, input: { line: `${sid}:${k}` } }],
      stopReason: "tool_use",
      usage,
      model: "test:model",
    });
    if (turns === 0) return call("append_line", 1);
    if (turns === 1) return call("append_approved", 2);
    if (turns === 2) return call("append_line", 3);
    return { content: [{ type: "text", text: "done" }], stopReason: "end_turn", usage, model: "test:model" };
  },
};
const appender = (name, level) =>
  defineTool({
    name,
    description: "appends a line",
    input: z.object({ line: z.string() }),
    risk: { level, reason: "appends to a file" },
    idempotent: false,
    async execute({ line }) {
      await tick();
      appendFileSync(out, `${line}\n`);
      return "ok";
    },
  });

const harness = createHarness({
  model,
  tools: [appender("append_line", "LOW"), appender("append_approved", "HIGH")],
  builtinTools: false,
  audit: false,
  pricing: { overrides: { "test:model": { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 } } },
  store,
  approvals: { gate: durableGate(store) },
});
process.stdout.write("ready\n");
for (let i = 0; i < N; i++) {
  const id = `ses_${i}`;
  const rec = store.sessions.get({ tenantId: "local", sessionId: id });
  if (!rec) {
    const s = harness.session({ id });
    await s.run(`session ${id}`);
    await s.close();
  } else if (rec.status === "running" || rec.status === "requires_action") {
    try {
      const { session } = await harness.resume(id);
      await session.close();
    } catch (err) {
      if (err?.code !== "REIN_SESSION_NOT_RESUMABLE") throw err;
    }
  }
}
await store.close();
process.stdout.write("done\n");
