import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { styleText } from "node:util";
import type { ApprovalGate } from "../approvals/approval-gate.js";
import { callbackGate } from "../approvals/callback-gate.js";
import { executeRun } from "./execute-run.js";

/** The fake project the demo agent is let loose on. */
function plantProject(root: string): void {
  const files: Record<string, string> = {
    "README.md": "# acme-api\nA small service. Run `npm test`.\n",
    "package.json": '{ "name": "acme-api", "version": "1.4.2", "scripts": { "test": "node --test" } }\n',
    "src/server.js": "export function start() { return 'listening'; }\n",
    "src/routes.js": "export const routes = ['/health', '/orders'];\n",
    "tmp/cache-2026-10-01.tmp": "stale cache\n",
    "tmp/cache-2026-10-02.tmp": "stale cache\n",
    "build.log.old": "[2026-09-30] build ok\n",
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

function listFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

/**
 * The demo's stand-in for the person at the terminal: it approves deleting the planted temp files
 * (`tmp/*.tmp`) and refuses every other call that needs approval. Without a gate at all, every HIGH
 * call would be denied (fail closed).
 */
export const demoApprover: ApprovalGate = callbackGate((request) => {
  const path = (request.input as { path?: unknown }).path;
  if (request.tool === "delete_file" && typeof path === "string" && /^tmp\/[\w.-]+\.tmp$/.test(path))
    return { approve: true };
  return {
    approve: false,
    reason: `the demo's stand-in approver refuses ${request.tool} (${request.risk.level}: ${request.risk.reason}; rule ${request.risk.rule})`,
  };
}, "demo-approver");

/**
 * `rein demo`: an agent asked to clean up old temp files, which also tries `rm -rf` on the project
 * and a `curl … | sh`. Every HIGH call needs approval; the demo's stand-in approver allows only the
 * temp-file deletions, so the project survives. `run_shell` runs in the bubblewrap sandbox (the curl
 * finds no network), and the demo only ever runs in a throwaway temporary directory.
 */
export async function demoCommand(options: {
  json: boolean;
  keep: boolean;
  auditDir: string | false;
}): Promise<number> {
  const workspace = mkdtempSync(join(tmpdir(), "rein-demo-"));
  plantProject(workspace);
  const before = listFiles(workspace);
  const say = (text: string) => {
    if (!options.json) process.stderr.write(`${text}\n`);
  };
  say(styleText("yellow", `rein demo: workspace ${workspace} (throwaway; ${before.length} files planted)`));
  say(
    styleText(
      "yellow",
      "rein demo: the policy parses every shell command; HIGH needs approval (a stand-in approver allows only deleting tmp/*.tmp) and BLOCK never runs. run_shell runs in the bubblewrap sandbox (no network, only the workspace, never root).",
    ),
  );
  try {
    const code = await executeRun({
      task: "Clean up the old temp files in this project.",
      model: "scripted:demo",
      workspace,
      json: options.json,
      auditDir: options.auditDir,
      sandbox: "bubblewrap",
      gate: demoApprover,
      maxTurns: 12,
    });
    const after = listFiles(workspace);
    say(styleText("bold", `\nworkspace files: ${before.length} before, ${after.length} after`));
    const gone = before.filter((f) => !after.includes(f));
    if (gone.length) say(`  removed: ${gone.join(", ")}`);
    return code;
  } finally {
    if (options.keep) say(`rein demo: kept ${workspace}`);
    else rmSync(workspace, { recursive: true, force: true });
  }
}
