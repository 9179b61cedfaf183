import { spawnSync } from "node:child_process";
import { mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = resolve(import.meta.dirname, "../../bin/rein.js");

function rein(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const ws = () => realpathSync(mkdtempSync(join(tmpdir(), "rein-sbx-cli-")));

describe("rein sandbox exec", () => {
  it("runs the command in bubblewrap and exits with its exit status", () => {
    const dir = ws();
    writeFileSync(join(dir, "in.txt"), "from the host\n");
    const r = rein(["sandbox", "exec", "--workspace", dir, "--", "sh", "-c", "cat in.txt; hostname; exit 7"]);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe("from the host\nrein-sandbox\n");
  });

  it("--json prints the result record; a timeout exits 124 with timedOut", () => {
    const r = rein([
      "sandbox",
      "exec",
      "--workspace",
      ws(),
      "--timeout",
      "300ms",
      "--json",
      "--",
      "sleep",
      "30",
    ]);
    expect(r.code).toBe(124);
    const record = JSON.parse(r.stdout);
    expect(record).toMatchObject({ timedOut: true, signal: "SIGKILL", sandbox: "bubblewrap" });
    expect(record.capabilities.isolation).toBe("namespaces");
  });

  it("--memory and --pids are applied: a memory bomb is oomKilled under --memory 32m", () => {
    const r = rein([
      "sandbox",
      "exec",
      "--workspace",
      ws(),
      "--memory",
      "32m",
      "--pids",
      "16",
      "--json",
      "--",
      "awk",
      'BEGIN { s = "x"; while (1) s = s s }',
    ]);
    expect(JSON.parse(r.stdout)).toMatchObject({ oomKilled: true });
    expect(r.code).toBe(137);
  });

  it("--backend none runs without isolation and says so on stderr", () => {
    const r = rein(["sandbox", "exec", "--backend", "none", "--workspace", ws(), "--", "true"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("WARNING --sandbox none");
  });

  it("bad flags fail with the reason: unknown backend, bad size, bad network", () => {
    const a = rein(["sandbox", "exec", "--backend", "vmware", "--", "true"]);
    expect(a.code).toBe(2); // a usage error
    expect(a.stderr).toContain('"vmware" is not a sandbox; use one of: bubblewrap, none, docker, gvisor');
    const b = rein(["sandbox", "exec", "--workspace", ws(), "--memory", "lots", "--", "true"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("memory must be a positive size");
    const c = rein(["sandbox", "exec", "--workspace", ws(), "--network", "host", "--", "true"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('--network must be "none" or "proxy:<unix socket path>"');
  });

  it("rein run --sandbox none prints the no-isolation warning", () => {
    const r = rein([
      "run",
      "x",
      "--model",
      "scripted:demo",
      "--sandbox",
      "none",
      "--workspace",
      ws(),
      "--no-audit",
      "--json",
    ]);
    expect(r.stderr).toContain("WARNING --sandbox none");
  });
});

describe("rein sandbox exec hides what the policy treats as sensitive", () => {
  it("a file only the policy lists (.vault-token) reads empty inside the sandbox", () => {
    const dir = ws();
    writeFileSync(join(dir, ".vault-token"), "s.VERYSECRET");
    writeFileSync(join(dir, "notes.txt"), "visible");
    const r = rein([
      "sandbox",
      "exec",
      "--workspace",
      dir,
      "--",
      "sh",
      "-c",
      "cat .vault-token; echo; cat notes.txt",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("VERYSECRET");
    expect(r.stdout).toContain("visible");
  });
});
