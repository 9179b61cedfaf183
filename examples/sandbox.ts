/**
 * Run model-written code where it cannot hurt the host: bubblewrap with no network, no host files but
 * the workspace, secrets masked, never root, and memory, process, CPU, /tmp and time limits.
 * Run: node examples/sandbox.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox } from "rein";

const workspace = mkdtempSync(join(tmpdir(), "rein-example-"));
writeFileSync(join(workspace, ".env"), "API_KEY=never-leaves-the-host\n");
const sandbox = createSandbox({ workspace, memory: "128m", pids: 64, timeoutMs: 10_000 });
try {
  console.log("limits enforced here:", sandbox.capabilities.limits.join(", "));
  const code = await sandbox.runCode("shell", "id -u; wc -c < .env; cat /etc/shadow 2>&1 | head -1");
  console.log(code.stdout.trim().split("\n").join(" | "));
  const bomb = await sandbox.exec(`awk 'BEGIN { s = "x"; while (1) s = s s }'`);
  console.log("memory bomb oomKilled:", bomb.oomKilled);
} finally {
  await sandbox.dispose();
  rmSync(workspace, { recursive: true, force: true });
}
