// Budgets, a stall detector and a circuit breaker on one harness. Run: node examples/budget.ts
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHarness, scriptedModel } from "rein";

const workspace = mkdtempSync(join(tmpdir(), "rein-example-"));
writeFileSync(join(workspace, "notes.txt"), "buy milk\n");

// A model that loops: it keeps listing the same directory. Say it costs $3 / $15 per million tokens.
const model = scriptedModel({
  name: "looper",
  turns: [
    {
      tool_calls: [{ tool: "list_directory", input: { path: "." } }],
      usage: { input_tokens: 2_000, output_tokens: 300 },
      repeat: 50,
    },
    { say: "done" },
  ],
});

const harness = createHarness({
  model,
  pricing: { overrides: { "scripted:looper": { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 } } },
  workspace,
  audit: false,
  maxTokens: 1_000,
  limits: { maxCostUsd: 0.1 }, // per run, checked before every model call
  guards: {
    budget: { session: { maxCostUsd: 1 }, shared: { name: "team", maxCostUsd: 20 } },
    stall: { window: 6 },
    circuitBreaker: true,
  },
});

const session = harness.session();
for await (const event of session.stream("tidy up")) {
  if (event.type === "budget_warning")
    console.log(
      `warning: ${event.data.budget} budget at ${event.data.fraction * 100}% ($${event.data.spentUsd.toFixed(4)})`,
    );
  if (event.type === "stall_warning") console.log(`warning: ${event.data.diagnostic}`);
  if (event.type === "run_ended") {
    const stop = event.data.stopReason;
    const why = stop.type === "stalled" || stop.type === "cost_ceiling" ? `: ${stop.diagnostic}` : "";
    console.log(`stopped: ${stop.type}${why}`);
    console.log(`spent $${event.data.costUsd.toFixed(4)} in ${event.data.turns} turns`);
  }
}
