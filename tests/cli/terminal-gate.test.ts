import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers.js";

const BIN = resolve(import.meta.dirname, "../../bin/rein.js");
const SOCKET = `rein-test-${process.pid}`;
const tmux = (...args: string[]) =>
  spawnSync("tmux", ["-L", SOCKET, ...args], { encoding: "utf8", timeout: 30_000 });

/** The pane's whole history. */
const screen = () => tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "rein").stdout;

/** Polls the pane until `text` has appeared `count` times (the program is waiting for input then). */
async function waitFor(text: string, count = 1): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (screen().split(text).length - 1 < count) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${JSON.stringify(text)}; screen:\n${screen()}`);
    await delay(50);
  }
}

afterAll(() => {
  tmux("kill-server");
});

describe("rein run in a terminal (driven through tmux)", () => {
  it("asks in the terminal: allow-for-session covers only the identical call, deny carries the reason", async () => {
    const ws = tempDir("rein-tty-");
    for (const d of ["build2", "build3"]) {
      mkdirSync(join(ws, d));
      writeFileSync(join(ws, d, "x"), "x");
    }
    const script = join(tempDir(), "script.json");
    const call = (command: string) => ({ tool_calls: [{ tool: "run_shell", input: { command } }] });
    writeFileSync(
      script,
      JSON.stringify({
        name: "tty",
        turns: [call("rm -rf build2"), call("rm -rf build2"), call("rm -rf build3"), { say: "done" }],
      }),
    );
    const audit = join(tempDir(), "audit");
    const command = [
      process.execPath,
      BIN,
      "run",
      "tidy",
      "--model",
      `scripted:${script}`,
      "--workspace",
      ws,
      "--unsafe-local-shell",
      "--audit-dir",
      audit,
    ]
      .map((a) => `'${a}'`)
      .join(" ");
    const started = tmux(
      "new-session",
      "-d",
      "-s",
      "rein",
      "-x",
      "220",
      "-y",
      "60", // The pane stays open after the run (sleep) so its screen can still be read; kill-server ends it.
      `${command}; tmux -L ${SOCKET} wait-for -S rein-done; sleep 60`,
    );
    expect(started.status, started.stderr).toBe(0);

    await waitFor("approve? [y/n/a]");
    expect(screen()).toContain("rule:   shell:recursive-delete");
    tmux("send-keys", "-t", "rein", "a", "Enter");
    // The identical second call is approved for the session without asking; the third one asks.
    await waitFor("approve? [y/n/a]", 2);
    expect(screen()).toContain('input:  {"command":"rm -rf build3"}');
    tmux("send-keys", "-t", "rein", "n", "Enter");
    await waitFor("reason (told to the agent):");
    tmux("send-keys", "-t", "rein", "keep build3", "Enter");
    expect(tmux("wait-for", "rein-done").status).toBe(0);

    const shown = screen();
    expect(shown.split("approve? [y/n/a]").length - 1).toBe(2);
    expect(shown).toContain("allowed for this session: run_shell with exactly these arguments");
    expect(existsSync(join(ws, "build2"))).toBe(false);
    expect(existsSync(join(ws, "build3", "x"))).toBe(true);
    const records = readFileSync(join(audit, readdirSync(audit)[0] as string), "utf8");
    expect(records).toContain('"scope":"session"');
    expect(records).toContain("keep build3");
  });
});
