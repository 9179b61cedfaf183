/**
 * The escape suite against the WebAssembly backends. Every probe of PROBES is accounted for per
 * backend: either a WASM equivalent of the attack, asserting how it was stopped, or a statement that the
 * attack cannot be expressed there (no shell, no processes, no syscalls), which asserts that the shell
 * the probe needs is refused with REIN_SANDBOX_UNSUPPORTED. Nothing passes silently.
 */

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecResult, Sandbox } from "../../src/sandbox/sandbox.js";
import { PyodideSandbox } from "../../src/sandbox/wasm/pyodide-sandbox.js";
import { QuickJSSandbox } from "../../src/sandbox/wasm/quickjs-sandbox.js";
import { isAlive, PROBES } from "./probes.js";

interface Ctx {
  readonly sandbox: Sandbox;
  readonly workspace: string;
  readonly hostSecretPath: string;
  readonly loopbackPort: number;
  readonly victimPid: number;
}

type Equivalent = (ctx: Ctx) => Promise<void>;

const envName = "REIN_ESCAPE_HOST_SECRET";
const envValue = "env-secret-value-0815";
const hostSecretText = "host-only-secret-4711";

/** Why whole categories of probes have no WASM form. */
const NOT_EXPRESSIBLE: Record<string, string> = {
  privileges: "WebAssembly code has no uid, capabilities, setuid or namespaces to abuse",
  seccomp: "WebAssembly code makes no system calls of its own",
  signals: "WebAssembly code has no processes to signal",
};

const js = (ctx: Ctx, code: string, timeoutMs = 20_000) =>
  ctx.sandbox.runCode("javascript", code, { timeoutMs });
const py = (ctx: Ctx, code: string, timeoutMs = 60_000) => ctx.sandbox.runCode("python", code, { timeoutMs });
const ok = (r: ExecResult) => expect(r.exitCode, r.stderr).toBe(0);

/** JavaScript in QuickJS: no Node API at all; files only through the confined, masked `workspace`. */
const QUICKJS: Record<string, Equivalent> = {
  "fs-shadow": async (ctx) => {
    const r = await js(ctx, `workspace.readFile("/etc/shadow")`);
    expect(r.stderr).toMatch(/absolute paths are outside the workspace/);
  },
  "fs-host-secret": async (ctx) => {
    const rel = path.relative(ctx.workspace, ctx.hostSecretPath);
    for (const p of [ctx.hostSecretPath, rel]) {
      const r = await js(ctx, `console.log(workspace.readFile(${JSON.stringify(p)}))`);
      expect(r.stdout).not.toContain(hostSecretText);
      expect(r.stderr).toMatch(/outside the workspace/);
    }
  },
  "fs-root-allowlist": async (ctx) => {
    const r = await js(ctx, `workspace.listFiles("..")`);
    expect(r.stderr).toMatch(/outside the workspace/);
  },
  "fs-write-parent": async (ctx) => {
    const r = await js(ctx, `workspace.writeFile("../rein-escape.txt", "x")`);
    expect(r.stderr).toMatch(/outside the workspace/);
    expect(fs.existsSync(path.join(path.dirname(ctx.workspace), "rein-escape.txt"))).toBe(false);
  },
  "fs-symlink-shadow": async (ctx) => {
    fs.symlinkSync("/etc/shadow", path.join(ctx.workspace, "shadow-link"));
    const r = await js(ctx, `workspace.readFile("shadow-link")`);
    expect(r.stderr).toMatch(/shadow-link: ELOOP/); // O_NOFOLLOW refuses the link itself
  },
  "fs-symlink-host-secret": async (ctx) => {
    fs.symlinkSync(ctx.hostSecretPath, path.join(ctx.workspace, "secret-link"));
    const r = await js(ctx, `console.log(workspace.readFile("secret-link"))`);
    expect(r.stdout).not.toContain(hostSecretText);
    expect(r.stderr).toMatch(/secret-link: ELOOP/);
  },
  "fs-planted-fifo-host-read": async (ctx) => {
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [path.join(ctx.workspace, "planted-fifo")]);
    const r = await js(ctx, `workspace.readFile("planted-fifo")`);
    expect(r.stderr).toMatch(/not a regular file/);
    expect(r.timedOut).toBe(false);
  },
  "fs-mask-env": async (ctx) => {
    const r = await js(ctx, `console.log(workspace.readFile(".env"))`);
    expect(r.stdout).not.toContain("API_KEY");
    expect(r.stderr).toMatch(/\.env: denied \(a masked path\)/);
  },
  "fs-mask-nested-env": async (ctx) => {
    const r = await js(ctx, `workspace.readFile("config/.env.production")`);
    expect(r.stderr).toMatch(/denied \(a masked path\)/);
  },
  "fs-mask-ssh": async (ctx) => {
    const r = await js(ctx, `console.log(workspace.listFiles(".ssh")); workspace.readFile(".ssh/id_rsa")`);
    expect(r.stderr).toMatch(/\.ssh: denied|\.ssh\/id_rsa: denied/);
  },
  "fs-mask-rein": async (ctx) => {
    const r = await js(ctx, `workspace.writeFile(".rein/audit.jsonl", "forged")`);
    expect(r.stderr).toMatch(/denied \(a masked path\)/);
    expect(fs.readFileSync(path.join(ctx.workspace, ".rein", "audit.jsonl"), "utf8")).toBe("genuine\n");
  },
  "env-host-secret": async (ctx) => {
    const r = await js(ctx, `console.log(JSON.stringify(env), typeof process, typeof globalThis.std)`);
    expect(r.stdout).toBe("{} undefined undefined\n");
  },
  "env-minimal": async (ctx) => {
    const r = await js(ctx, `console.log(Object.keys(globalThis).sort().join(","))`);
    expect(r.stdout).toBe("console,env,workspace\n");
  },
  "net-host-loopback": async (ctx) => {
    const r = await js(
      ctx,
      `console.log([typeof fetch, typeof XMLHttpRequest, typeof WebSocket, typeof require].join())`,
    );
    expect(r.stdout).not.toContain("function");
    expect(r.stdout + r.stderr).not.toContain("hello from the host");
  },
  "res-memory-bomb": async (ctx) => {
    const r = await js(ctx, `const keep = []; for (;;) keep.push(new Uint8Array(1 << 20))`);
    expect(r.oomKilled).toBe(true);
    expect(r.stderr).toMatch(/out of memory/);
    expect(r.timedOut).toBe(false);
  },
  "res-cpu-spin": async (ctx) => {
    const r = await js(ctx, `for (;;) {}`, 300);
    expect(r.timedOut).toBe(true);
    expect(r.stoppedBy).toBe("interrupt");
  },
  "res-output-flood": async (ctx) => {
    const r = await ctx.sandbox.runCode(
      "javascript",
      `for (let i = 0; i < 1e5; i++) console.log("x".repeat(100))`,
      {
        maxOutputBytes: 4096,
        timeoutMs: 20_000,
      },
    );
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(4096);
    expect(r.exitCode).toBe(0);
  },
};

/**
 * Python in Pyodide inside bubblewrap: Python reaches Node (`import js`), so each attack goes through
 * Node's own modules, and bubblewrap is what stops it.
 */
const node = (mod: string) => `js.process.getBuiltinModule(${JSON.stringify(mod)})`;
const PYODIDE: Record<string, Equivalent> = {
  "fs-shadow": async (ctx) => {
    const r = await py(
      ctx,
      `import js\ntry:\n  print(${node("fs")}.readFileSync("/etc/shadow", "utf8"))\nexcept Exception as e:\n  print("refused", e)\ntry:\n  open("/etc/shadow")\nexcept Exception as e:\n  print("refused", type(e).__name__)`,
    );
    ok(r);
    expect(r.stdout).toMatch(/refused .*ENOENT: no such file or directory, open '\/etc\/shadow'/);
    expect(r.stdout).toMatch(/refused FileNotFoundError/);
  },
  "fs-host-secret": async (ctx) => {
    const r = await py(
      ctx,
      `import js\ntry:\n  print(${node("fs")}.readFileSync(${JSON.stringify(ctx.hostSecretPath)}, "utf8"))\nexcept Exception as e:\n  print("refused", e)`,
    );
    expect(r.stdout).not.toContain(hostSecretText);
    expect(r.stdout).toMatch(/refused .*ENOENT/);
  },
  "fs-symlink-shadow": async (ctx) => {
    fs.symlinkSync("/etc/shadow", path.join(ctx.workspace, "shadow-link"));
    const r = await py(
      ctx,
      `try:\n  print(open("shadow-link").read())\nexcept Exception as e:\n  print("refused", type(e).__name__)`,
    );
    expect(r.stdout).toBe("refused FileNotFoundError\n");
  },
  "fs-mask-env": async (ctx) => {
    const r = await py(ctx, `print(repr(open(".env").read()))`);
    ok(r);
    expect(fs.readFileSync(path.join(ctx.workspace, ".env"), "utf8")).toContain("API_KEY");
    expect(r.stdout).toBe("''\n");
  },
  "fs-write-usr": async (ctx) => {
    const r = await py(
      ctx,
      `import js\ntry:\n  ${node("fs")}.writeFileSync(${JSON.stringify(process.execPath)}, "x")\nexcept Exception as e:\n  print("refused", e)`,
    );
    expect(r.stdout).toMatch(/refused .*(EROFS|EACCES|ETXTBSY)/);
  },
  "env-host-secret": async (ctx) => {
    const r = await py(
      ctx,
      `import js, os\nprint(sorted(os.environ.keys()))\nprint(js.Reflect.has(${node("process")}.env, "${envName}"))\nprint(sorted(js.Object.keys(js.process.env)))`,
    );
    ok(r);
    expect(r.stdout).not.toContain(envValue);
    expect(r.stdout).toContain("False");
    // bubblewrap's environment (PATH, HOME, LANG); PWD is set inside when Python changes directory.
    expect(r.stdout.trim().split("\n").at(-1)).toMatch(/^\['HOME', 'LANG', 'PATH'(, 'PWD')?\]$/);
  },
  "net-host-loopback": async (ctx) => {
    const r = await py(
      ctx,
      `from pyodide.code import run_js\nprint(await run_js("""new Promise((res) => { const s = process.getBuiltinModule('net').connect(${ctx.loopbackPort}, '127.0.0.1'); s.on('data', (d) => res('got ' + d)); s.on('error', (e) => res(e.code)); })"""))`,
    );
    expect(r.stdout).toBe("ECONNREFUSED\n");
  },
  "net-public-ip": async (ctx) => {
    const r = await py(
      ctx,
      `from pyodide.code import run_js\nprint(await run_js("""new Promise((res) => { const s = process.getBuiltinModule('net').connect(53, '8.8.8.8'); s.on('connect', () => res('connected')); s.on('error', (e) => res(e.code)); })"""))`,
    );
    expect(r.stdout).toBe("ENETUNREACH\n");
  },
  "net-only-lo": async (ctx) => {
    // Node's own view of the interfaces, through the process Python can reach.
    const r = await py(
      ctx,
      `import js\nlines = ${node("fs")}.readFileSync("/proc/net/dev", "utf8").strip().split("\\n")[2:]\nprint([l.split(":")[0].strip() for l in lines])`,
    );
    expect(r.stdout, r.stderr).toBe("['lo']\n");
  },
  "priv-uid": async (ctx) => {
    const r = await py(ctx, `import js\nprint(js.process.getuid())`);
    expect(Number(r.stdout.trim())).not.toBe(0);
  },
  "sig-host-pid": async (ctx) => {
    const r = await py(
      ctx,
      `import js\ntry:\n  js.process.kill(${ctx.victimPid}, 9)\n  print("sent")\nexcept Exception as e:\n  print("refused", e)`,
    );
    expect(r.stdout).toMatch(/refused .*ESRCH/);
    expect(isAlive(ctx.victimPid)).toBe(true);
  },
  "res-memory-bomb": async (ctx) => {
    const r = await py(ctx, `keep = []\nwhile True:\n  keep.append(b"x" * (64 << 20))`, 120_000);
    // Either the cgroup's OOM killer ends the interpreter's process, or WebAssembly memory runs out first.
    if (r.oomKilled) expect(r.signal === "SIGKILL" || r.exitCode === 137).toBe(true);
    else expect(r.stderr).toMatch(/MemoryError/);
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).not.toBe(0);
  },
  "res-cpu-spin": async (ctx) => {
    const r = await py(ctx, `while True:\n  pass`, 1_000);
    expect(r.timedOut).toBe(true);
    expect(r.stoppedBy).toBe("watchdog");
    expect(r.signal).toBe("SIGKILL");
  },
};

function suite(name: string, make: (workspace: string) => Sandbox, equivalents: Record<string, Equivalent>) {
  describe(`escape suite: ${name}`, () => {
    let base: string;
    let ctx: Ctx;
    let server: net.Server;
    let victim: ReturnType<typeof spawn>;

    beforeAll(async () => {
      base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-escape-wasm-")));
      fs.chmodSync(base, 0o755);
      const workspace = path.join(base, "ws");
      fs.mkdirSync(path.join(workspace, "config"), { recursive: true });
      fs.mkdirSync(path.join(workspace, ".ssh"));
      fs.mkdirSync(path.join(workspace, ".rein"));
      fs.writeFileSync(path.join(workspace, ".env"), "API_KEY=host-secret-value\n");
      fs.writeFileSync(path.join(workspace, "config", ".env.production"), "DB_PASSWORD=hunter2\n");
      fs.writeFileSync(path.join(workspace, ".ssh", "id_rsa"), "-----BEGIN OPENSSH PRIVATE KEY-----\n");
      fs.writeFileSync(path.join(workspace, ".rein", "audit.jsonl"), "genuine\n");
      const hostSecretPath = path.join(base, "host-secret.txt");
      fs.writeFileSync(hostSecretPath, `${hostSecretText}\n`, { mode: 0o644 });
      process.env[envName] = envValue;
      server = net.createServer((s) => s.end("hello from the host\n"));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      victim = spawn("sleep", ["600"], { stdio: "ignore" });
      await new Promise((r) => victim.once("spawn", r));
      ctx = {
        sandbox: make(workspace),
        workspace,
        hostSecretPath,
        loopbackPort: (server.address() as net.AddressInfo).port,
        victimPid: victim.pid ?? -1,
      };
    });

    afterAll(async () => {
      await ctx?.sandbox.dispose();
      victim?.kill("SIGKILL");
      server?.close();
      delete process.env[envName];
      fs.rmSync(base, { recursive: true, force: true });
    });

    it("accounts for every probe: each has an equivalent or a reason it cannot be expressed", () => {
      for (const id of Object.keys(equivalents)) expect(PROBES.map((p) => p.id)).toContain(id);
      expect(Object.keys(equivalents).length).toBeGreaterThanOrEqual(12);
    });

    for (const probe of PROBES) {
      const equivalent = equivalents[probe.id];
      if (equivalent) {
        it(`${probe.category}/${probe.id}: ${probe.title} — WASM equivalent`, () => equivalent(ctx), 150_000);
      } else {
        const why =
          NOT_EXPRESSIBLE[probe.category] ?? "the probe needs a shell command, and this backend has none";
        it(`${probe.category}/${probe.id}: not expressible in WASM (${why}); the shell it needs is refused`, async () => {
          await expect(ctx.sandbox.exec("true")).rejects.toMatchObject({ code: "REIN_SANDBOX_UNSUPPORTED" });
        });
      }
    }
  });
}

suite("quickjs", (workspace) => new QuickJSSandbox({ workspace, memory: "64m" }), QUICKJS);
suite(
  "pyodide (in bubblewrap)",
  (workspace) => new PyodideSandbox({ workspace, memory: "512m", poolSize: 1 }),
  PYODIDE,
);
