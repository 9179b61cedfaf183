/**
 * Run model-written JavaScript in QuickJS and Python in Pyodide, chosen per language: no shell, no
 * host environment, no network. QuickJS has a memory cap, an interrupt deadline and a watchdog that
 * terminates its worker thread; Pyodide runs inside bubblewrap, from a warm pool.
 * Run: node examples/wasm-sandbox.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox } from "rein";

const workspace = mkdtempSync(join(tmpdir(), "rein-example-wasm-"));
writeFileSync(join(workspace, "data.csv"), "a,b\n1,2\n3,4\n");
const sandbox = createSandbox({ backend: "wasm", workspace, pyodidePoolSize: 1, quickjsMemory: "32m" });
try {
  console.log("languages:", sandbox.capabilities.languages.join(", "));
  const js = await sandbox.runCode(
    "javascript",
    'const rows = workspace.readFile("data.csv").trim().split("\\n").slice(1); console.log(rows.length, typeof process)',
  );
  console.log("javascript:", js.stdout.trim());
  const loop = await sandbox.runCode("javascript", "for (;;) {}", { timeoutMs: 200 });
  console.log("endless loop:", loop.timedOut, loop.stoppedBy);
  const py = await sandbox.runCode(
    "python",
    "import csv, os\nrows = list(csv.DictReader(open('data.csv')))\nprint(sum(int(r['b']) for r in rows), sorted(os.environ))",
    { timeoutMs: 60_000 },
  );
  console.log("python:", py.stdout.trim());
  await sandbox.exec("ls").catch((err: { code: string }) => console.log("shell:", err.code));
} finally {
  await sandbox.dispose();
  rmSync(workspace, { recursive: true, force: true });
}
