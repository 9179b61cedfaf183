import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ReinEvent } from "../../src/index.js";
import { tempDir } from "../helpers.js";
import { dropPrefix, openTestStore, REDIS_URL, rawClient, testPrefix } from "../state/redis-test-store.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/rein.js");
const prefixes: string[] = [];
afterAll(async () => {
  const client = rawClient();
  for (const p of prefixes) await dropPrefix(client, p);
  client.disconnect();
});

function rein(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A Redis store URL with a prefix of its own (`?prefix=`), so no other test sees its sessions. */
async function storeUrl(): Promise<string> {
  // Fails with the setup-redis.sh hint when no Redis answers.
  const probe = await openTestStore();
  await probe.close();
  prefixes.push(probe.prefix);
  const prefix = testPrefix();
  prefixes.push(prefix);
  const u = new URL(REDIS_URL);
  u.searchParams.set("prefix", prefix);
  return u.toString();
}

describe("rein with a Redis store", () => {
  it("the config file's store: redis:// keeps the run there; --store <url> lists, approves, resumes and exports it", async () => {
    const url = await storeUrl();
    const cwd = tempDir();
    mkdirSync(join(cwd, "ws", "build"), { recursive: true });
    writeFileSync(
      join(cwd, "script.json"),
      JSON.stringify({
        name: "cli",
        turns: [
          { tool_calls: [{ tool: "run_shell", input: { command: "rm -rf build && echo gone >> log.txt" } }] },
          { say: "done" },
        ],
      }),
    );
    writeFileSync(join(cwd, "rein.config.yaml"), `store: ${JSON.stringify(url)}\n`);
    const common = ["--sandbox", "none", "--no-audit"];
    const run = rein(
      [
        "run",
        "clean",
        "--model",
        "scripted:script.json",
        "--workspace",
        "ws",
        "--approvals",
        "durable",
        ...common,
      ],
      cwd,
    );
    expect(run.code).toBe(4);
    const sessionId = /rein: session (ses_[a-f0-9]+) \(store redis:\/\/127\.0\.0\.1:\d+\/0\)/.exec(
      run.stderr,
    )?.[1];
    expect(sessionId).toBeDefined();
    expect(existsSync(join(cwd, ".rein", "rein.db"))).toBe(false); // nothing went to the SQLite default

    const pending = JSON.parse(rein(["approvals", "list", "--json", "--store", url], cwd).stdout) as {
      id: string;
      tool: string;
      sessionId: string;
    }[];
    expect(pending).toEqual([expect.objectContaining({ tool: "run_shell", sessionId })]);
    const id = pending[0]!.id;
    expect(rein(["approve", id, "--by", "ann", "--store", url], cwd).code).toBe(0);
    const conflict = rein(["deny", id, "--reason", "no", "--store", url], cwd);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain("REIN_APPROVAL_CONFLICT");

    const resumed = rein(["sessions", "resume", sessionId!, "--json", "--store", url, ...common], cwd);
    expect(resumed.code).toBe(0);
    expect(readFileSync(join(cwd, "ws", "log.txt"), "utf8")).toBe("gone\n");
    const again = rein(["sessions", "resume", sessionId!, "--store", url, ...common], cwd);
    expect(again.stderr).toContain("REIN_SESSION_NOT_RESUMABLE");
    expect(readFileSync(join(cwd, "ws", "log.txt"), "utf8")).toBe("gone\n");

    const list = JSON.parse(rein(["sessions", "list", "--json", "--store", url], cwd).stdout) as {
      sessionId: string;
      status: string;
    }[];
    expect(list).toEqual([expect.objectContaining({ sessionId, status: "closed" })]);
    const exported = rein(["sessions", "export", sessionId!, "--store", url], cwd)
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ReinEvent);
    expect(exported.map((e) => e.seq)).toEqual(exported.map((_, i) => i + 1));
    expect(exported.filter((e) => e.type === "tool_call_started")).toHaveLength(1);
  }, 180_000);

  it("--store redis:// on rein run keeps the session in Redis, not in .rein/rein.db", async () => {
    const url = await storeUrl();
    const cwd = tempDir();
    writeFileSync(join(cwd, "script.json"), JSON.stringify({ name: "cli", turns: [{ say: "hi" }] }));
    const run = rein(
      ["run", "hi", "--model", "scripted:script.json", "--store", url, "--sandbox", "none", "--no-audit"],
      cwd,
    );
    expect(run.code).toBe(0);
    const sessionId = /rein: session (ses_[a-f0-9]+)/.exec(run.stderr)?.[1];
    const shown = JSON.parse(rein(["sessions", "show", sessionId!, "--json", "--store", url], cwd).stdout);
    expect(shown).toMatchObject({ sessionId, status: "closed", task: "hi" });
    expect(existsSync(join(cwd, ".rein", "rein.db"))).toBe(false);
  }, 60_000);

  it("an unreachable Redis URL is a typed error at once (REIN_STORE_UNREACHABLE), for run and for sessions; an invalid one names the config key", () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "script.json"), JSON.stringify({ name: "cli", turns: [{ say: "hi" }] }));
    const dead = "redis://127.0.0.1:1/0";
    const run = rein(
      ["run", "hi", "--model", "scripted:script.json", "--store", dead, "--sandbox", "none"],
      cwd,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("REIN_STORE_UNREACHABLE");
    expect(run.stderr).toContain("Cannot reach Redis at redis://127.0.0.1:1/0");
    const list = rein(["sessions", "list", "--store", dead], cwd);
    expect(list.code).not.toBe(0);
    expect(list.stderr).toContain("REIN_STORE_UNREACHABLE");
    expect(list.stderr).toContain("scripts/setup-redis.sh");
    writeFileSync(join(cwd, "rein.config.yaml"), "store: 'http://127.0.0.1:6379'\n");
    const bad = rein(["run", "hi", "--model", "scripted:script.json", "--sandbox", "none"], cwd);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/store.*a SQLite file path or a redis:\/\/ \(rediss:\/\/\) URL/);
  }, 60_000);
});
