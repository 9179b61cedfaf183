// A session on the scripted model: no API key, deterministic. Run: node examples/quickstart.ts
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHarness, scriptedModel } from "rein";

const workspace = mkdtempSync(join(tmpdir(), "rein-example-"));
writeFileSync(join(workspace, "notes.txt"), "buy milk\n");

const harness = createHarness({
  model: scriptedModel({
    name: "quickstart",
    turns: [
      { say: "Let me read your notes.", tool_calls: [{ tool: "read_file", input: { path: "notes.txt" } }] },
      { say: "Your notes say: buy milk." },
    ],
  }),
  workspace,
  audit: { dir: join(workspace, ".rein/audit") },
});

const result = await harness.session().run("What do my notes say?");
console.log(result.stopReason.type, `after ${result.turns} turns:`, result.finalText);
