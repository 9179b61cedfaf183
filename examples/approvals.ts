// Require approval for HIGH-risk calls through a callback gate. Run: node examples/approvals.ts
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callbackGate, createHarness, scriptedModel } from "rein";

const workspace = mkdtempSync(join(tmpdir(), "rein-example-"));
writeFileSync(join(workspace, "keep.txt"), "important\n");
writeFileSync(join(workspace, "old.tmp"), "stale\n");

const harness = createHarness({
  model: scriptedModel({
    name: "approvals",
    turns: [
      {
        tool_calls: [
          { tool: "delete_file", input: { path: "old.tmp" } },
          { tool: "delete_file", input: { path: "keep.txt" } },
        ],
      },
      {
        when: [
          { if: { error: "permission_denied" }, say: "One deletion was refused; I left that file alone." },
        ],
        say: "Both deleted.",
      },
    ],
  }),
  workspace,
  audit: { dir: join(workspace, ".rein/audit") },
  // delete_file is HIGH: each call asks this gate. A real app would ask a human.
  approvals: {
    gate: callbackGate((req) =>
      (req.input as { path: string }).path.endsWith(".tmp")
        ? { approve: true }
        : { approve: false, reason: "only .tmp files may go" },
    ),
  },
});

const session = harness.session();
const result = await session.run("Remove the temp file");
console.log(result.finalText);
console.log(`audit trail: ${harness.auditFile(session.id)}`);
