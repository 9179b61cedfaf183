// Sessions that outlive the process and are shared by many: the Redis store. A HIGH call waits as a
// durable approval; another connection (any process with the URL) decides it; the session resumes
// and runs the call once. Needs a Redis: `bash scripts/setup-redis.sh` starts one on 127.0.0.1:6379.
// Run: node examples/redis-store.ts   (REIN_REDIS_URL=redis://host:port/db for another server)
import { randomUUID } from "node:crypto";
import { createHarness, defineTool, durableGate, RedisStore, scriptedModel } from "rein";
import { z } from "zod";

const url = process.env.REIN_REDIS_URL ?? "redis://127.0.0.1:6379/0";
// Keys are rein-example:{tenant}:…; a finished session expires after a minute (default: 7 days).
const store = await RedisStore.open(url, { prefix: "rein-example", finishedSessionTtlSeconds: 60 });

let deployed = 0;
const deploy = defineTool({
  name: "deploy",
  description: "deploys a version to production",
  input: z.object({ version: z.string() }),
  risk: { level: "HIGH", reason: "changes production" },
  async execute({ version }) {
    deployed++;
    return `deployed ${version}`;
  },
});
const harness = createHarness({
  model: scriptedModel({
    name: "deploy",
    turns: [{ tool_calls: [{ tool: "deploy", input: { version: "1.4.2" } }] }, { say: "Deployed 1.4.2." }],
  }),
  tools: [deploy],
  builtinTools: false,
  audit: false,
  store,
  approvals: { gate: durableGate(store) },
});

const id = `ses_${randomUUID().replaceAll("-", "")}`;
const first = await harness.session({ id }).run("Deploy 1.4.2");
console.log(`first run: ${first.status}`);

// A reviewer decides from another connection (in real life: another process, `rein approve <id> --store <url>`).
const reviewer = await RedisStore.open(url, { prefix: "rein-example" });
const pending = reviewer.approvals.list({ status: "pending" }).find((a) => a.sessionId === id);
if (!pending) throw new Error("no pending approval");
reviewer.approvals.decide(
  pending.id,
  { outcome: "approved", scope: "once" },
  { by: "ann", argsHash: pending.argsHash },
);
await reviewer.close();

const { session, result } = await harness.resume(id);
console.log(`resumed: ${result.status}: ${result.finalText}`);
await session.close();
console.log(
  `deploy ran ${deployed} time(s); ${store.ledger.totals({ tenantId: "local", sessionId: id }).calls} model calls`,
);
await store.close();
