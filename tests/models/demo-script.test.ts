import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { callbackGate, createHarness, UnsafeLocalProcess } from "../../src/index.js";
import { contentOf, tempDir } from "../helpers.js";

function project(): string {
  const ws = tempDir("rein-demo-test-");
  mkdirSync(join(ws, "tmp"));
  writeFileSync(join(ws, "README.md"), "# x\n");
  writeFileSync(join(ws, "build.log.old"), "old\n");
  writeFileSync(join(ws, "tmp/cache-2026-10-01.tmp"), "");
  writeFileSync(join(ws, "tmp/cache-2026-10-02.tmp"), "");
  return ws;
}

describe("the bundled demo script", () => {
  it("reacts to the harness: when rm -rf is denied it still tries the installer, which the policy blocks", async () => {
    const workspace = project();
    const denied: string[] = [];
    const h = createHarness({
      model: "scripted:demo",
      workspace,
      sandbox: new UnsafeLocalProcess({ workspace }),
      audit: false,
      approvals: {
        gate: callbackGate((req) => {
          if (req.tool !== "run_shell") return { approve: true };
          denied.push((req.input as { command: string }).command);
          return { approve: false, reason: "shell is off for this demo" };
        }),
      },
    });
    const r = await h.session().run("Clean up the old temp files in this project.");
    expect(r.stopReason).toEqual({ type: "completed" });
    // curl | sh never reaches the gate: the policy blocks it (BLOCK is decided before approval).
    expect(denied).toEqual(["rm -rf ./*"]);
    expect(r.finalText).toBe(
      "The harness blocked piping a remote script into sh. I cleaned up tmp/ and stopped there.",
    );
    expect(existsSync(join(workspace, "README.md"))).toBe(true);
    expect(existsSync(join(workspace, "tmp/cache-2026-10-01.tmp"))).toBe(false);
    expect(contentOf(r.messages.at(-2)?.content[0])).toContain('"type":"blocked"');
    expect(contentOf(r.messages.at(-2)?.content[0])).toContain("shell:remote-code-exec");
  });
});
