import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/rein.js");
const KEY = "cli-audit-key-0123456789abcdef0123";

function rein(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    ...options.env,
  };
  if (!options.env?.REIN_AUDIT_KEY) delete env.REIN_AUDIT_KEY;
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? tempDir(),
    encoding: "utf8",
    env,
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `rein demo` (7 tool calls) in a fresh directory: its trail and the head its summary printed. */
function demo(env: Record<string, string> = {}) {
  const cwd = tempDir();
  const r = rein(["demo"], { cwd, env });
  expect(r.code).toBe(0);
  const m = /audit: (\S+\.jsonl) \(7 records, sealed, head ([0-9a-f]{64})\)\n/.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  return { file: m![1]!, head: m![2]!, cwd };
}

describe("rein audit verify", () => {
  it("the run's summary prints the full head hash; verify --head accepts it and --json reports it in full", () => {
    const { file, head } = demo();
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ kind: "seal", reason: "session_ended", hash: head });
    const ok = rein(["audit", "verify", file, "--head", head]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`ok: 7 records, chain intact, sealed (2 seals, sha256), head ${head}\n`);
    const json = rein(["audit", "verify", file, "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: true,
      status: "sealed",
      file,
      records: 7,
      seals: 2,
      alg: "sha256",
      headHash: head,
    });
  });

  it("--head: a trail cut exactly after an earlier seal exits 1 with HEAD MISMATCH", () => {
    const { file, head } = demo();
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    writeFileSync(file, `${lines.slice(0, -1).join("\n")}\n`); // drop the session seal: still sealed (by the run's)
    expect(rein(["audit", "verify", file]).code).toBe(0);
    const r = rein(["audit", "verify", file, "--head", head]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(`^HEAD MISMATCH: ${file}: the trail ends at [0-9a-f]{64}, not at the expected head ${head}`),
    );
    const bad = rein(["audit", "verify", file, "--head", "abc"]);
    expect(bad.code).toBe(2); // a usage error
    expect(bad.stderr).toContain('--head must be a 64-digit lowercase hex hash, got "abc"');
  });

  it("reports an unsealed trail, a truncated one and an empty one distinctly, each exit 1", () => {
    const { file } = demo();
    const text = readFileSync(file, "utf8");
    const lines = text.trimEnd().split("\n");
    writeFileSync(file, `${lines.slice(0, 5).join("\n")}\n`);
    const unsealed = rein(["audit", "verify", file]);
    expect([unsealed.code, unsealed.stdout]).toEqual([
      1,
      expect.stringMatching(
        /^UNSEALED: .*: the last 5 records follow no seal: the trail was cut after a seal, or its writer crashed before sealing/,
      ),
    ]);
    writeFileSync(file, text.slice(0, 100));
    const truncated = rein(["audit", "verify", file]);
    expect([truncated.code, truncated.stdout]).toEqual([
      1,
      expect.stringMatching(/^TRUNCATED: .* line 1: the file ends with a partial record/),
    ]);
    writeFileSync(file, "");
    const empty = rein(["audit", "verify", file]);
    expect([empty.code, empty.stdout]).toEqual([1, expect.stringMatching(/^EMPTY: .*: the file is empty/)]);
  });

  it("a keyed trail (REIN_AUDIT_KEY) verifies with its key (REIN_AUDIT_KEY or --key-env) and says so without it", () => {
    const { file, head } = demo({ REIN_AUDIT_KEY: KEY });
    expect(readFileSync(file, "utf8")).not.toContain(KEY);
    const without = rein(["audit", "verify", file]);
    expect(without.code).toBe(1);
    expect(without.stdout).toMatch(
      /^KEY REQUIRED: .* line 1: the trail is keyed \(hmac-sha256\) and no key was given/,
    );
    const withEnv = rein(["audit", "verify", file, "--head", head], { env: { REIN_AUDIT_KEY: KEY } });
    expect([withEnv.code, withEnv.stdout]).toEqual([
      0,
      `ok: 7 records, chain intact, sealed (2 seals, hmac-sha256), head ${head}\n`,
    ]);
    const withVar = rein(["audit", "verify", file, "--key-env", "MY_AUDIT_KEY"], {
      env: { MY_AUDIT_KEY: KEY },
    });
    expect(withVar.code).toBe(0);
    const wrong = rein(["audit", "verify", file, "--key-env", "MY_AUDIT_KEY"], {
      env: { MY_AUDIT_KEY: `${KEY}x` },
    });
    expect([wrong.code, wrong.stdout]).toEqual([
      1,
      expect.stringMatching(/^TAMPERED: .* line 1: .*this is not its key/),
    ]);
    const unset = rein(["audit", "verify", file, "--key-env", "NOT_SET_ANYWHERE"]);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain(
      "--key-env NOT_SET_ANYWHERE: the environment variable NOT_SET_ANYWHERE is not set.",
    );
  });

  it("a format v1 trail verifies (exit 0) and says it has no seals", () => {
    const r = rein(["audit", "verify", join(ROOT, "tests/fixtures/audit/v1-demo.jsonl")]);
    expect([r.code, r.stdout]).toEqual([
      0,
      "ok: 7 records, chain intact, format v1 (no seals: a cut at its end shows only against --head), head 7a79ae12d0158cff0876360e76bf029146ba7c2cb3a58418745d18d646e34478\n",
    ]);
  });

  it("refuses to read a FIFO or a symlink (exit 2, REIN_AUDIT_UNREADABLE)", () => {
    const { file } = demo();
    const dir = tempDir();
    expect(spawnSync("mkfifo", [join(dir, "fifo.jsonl")]).status).toBe(0);
    const fifo = rein(["audit", "verify", join(dir, "fifo.jsonl")]);
    expect(fifo.code).toBe(2);
    expect(fifo.stderr).toContain("it is a FIFO, not a regular file");
    spawnSync("ln", ["-s", file, join(dir, "link.jsonl")]);
    const link = rein(["audit", "verify", join(dir, "link.jsonl")]);
    expect(link.code).toBe(2);
    expect(link.stderr).toContain("it is a symbolic link");
    expect(link.stderr).toContain("REIN_AUDIT_UNREADABLE");
  });
});
