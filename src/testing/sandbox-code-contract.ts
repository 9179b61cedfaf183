/**
 * The sandbox contract's checks written in code, for backends without a shell (WebAssembly): the same
 * properties the shell checks establish (output, exit status, a clean environment, cwd confinement,
 * deadlines, output caps, abort, files, reset, dispose, honest limits and isolation), each run in the
 * backend's first language. `sandboxChecks({ withoutShell: true })` appends them.
 */
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CodeLanguage, Sandbox } from "../sandbox/sandbox.js";
import type { ContractCheck } from "./contract.js";
import type { ContractLimits, SandboxContractOptions } from "./sandbox-contract.js";

const LIMITS: ContractLimits = Object.freeze({ memory: "64m", pids: 32, cpus: 0.2, tmpSize: "4m" });

type CodeLang = Exclude<CodeLanguage, "shell">;

interface Snippets {
  /** Prints 42, writes "oops" to stderr, exits with status 3 (an uncaught error for JS: status 1). */
  readonly exitStatus: string;
  readonly expectedStatus: number;
  readonly printEnv: string;
  readonly loop: string;
  readonly flood: string;
  readonly read: (p: string) => string;
  readonly write: (p: string, text: string) => string;
  /** Tries to allocate 1 GiB; prints "allocated" if it could. */
  readonly allocate: string;
  /** Tries to read an absolute host path; prints its content or "refused: <why>". */
  readonly readHost: (p: string) => string;
  /** Tries to reach the network; prints "reached" or "refused: <why>". */
  readonly network: string;
}

const SNIPPETS: Record<CodeLang, Snippets> = {
  javascript: {
    exitStatus: 'console.log(40 + 2); console.error("oops"); throw new Error("status")',
    expectedStatus: 1,
    printEnv: "console.log(JSON.stringify(env))",
    loop: "for (;;) {}",
    flood: 'console.log("x".repeat(100000))',
    read: (p) => `console.log(workspace.readFile(${JSON.stringify(p)}))`,
    write: (p, t) => `workspace.writeFile(${JSON.stringify(p)}, ${JSON.stringify(t)})`,
    allocate:
      'const keep = []; for (let i = 0; i < 1024; i++) keep.push(new Uint8Array(1 << 20)); console.log("allocated")',
    readHost: (p) =>
      `try { console.log(workspace.readFile(${JSON.stringify(p)})) } catch (e) { console.log("refused: " + e.message) }`,
    network:
      'console.log(typeof fetch === "undefined" && typeof XMLHttpRequest === "undefined" && typeof WebSocket === "undefined" && typeof require === "undefined" ? "refused: no network API" : "reached")',
  },
  python: {
    exitStatus: 'import sys\nprint(40 + 2)\nprint("oops", file=sys.stderr)\nsys.exit(3)',
    expectedStatus: 3,
    printEnv: "import os, json\nprint(json.dumps(dict(os.environ)))",
    loop: "while True:\n  pass",
    flood: 'print("x" * 100000)',
    read: (p) => `print(open(${JSON.stringify(p)}).read())`,
    write: (p, t) => `open(${JSON.stringify(p)}, "w").write(${JSON.stringify(t)})`,
    allocate: 'b = b"x" * (1 << 30)\nprint("allocated", len(b))',
    readHost: (p) =>
      `try:\n  print(open(${JSON.stringify(p)}).read())\nexcept Exception as e:\n  print("refused:", type(e).__name__, e)`,
    network:
      'import socket\ntry:\n  socket.create_connection(("1.1.1.1", 53), timeout=2)\n  print("reached")\nexcept Exception as e:\n  print("refused:", type(e).__name__, e)',
  },
};

export function sandboxCodeChecks(o: SandboxContractOptions): ContractCheck[] {
  const checks: ContractCheck[] = [];
  const test = (
    name: string,
    body: (s: Sandbox, ws: string, lang: CodeLang, c: Snippets) => Promise<void>,
    own = false,
  ) =>
    checks.push({
      name: `code: ${name}`,
      run: async () => {
        const dir = own ? undefined : realpathSync(mkdtempSync(path.join(tmpdir(), "rein-contract-")));
        const s = await o.create({ workspace: dir, limits: LIMITS });
        try {
          const lang = s.capabilities.languages.find((l): l is CodeLang => l !== "shell");
          assert.ok(lang, "a sandbox without a shell must run at least one language");
          await body(s, s.workspace, lang, SNIPPETS[lang]);
        } finally {
          await s.dispose();
          if (dir) rmSync(dir, { recursive: true, force: true });
        }
      },
    });
  const T = 60_000;

  test("stdout, stderr and the exit status come back", async (s, _ws, lang, c) => {
    const r = await s.runCode(lang, c.exitStatus, { timeoutMs: T });
    assert.equal(r.stdout, "42\n");
    assert.match(r.stderr, /oops/);
    assert.equal(r.exitCode, c.expectedStatus);
    assert.equal(r.timedOut, false);
  });

  test("the environment is exactly what the caller passes; the host's is not there", async (s, _ws, lang, c) => {
    process.env.REIN_CONTRACT_HOST_SECRET = "do-not-pass";
    try {
      const r = await s.runCode(lang, c.printEnv, { env: { GIVEN: "yes" }, timeoutMs: T });
      assert.deepEqual(JSON.parse(r.stdout), { GIVEN: "yes" });
    } finally {
      delete process.env.REIN_CONTRACT_HOST_SECRET;
    }
  });

  test("cwd is relative to the workspace; absolute, '..' and missing cwds and a bad timeout are refused", async (s, ws, lang, c) => {
    await s.putFile("sub/dir/f.txt", "in sub\n");
    const r = await s.runCode(lang, c.read("f.txt"), { cwd: "sub/dir", timeoutMs: T });
    assert.equal(r.stdout.trim(), "in sub");
    for (const cwd of ["/etc", "..", "sub/../../x", "missing"])
      await assert.rejects(s.runCode(lang, c.read("f.txt"), { cwd }), { code: "REIN_SANDBOX_FAILED" }, cwd);
    await assert.rejects(s.runCode(lang, "", { timeoutMs: -1 }), { code: "REIN_SANDBOX_FAILED" });
    assert.ok(ws.length > 0);
  });

  test("an endless loop is stopped at its deadline: timedOut, promptly, with how (stoppedBy)", async (s, _ws, lang, c) => {
    const r = await s.runCode(lang, c.loop, { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.ok(r.stoppedBy === "interrupt" || r.stoppedBy === "watchdog", String(r.stoppedBy));
    assert.ok(r.durationMs < 10_000, `${r.durationMs} ms`);
  });

  test("output past the cap is dropped and truncated is set", async (s, _ws, lang, c) => {
    const r = await s.runCode(lang, c.flood, { maxOutputBytes: 1000, timeoutMs: T });
    assert.equal(r.stdout.length, 1000);
    assert.equal(r.truncated, true);
  });

  test("an abort stops the run and resolves (never rejects)", async (s, _ws, lang, c) => {
    const ac = new AbortController();
    const running = s.runCode(lang, c.loop, { signal: ac.signal, timeoutMs: T });
    setImmediate(() => ac.abort());
    const r = await running;
    assert.equal(r.signal, "SIGKILL");
    assert.equal(r.timedOut, false);
    const pre = new AbortController();
    pre.abort();
    assert.equal((await s.runCode(lang, c.read("x"), { signal: pre.signal })).stdout, "");
  });

  test("files: code reads what putFile wrote and getFile reads what code wrote", async (s, ws, lang, c) => {
    await s.putFile("a/b/c.txt", "hello");
    assert.equal((await s.runCode(lang, c.read("a/b/c.txt"), { timeoutMs: T })).stdout, "hello\n");
    const w = await s.runCode(lang, c.write("made.txt", "made"), { timeoutMs: T });
    assert.equal(w.exitCode, 0, w.stderr);
    assert.equal((await s.getFile("made.txt")).toString(), "made");
    writeFileSync(path.join(ws, "host.txt"), "from host\n");
    assert.equal((await s.getFile("host.txt")).toString(), "from host\n");
  });

  test(
    "reset empties a workspace the sandbox owns and keeps the sandbox usable",
    async (s, _ws, lang, c) => {
      await s.putFile("left-over.txt", "x");
      await s.reset();
      await assert.rejects(s.getFile("left-over.txt"), { code: "REIN_SANDBOX_FAILED" });
      const r = await s.runCode(lang, c.exitStatus, { timeoutMs: T });
      assert.equal(r.stdout, "42\n");
    },
    true,
  );

  test("dispose stops what runs and later calls throw", async (s, _ws, lang, c) => {
    const running = s.runCode(lang, c.loop, { timeoutMs: T });
    await s.dispose();
    await s.dispose();
    const r = await running.catch((err: { code?: string }) => err);
    if ("code" in r) assert.equal(r.code, "REIN_SANDBOX_FAILED");
    else assert.notEqual((r as { exitCode: number | null }).exitCode, 0);
    await assert.rejects(s.runCode(lang, c.exitStatus), { code: "REIN_SANDBOX_FAILED" });
  });

  test("memory (if claimed): allocating 1 GiB does not succeed", async (s, _ws, lang, c) => {
    if (!s.capabilities.limits.includes("memory")) return;
    const r = await s.runCode(lang, c.allocate, { timeoutMs: 120_000 });
    assert.doesNotMatch(r.stdout, /allocated/);
    assert.notEqual(r.exitCode, 0);
  });

  test("host files outside the workspace and /etc/shadow cannot be read", async (s, _ws, lang, c) => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "rein-contract-host-")));
    try {
      writeFileSync(path.join(dir, "secret.txt"), "host-secret\n", { mode: 0o644 });
      for (const p of [path.join(dir, "secret.txt"), "/etc/shadow"]) {
        const r = await s.runCode(lang, c.readHost(p), { timeoutMs: T });
        assert.doesNotMatch(r.stdout, /host-secret|root:/);
        assert.match(r.stdout, /^refused: /);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("network: none is claimed and the code cannot reach out", async (s, _ws, lang, c) => {
    assert.deepEqual(s.capabilities.network, ["none"]);
    const r = await s.runCode(lang, c.network, { timeoutMs: T });
    assert.match(r.stdout, /^refused: /);
  });

  return checks;
}
