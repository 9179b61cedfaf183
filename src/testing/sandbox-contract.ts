/**
 * The one contract every `Sandbox` backend passes, in two parts:
 *
 * - **interface**: what any backend must do (exec by argv and by shell string, exit codes, stdin, a
 *   clean environment, cwd confinement, timeouts that kill the tree, output caps, abort, runCode for
 *   its languages, put/get, reset, dispose).
 * - **honesty**: `capabilities` tell the truth. Each limit a backend claims is checked to hold, and the
 *   isolation probes (host files, host environment, host network, host uid 0) must be stopped when
 *   `isolation` is not `"none"` and must get through when it is — so `UnsafeLocalProcess` passes by
 *   saying it isolates nothing. The escape suite (tests/escape) attacks isolating backends in depth.
 *
 * Like every contract in rein/testing: `sandboxContract(options)` registers the checks as vitest
 * tests, `sandboxChecks(options)` returns them (to run against a deliberately broken backend).
 *
 * @example
 * import { sandboxContract } from "rein/testing";
 * sandboxContract({
 *   name: "bubblewrap",
 *   create: (o) => new BubblewrapSandbox({ workspace: o.workspace, ...o.limits }),
 * });
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Sandbox, SandboxLimit } from "../sandbox/sandbox.js";
import { CODE_LANGUAGES, SANDBOX_LIMITS } from "../sandbox/sandbox.js";
import { type ContractCheck, registerContract } from "./contract.js";
import { sandboxCodeChecks } from "./sandbox-code-contract.js";

/** Small limits the contract creates sandboxes with, so the limit checks end quickly. */
export interface ContractLimits {
  readonly memory: string;
  readonly pids: number;
  readonly cpus: number;
  readonly tmpSize: string;
}

export interface SandboxContractOptions {
  readonly name: string;
  /**
   * Makes a sandbox. `workspace` is undefined when the contract wants the sandbox to own a temporary
   * one (for `reset`). Apply `limits` where the backend supports them.
   */
  create(options: { workspace?: string; limits: ContractLimits }): Sandbox | Promise<Sandbox>;
  /**
   * The backend has no shell (WebAssembly). Each check that needs one is registered under its own name
   * marked "not expressible without a shell" and asserts that `exec` is refused with
   * `REIN_SANDBOX_UNSUPPORTED`; the same properties are then checked with code in the backend's first
   * language (`sandboxCodeChecks`).
   */
  readonly withoutShell?: boolean;
  /**
   * Each check's vitest timeout, for a backend whose instances take seconds to start (Pyodide loads an
   * interpreter per instance; on a loaded machine that is ~12 s); vitest's configured timeout when absent.
   */
  readonly testTimeoutMs?: number;
}

export const CONTRACT_LIMITS: ContractLimits = Object.freeze({
  memory: "64m",
  pids: 32,
  cpus: 0.2,
  tmpSize: "4m",
});

/** Registers the contract's checks as vitest tests. */
export function sandboxContract(o: SandboxContractOptions): void {
  registerContract(`Sandbox contract: ${o.name}`, sandboxChecks(o), { testTimeoutMs: o.testTimeoutMs });
}

/** The contract's checks, each making (and disposing) its own sandbox. */
export function sandboxChecks(o: SandboxContractOptions): ContractCheck[] {
  const checks: ContractCheck[] = [];
  let part = "";
  const withSandbox = async (body: (s: Sandbox, workspace: string) => Promise<void>, own = false) => {
    const dir = own ? undefined : realpathSync(mkdtempSync(path.join(tmpdir(), "rein-contract-")));
    const s = await o.create({ workspace: dir, limits: CONTRACT_LIMITS });
    try {
      await body(s, s.workspace);
    } finally {
      await s.dispose();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  };
  const anyTest = (name: string, body: (s: Sandbox, ws: string) => Promise<void>, own = false) =>
    checks.push({ name: `${part}: ${name}`, run: () => withSandbox(body, own) });
  // Every check below that runs a shell command: on a backend without one, it is said to be not
  // expressible and asserts the refusal instead of passing silently.
  const test = (name: string, body: (s: Sandbox, ws: string) => Promise<void>, own = false) => {
    if (!o.withoutShell) return anyTest(name, body, own);
    anyTest(`${name} — not expressible without a shell: exec is refused (REIN_SANDBOX_UNSUPPORTED)`, (s) =>
      assertNoShell(s),
    );
  };
  part = "interface";
  anyTest("capabilities are well-formed", async (s) => {
    assert.ok(
      ["none", "namespaces", "container", "microvm", "wasm", "user-space-kernel"].includes(
        s.capabilities.isolation,
      ),
    );
    assert.ok(s.capabilities.network.length > 0);
    for (const l of s.capabilities.limits) assert.ok(SANDBOX_LIMITS.includes(l), l);
    for (const l of s.capabilities.languages) assert.ok(CODE_LANGUAGES.includes(l), l);
    assert.equal(s.capabilities.languages.includes("shell"), !o.withoutShell);
    assert.ok(s.capabilities.limits.includes("time") && s.capabilities.limits.includes("output"));
  });

  test("a string runs through /bin/sh -c; the exit code comes back", async (s) => {
    const r = await s.exec("echo $((6 * 7)); exit 3");
    assert.equal(r.stdout, "42\n");
    assert.equal(r.exitCode, 3);
    assert.equal(r.signal, null);
    assert.equal(r.timedOut, false);
  });

  test("an argv runs without a shell", async (s) => {
    const r = await s.exec(["/bin/echo", "$HOME;", "`id`"]);
    assert.equal(r.stdout, "$HOME; `id`\n");
  });

  test("stdin is fed to the command (text and bytes)", async (s) => {
    assert.equal((await s.exec(["cat"], { stdin: "hello" })).stdout, "hello");
    assert.equal((await s.exec(["wc", "-c"], { stdin: new Uint8Array([0, 1, 2]) })).stdout.trim(), "3");
  });

  test("the environment is clean: only what the caller passes, plus PATH, HOME and LANG", async (s) => {
    process.env.REIN_CONTRACT_HOST_SECRET = "do-not-pass";
    try {
      const r = await s.exec("env", { env: { GIVEN: "yes" } });
      assert.match(r.stdout, /^GIVEN=yes$/m);
      assert.match(r.stdout, /^PATH=/m);
      assert.doesNotMatch(r.stdout, /REIN_CONTRACT_HOST_SECRET|do-not-pass/);
    } finally {
      delete process.env.REIN_CONTRACT_HOST_SECRET;
    }
  });

  test("cwd is relative to the workspace; absolute, '..' and missing cwds are refused", async (s, ws) => {
    await s.exec("mkdir -p sub/dir");
    assert.equal((await s.exec("pwd", { cwd: "sub/dir" })).stdout.trim(), path.join(ws, "sub/dir"));
    for (const cwd of ["/etc", "..", "sub/../../x", "missing"])
      await assert.rejects(s.exec("pwd", { cwd }), { code: "REIN_SANDBOX_FAILED" }, cwd);
  });

  test("an empty argv and a bad timeout are refused", async (s) => {
    await assert.rejects(s.exec([]), { code: "REIN_SANDBOX_FAILED" });
    await assert.rejects(s.exec("true", { timeoutMs: -1 }), { code: "REIN_SANDBOX_FAILED" });
  });

  test("a timeout kills the whole tree: timedOut, SIGKILL, promptly", async (s) => {
    const r = await s.exec("sleep 30 & sleep 30", { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, "SIGKILL");
    assert.ok(r.durationMs < 10_000, `${r.durationMs} ms`);
  });

  test("a background job does not hold the result after the command exits", async (s) => {
    const r = await s.exec("sleep 30 & echo started", { timeoutMs: 20_000 });
    assert.equal(r.stdout, "started\n");
    assert.equal(r.timedOut, false);
    assert.ok(r.durationMs < 10_000, `${r.durationMs} ms`);
  });

  test("output past the cap is dropped and truncated is set", async (s) => {
    const r = await s.exec("head -c 100000 /dev/zero | tr '\\0' x", { maxOutputBytes: 1000 });
    assert.equal(r.stdout.length, 1000);
    assert.equal(r.truncated, true);
  });

  test("an abort kills the command and resolves (never rejects)", async (s) => {
    const ac = new AbortController();
    const running = s.exec("sleep 30", { signal: ac.signal, timeoutMs: 20_000 });
    setImmediate(() => ac.abort());
    const r = await running;
    assert.equal(r.signal, "SIGKILL");
    assert.equal(r.timedOut, false);
    const pre = new AbortController();
    pre.abort();
    assert.equal((await s.exec("echo never", { signal: pre.signal })).stdout, "");
  });

  anyTest("runCode runs every language in capabilities.languages and refuses the others", async (s) => {
    const programs = {
      shell: "echo $((40+2))",
      python: "print(40+2)",
      javascript: "console.log(40+2)",
    } as const;
    for (const lang of CODE_LANGUAGES) {
      if (s.capabilities.languages.includes(lang)) {
        const r = await s.runCode(lang, programs[lang], { timeoutMs: 30_000 });
        assert.equal(r.stdout.trim(), "42", `${lang}: ${r.stderr}`);
      } else {
        await assert.rejects(s.runCode(lang, programs[lang]), { code: "REIN_SANDBOX_FAILED" });
      }
    }
  });

  test("putFile and getFile round-trip text and bytes, in nested folders; exec sees them", async (s, ws) => {
    await s.putFile("a/b/c.txt", "hello\n");
    await s.putFile("bin.dat", new Uint8Array([0, 255, 10, 13]));
    assert.equal(Buffer.from(await s.getFile("a/b/c.txt")).toString(), "hello\n");
    assert.deepEqual([...(await s.getFile("bin.dat"))], [0, 255, 10, 13]);
    assert.equal((await s.exec("cat a/b/c.txt")).stdout, "hello\n");
    await s.exec("echo made > made.txt");
    assert.equal(Buffer.from(await s.getFile("made.txt")).toString(), "made\n");
    writeFileSync(path.join(ws, "host.txt"), "from host\n");
    assert.equal(Buffer.from(await s.getFile("host.txt")).toString(), "from host\n");
  });

  anyTest("putFile and getFile refuse absolute paths, '..' and missing files", async (s) => {
    await assert.rejects(s.putFile("/etc/x", "x"), { code: "REIN_SANDBOX_FAILED" });
    await assert.rejects(s.putFile("../x", "x"), { code: "REIN_SANDBOX_FAILED" });
    await assert.rejects(s.getFile("../../etc/passwd"), { code: "REIN_SANDBOX_FAILED" });
    await assert.rejects(s.getFile("missing.txt"), { code: "REIN_SANDBOX_FAILED" });
  });

  test(
    "reset empties a workspace the sandbox owns and keeps the sandbox usable",
    async (s) => {
      await s.putFile("left-over.txt", "x");
      await s.reset();
      assert.equal((await s.exec("ls -A")).stdout, "");
      assert.equal((await s.exec("echo ok")).stdout, "ok\n");
    },
    true,
  );

  test("dispose kills what runs and later calls throw", async (s) => {
    const running = s.exec("sleep 30", { timeoutMs: 20_000 });
    await s.dispose(); // before or after the spawn, the command must not survive it
    await s.dispose(); // twice is fine
    const r = await running;
    assert.equal(r.exitCode === 0, false);
    await assert.rejects(s.exec("true"), { code: "REIN_SANDBOX_FAILED" });
  });

  part = "honesty";
  {
    const claims = (s: Sandbox, l: SandboxLimit) => s.capabilities.limits.includes(l);

    test("memory (if claimed): a 256 MB allocation under a 64m limit does not succeed", async (s) => {
      if (!claims(s, "memory")) return;
      const r = await s.exec(
        `awk 'BEGIN { s = "x"; while (length(s) < 256000000) s = s s; print "allocated" }'`,
        {
          timeoutMs: 60_000,
        },
      );
      assert.doesNotMatch(r.stdout, /allocated/);
      assert.notEqual(r.exitCode, 0);
    });

    test("pids (if claimed): 64 processes under a 32 limit cannot all start", async (s) => {
      if (!claims(s, "pids")) return;
      const r = await s.exec("i=0; while [ $i -lt 64 ]; do sleep 20 & i=$((i+1)); done; echo all", {
        timeoutMs: 30_000,
      });
      assert.doesNotMatch(r.stdout, /all/);
      assert.match(r.stderr, /fork|Resource temporarily unavailable/i);
    });

    test("cpu (if claimed): a one-second spin under 0.2 CPUs gets well under a second of CPU", async (s) => {
      if (!claims(s, "cpu")) return;
      const r = await s.exec("timeout 1 sh -c 'while :; do :; done'; times", { timeoutMs: 30_000 });
      const children = r.stdout.trim().split("\n").pop() ?? "";
      const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
        (a, m) => a + Number(m[1]) * 60 + Number(m[2]),
        0,
      );
      assert.ok(secs < 0.6, `children used ${secs} s of CPU: ${r.stdout}`);
    });

    test("disk (if claimed): /tmp stops at its size", async (s) => {
      if (!claims(s, "disk")) return;
      const r = await s.exec("head -c 16000000 /dev/zero > /tmp/fill; wc -c < /tmp/fill", {
        timeoutMs: 30_000,
      });
      assert.match(r.stderr, /No space left on device/);
      assert.ok(Number(r.stdout.trim()) <= 4 * 1024 * 1024);
    });

    anyTest("time and output are always claimed and hold (see the interface tests)", async (s) => {
      assert.ok(claims(s, "time") && claims(s, "output"));
    });

    const isolated = (s: Sandbox) => s.capabilities.isolation !== "none";

    test("host files outside the workspace: hidden if isolated, visible if not", async (s) => {
      const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "rein-contract-host-")));
      try {
        writeFileSync(path.join(dir, "secret.txt"), "host-secret\n", { mode: 0o644 });
        const r = await s.exec(["cat", path.join(dir, "secret.txt")]);
        if (isolated(s)) assert.doesNotMatch(r.stdout, /host-secret/);
        else assert.equal(r.stdout, "host-secret\n");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("/etc/shadow: unreadable if isolated (even when Rein is root)", async (s) => {
      const r = await s.exec("cat /etc/shadow");
      if (isolated(s)) assert.notEqual(r.exitCode, 0);
      else assert.equal(r.exitCode === 0, process.getuid?.() === 0);
    });

    test("uid: never 0 if isolated; the host's uid if not", async (s) => {
      const uid = Number((await s.exec("id -u")).stdout.trim());
      if (isolated(s)) assert.notEqual(uid, 0);
      else assert.equal(uid, process.getuid?.());
    });

    test("network: only loopback if isolated without network; the host's interfaces if 'host'", async (s) => {
      const r = await s.exec("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
      const ifaces = r.stdout.trim().split("\n");
      if (s.capabilities.network[0] === "none") assert.deepEqual(ifaces, ["lo"]);
      if (s.capabilities.network[0] === "host")
        assert.deepEqual(
          ifaces.sort(),
          readInterfaces().sort(),
          "an unisolated backend sees the host's interfaces",
        );
    });
  }
  if (o.withoutShell) checks.push(...sandboxCodeChecks(o));
  return checks;
}

/** A backend without a shell refuses every exec, string or argv, with the typed error. */
export async function assertNoShell(s: Sandbox): Promise<void> {
  assert.equal(s.capabilities.languages.includes("shell"), false);
  await assert.rejects(s.exec("echo hi"), { code: "REIN_SANDBOX_UNSUPPORTED" });
  await assert.rejects(s.exec(["/bin/echo", "hi"]), { code: "REIN_SANDBOX_UNSUPPORTED" });
}

function readInterfaces(): string[] {
  // Read in this (host) process, for comparison with what the sandbox sees.
  return readFileSync("/proc/net/dev", "utf8")
    .trim()
    .split("\n")
    .slice(2)
    .map((l) => (l.split(":")[0] ?? "").trim());
}
