import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { ReinEvent } from "../../src/index.js";
import { tempDir } from "../helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/rein.js");

function rein(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; nodeArgs?: string[] } = {},
) {
  const r = spawnSync(process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], {
    cwd: options.cwd ?? tempDir(),
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...options.env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Line = ReinEvent & { audit?: { file: string; records: number; headHash: string } };
const lines = (stdout: string): Line[] =>
  stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

function script(turns: unknown[]): string {
  const file = join(tempDir(), "script.json");
  writeFileSync(file, JSON.stringify({ name: "cli", turns }));
  return file;
}

/** A project folder whose node_modules has rein (this checkout) and zod, as an app that installed them. */
function project(): string {
  const dir = tempDir("rein-project-");
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules/rein"));
  symlinkSync(join(ROOT, "node_modules/zod"), join(dir, "node_modules/zod"));
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
  return dir;
}

const TICKET_TOOL = `
import { defineConfig, defineTool } from "rein";
import { z } from "zod/v4";

const status = defineTool({
  name: "ticket_status",
  description: "Status of a support ticket",
  input: z.object({ id: z.string() }),
  risk: { level: "LOW", reason: "read-only lookup" },
  readOnly: true,
  execute: async ({ id }) => ({ id, status: "open" }),
});
`;

describe("usage errors: exit 2, one line and a hint", () => {
  it.each([
    [
      ["run", "x", "--modle", "scripted:demo"],
      "unknown option '--modle' (Did you mean --model?)",
      "rein run --help",
    ],
    [["run", "x", "--max-turns", "0"], '--max-turns must be a positive integer, got "0"', "rein run --help"],
    [["bogus"], "unknown command 'bogus'", "rein --help"],
    [["run"], "missing required argument 'task'", "rein run --help"],
    [
      ["sandbox", "exec", "--pids", "x", "--", "true"],
      '--pids must be a positive integer, got "x"',
      "rein sandbox exec --help",
    ],
  ])("rein %j", (args, problem, hint) => {
    const r = rein(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const [first, second, ...rest] = r.stderr.trimEnd().split("\n");
    expect(first).toContain(problem);
    expect(first).toMatch(/^rein: /);
    expect(second).toBe(`rein: see \`${hint}\``);
    expect(rest).toEqual([]);
    expect(r.stderr).not.toContain("Usage:");
  });

  it("an empty task is a usage error too", () => {
    const r = rein(["run", " ", "--model", "scripted:demo"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the task is empty");
  });

  it("--help and --version exit 0", () => {
    expect(rein(["--help"]).code).toBe(0);
    expect(rein(["run", "--help"]).stdout).toContain("--max-turns <n>");
    expect(rein(["--version"]).code).toBe(0);
  });
});

describe("--json: every outcome is a JSON line on stdout", () => {
  it("a usage error", () => {
    const r = rein(["run", "x", "--max-turns", "0", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    expect(lines(r.stdout)).toEqual([
      {
        type: "error",
        code: "REIN_USAGE",
        message: expect.stringContaining('--max-turns must be a positive integer, got "0"'),
        hint: "see `rein run --help`",
        exitCode: 2,
      },
    ]);
  });

  it("a configuration error, naming the file, line and field", () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "rein.config.yaml"), "model: scripted:demo\nlimits:\n  maxTurns: -1\n");
    const r = rein(["run", "x", "--json"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    const [error] = lines(r.stdout) as unknown as { type: string; code: string; message: string }[];
    expect(error).toMatchObject({ type: "error", code: "REIN_CONFIG_INVALID", exitCode: 2 });
    expect(error!.message).toContain(`${join(cwd, "rein.config.yaml")}:3: limits.maxTurns`);
  });

  it("a missing script is REIN_SCRIPT_NOT_FOUND, as docs/errors.md says", () => {
    const r = rein(["run", "x", "--model", "scripted:missing.yaml", "--json", "--no-audit"]);
    expect(r.code).toBe(2);
    expect(lines(r.stdout)).toEqual([
      expect.objectContaining({ type: "error", code: "REIN_SCRIPT_NOT_FOUND", exitCode: 2 }),
    ]);
    const text = rein(["run", "x", "--model", "scripted:missing.yaml", "--no-audit"]);
    expect(text.stderr).toContain("rein: error code REIN_SCRIPT_NOT_FOUND");
  });

  it("run_ended and session_ended carry the audit file and its full head hash; no empty runId", () => {
    const cwd = tempDir();
    const file = script([{ tool_calls: [{ tool: "list_directory", input: {} }] }, { say: "done" }]);
    const r = rein(["run", "x", "--model", `scripted:${file}`, "--json", "--workspace", project()], { cwd });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const events = lines(r.stdout);
    expect(events.every((e) => typeof e.runId === "string" && e.runId.length > 0)).toBe(true);
    const runEnded = events.find((e) => e.type === "run_ended")!;
    const sessionEnded = events.at(-1)!;
    expect(sessionEnded.type).toBe("session_ended");
    expect(sessionEnded.runId).toBe(runEnded.runId);
    const trail = join(cwd, ".rein/audit", `${sessionEnded.sessionId}.jsonl`);
    expect(runEnded.audit).toMatchObject({ file: trail, records: 1 });
    expect(sessionEnded.audit).toMatchObject({ file: trail, records: 1 });
    expect(sessionEnded.audit!.headHash).toMatch(/^[0-9a-f]{64}$/);
    expect(runEnded.audit!.headHash).not.toBe(sessionEnded.audit!.headHash); // the session seal came after
    // The head is the trail's: verify --head accepts it.
    const verified = rein(["audit", "verify", trail, "--head", sessionEnded.audit!.headHash]);
    expect(verified.code).toBe(0);
    // session_started says where the audit goes: the CLI keeps .rein/ in the working directory.
    expect(events[0]).toMatchObject({
      type: "session_started",
      data: { audit: { kind: "file", file: trail } },
    });
  });

  it("without --json, rein run says on stderr that its state is in .rein/ of the working directory", () => {
    const cwd = tempDir();
    const r = rein(["run", "x", "--model", `scripted:${script([{ say: "hi" }])}`, "--workspace", project()], {
      cwd,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `rein: audit trail in ${join(cwd, ".rein/audit")} (the CLI keeps its state in .rein/ of the working directory)`,
    );
  });
});

describe("signals end a run like Ctrl-C", () => {
  it.each([
    ["SIGTERM", 143],
    ["SIGHUP", 129],
    ["SIGINT", 130],
  ] as const)(
    "%s: cancelled, run_ended and session_ended emitted, the trail sealed, exit %i",
    async (signal, code) => {
      const cwd = tempDir();
      const file = script([{ delay_ms: 60_000, say: "late" }]);
      const child = spawn(
        process.execPath,
        [BIN, "run", "wait", "--model", `scripted:${file}`, "--json", "--workspace", project()],
        {
          cwd,
          env: { ...process.env, NO_COLOR: "1" },
        },
      );
      let out = "";
      let signalled = false;
      child.stdout.on("data", (d) => {
        out += d;
        // The model call has started: the run is in flight.
        if (!signalled && out.includes('"type":"model_call_started"')) {
          signalled = true;
          child.kill(signal);
        }
      });
      const exit = await new Promise<number | null>((done) => child.on("close", done));
      expect(exit).toBe(code);
      const events = lines(out);
      const ended = events.find((e) => e.type === "run_ended");
      expect(ended?.type === "run_ended" && ended.data.stopReason).toMatchObject({ type: "cancelled" });
      expect(events.at(-1)?.type).toBe("session_ended");
      const audit = events.at(-1)!.audit!;
      expect(rein(["audit", "verify", audit.file, "--head", audit.headHash]).code).toBe(0);
    },
  );

  it("SIGTERM without --json prints the summary", async () => {
    const file = script([{ delay_ms: 60_000, say: "late" }]);
    const child = spawn(
      process.execPath,
      [BIN, "run", "wait", "--model", `scripted:${file}`, "--workspace", project()],
      {
        cwd: tempDir(),
        env: { ...process.env, NO_COLOR: "1" },
      },
    );
    let err = "";
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      // The live view shows the model call starting: the run, and its signal handlers, are in place.
      if (out.includes("── turn 1") && !child.killed) child.kill("SIGTERM");
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    expect(await new Promise((done) => child.on("close", done))).toBe(143);
    expect(err).toContain("rein: SIGTERM; cancelling the run");
    expect(out).toMatch(/cancelled/);
    expect(out).toMatch(/audit: \S+\.jsonl \(0 records, sealed, head [0-9a-f]{64}\)/);
  });
});

describe("rein.config.ts / .js: the user's own tools", () => {
  it.each(["rein.config.ts", "rein.config.js"])(
    "%s exports a defineTool tool that rein run calls",
    (name) => {
      const dir = project();
      writeFileSync(
        join(dir, name),
        `${name.endsWith(".ts") ? TICKET_TOOL : TICKET_TOOL.replace("async ({ id })", "async ({ id })")}
export default defineConfig({ tools: [status], limits: { maxTurns: 5 } });
`,
      );
      const file = script([
        { tool_calls: [{ tool: "ticket_status", input: { id: "T-7" } }] },
        { say: "It is open." },
      ]);
      const r = rein(["run", "status of T-7?", "--model", `scripted:${file}`, "--json", "--no-audit"], {
        cwd: dir,
      });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const events = lines(r.stdout);
      expect(events[0]).toMatchObject({ type: "session_started", data: { audit: { kind: "none" } } });
      expect((events[0]!.data as unknown as { tools: string[] }).tools).toContain("ticket_status");
      const finished = events.find((e) => e.type === "tool_call_finished");
      expect(finished?.type === "tool_call_finished" && [finished.data.tool, finished.data.ok]).toEqual([
        "ticket_status",
        true,
      ]);
      expect(finished?.type === "tool_call_finished" && finished.data.content).toContain(
        '{"id":"T-7","status":"open"}',
      );
    },
  );

  it("a .ts config with a wrong field is refused naming the file and field (exit 2, JSON with --json)", () => {
    const dir = project();
    writeFileSync(
      join(dir, "rein.config.ts"),
      `${TICKET_TOOL}\nexport default defineConfig({ tools: [status], limits: { maxTurns: "many" } } as never);\n`,
    );
    const r = rein(["config", "check", "--json"], { cwd: dir });
    expect(r.code).toBe(2);
    const [error] = lines(r.stdout) as unknown as { code: string; message: string }[];
    expect(error!.code).toBe("REIN_CONFIG_INVALID");
    expect(error!.message).toContain(`${join(dir, "rein.config.ts")}: limits.maxTurns:`);
  });

  it("a YAML config cannot hold tools, and says to use rein.config.ts", () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "rein.config.yaml"), "model: scripted:demo\ntools:\n  - name: x\n");
    const r = rein(["config", "check"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "rein.config.yaml:3: tools: a YAML config cannot define tools; use rein.config.ts",
    );
  });
});

describe("rein config check", () => {
  it("prints every setting of rein run with its source: flag, env, file, default", () => {
    const dir = project();
    mkdirSync(join(dir, "work"));
    writeFileSync(
      join(dir, "rein.config.ts"),
      `${TICKET_TOOL}\nexport default defineConfig({ workspace: "work", limits: { maxCostUsd: 0.5 }, tools: [status] });\n`,
    );
    const configFile = join(dir, "rein.config.ts");
    const r = rein(["config", "check", "--json", "--max-turns", "7"], {
      cwd: dir,
      env: { REIN_MODEL: "scripted:demo" },
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [out] = lines(r.stdout) as unknown as {
      type: string;
      file: string;
      settings: Record<string, { value: unknown; source: string }>;
    }[];
    expect(out!.file).toBe(configFile);
    expect(out!.settings).toMatchObject({
      model: { value: "scripted:demo", source: "REIN_MODEL" },
      workspace: { value: join(dir, "work"), source: configFile },
      "limits.maxTurns": { value: 7, source: "--max-turns" },
      "limits.maxCostUsd": { value: 0.5, source: configFile },
      "limits.timeoutMs": { value: 1_800_000, source: "default" },
      audit: { value: join(dir, ".rein/audit"), source: "default" },
      sandbox: { value: "bubblewrap", source: "default" },
      trust: { value: "supervised", source: "default" },
      tools: { value: ["ticket_status"], source: configFile },
    });
    const text = rein(["config", "check", "--trust", "read-only"], { cwd: dir, env: { REIN_MODEL: "" } });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`config: ${configFile} (valid)`);
    expect(text.stdout).toMatch(/ {2}trust +read-only {2}\(--trust\)\n/);
    expect(text.stdout).toMatch(/ {2}model +- {2}\(none \(rein run stops with REIN_MODEL_NOT_CHOSEN\)\)\n/);
  });
});

describe("rein doctor", () => {
  it("checks Node, bubblewrap, Redis and the config, and says which keys are set without printing them", async () => {
    // A loopback Redis stand-in that answers PING the way Redis does.
    const server = createServer((socket) => socket.on("data", () => socket.end("+PONG\r\n")));
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const port = (server.address() as { port: number }).port;
    try {
      const secret = "sk-ant-api03-DOCTORMUSTNOTPRINTTHIS0123456789";
      const cwd = tempDir();
      writeFileSync(join(cwd, "rein.config.yaml"), "model: scripted:demo\n");
      const r = await new Promise<{ code: number | null; stdout: string }>((done) => {
        const child = spawn(process.execPath, [BIN, "doctor", "--json"], {
          cwd,
          env: {
            ...process.env,
            ANTHROPIC_API_KEY: secret,
            OPENAI_API_KEY: "",
            REDIS_URL: `redis://:pw@127.0.0.1:${port}`,
          },
        });
        let stdout = "";
        child.stdout.on("data", (d) => {
          stdout += d;
        });
        child.on("close", (code) => done({ code, stdout }));
      });
      expect(r.stdout).not.toContain(secret);
      expect(r.stdout).not.toContain("pw@");
      expect(r.code).toBe(0);
      const { ok, checks } = JSON.parse(r.stdout) as {
        ok: boolean;
        checks: { name: string; status: string; detail: string }[];
      };
      expect(ok).toBe(true);
      const by = Object.fromEntries(checks.map((c) => [c.name, c]));
      expect(by.node).toEqual({ name: "node", status: "ok", detail: process.versions.node });
      expect(by.bubblewrap?.status).toBe("ok");
      expect(by.bubblewrap?.detail).toMatch(/^bubblewrap \d/);
      expect(["ok", "warn"]).toContain(by.docker?.status);
      expect(by.redis).toMatchObject({ status: "ok", detail: `redis://127.0.0.1:${port} answers +PONG` });
      expect(by.config).toMatchObject({ status: "ok", detail: `${join(cwd, "rein.config.yaml")} is valid` });
      expect(by.ANTHROPIC_API_KEY).toEqual({ name: "ANTHROPIC_API_KEY", status: "ok", detail: "set" });
      expect(by.OPENAI_API_KEY).toEqual({ name: "OPENAI_API_KEY", status: "warn", detail: "not set" });
    } finally {
      server.close();
    }
  });

  it("fails (exit 1) on an invalid config, and warns when nothing answers at REDIS_URL", () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "rein.config.yaml"), "limits: { maxTurns: 0 }\n");
    const r = rein(["doctor"], { cwd, env: { REDIS_URL: "redis://127.0.0.1:1" } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^fail {2}config +.*rein\.config\.yaml:1: limits\.maxTurns/m);
    expect(r.stdout).toMatch(/^warn {2}redis +nothing answers at redis:\/\/127\.0\.0\.1:1/m);
  });
});

describe("rein completion", () => {
  /** What bash completes for the words typed so far (the last one is being completed). */
  function complete(shell: "bash" | "zsh", words: string[]): string[] {
    const file = join(tempDir(), `rein.${shell}`);
    writeFileSync(file, rein(["completion", shell]).stdout);
    const program = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _rein_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync(shell, ["-c", program], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    const candidates = r.stdout.split("\n").filter(Boolean);
    // zsh's compgen (bashcompinit) offers the level's words; zsh's compadd then keeps those with the
    // typed prefix, as bash's compgen does itself.
    return shell === "zsh" ? candidates.filter((w) => w.startsWith(words.at(-1)!)) : candidates;
  }

  it.each(["bash", "zsh"] as const)(
    "%s completes commands, subcommands and each command's flags",
    (shell) => {
      expect(complete(shell, ["rein", "ru"])).toEqual(["run"]);
      expect(complete(shell, ["rein", "run", "do it", "--max-t"])).toEqual(["--max-turns", "--max-tokens"]);
      expect(complete(shell, ["rein", "sandbox", "e"])).toEqual(["exec"]);
      expect(complete(shell, ["rein", "sandbox", "exec", "--back"])).toEqual(["--backend"]);
      expect(complete(shell, ["rein", "config", ""])).toEqual(["check", "--help"]);
    },
  );

  it("fish completes commands and flags", () => {
    const file = join(tempDir(), "rein.fish");
    writeFileSync(file, rein(["completion", "fish"]).stdout);
    const ask = (line: string) =>
      spawnSync("fish", ["-c", `source ${file}; complete -C '${line}'`], { encoding: "utf8" })
        .stdout.split("\n")
        .map((l) => l.split("\t")[0])
        .filter(Boolean);
    expect(ask("rein ru")).toEqual(["run"]);
    expect(ask("rein doctor --js")).toEqual(["--json"]);
    expect(ask("rein sandbox ex")).toEqual(["exec"]);
  });

  it("an unknown shell is a usage error", () => {
    const r = rein(["completion", "tcsh"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rein completion supports bash, zsh, fish, not "tcsh"');
  });
});

describe("startup stays light", () => {
  /** The files a `rein` invocation loads, from dist/ and from node_modules (by package). */
  function loadedBy(args: string[]) {
    const hook = `data:text/javascript,${encodeURIComponent(`
      import { registerHooks } from "node:module";
      const seen = new Set();
      registerHooks({ load(url, context, next) { seen.add(url); return next(url, context); } });
      process.on("exit", () => process.stderr.write("LOADED " + JSON.stringify([...seen]) + "\\n"));
    `)}`;
    const r = rein(args, { nodeArgs: ["--import", hook] });
    const line = r.stderr.split("\n").find((l) => l.startsWith("LOADED "))!;
    const urls = JSON.parse(line.slice(7)) as string[];
    return {
      code: r.code,
      dist: urls.filter((u) => u.includes("/dist/")).map((u) => u.slice(u.indexOf("/dist/") + 6)),
      packages: [
        ...new Set(urls.flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? [])),
      ],
    };
  }

  it.each([[["--help"]], [["run", "--help"]], [["--version"]], [["config", "--help"]]])(
    "rein %j loads only commander and the CLI's registration files: no subsystem",
    (args) => {
      const { code, dist, packages } = loadedBy(args);
      expect(code).toBe(0);
      expect(packages.filter((p) => p !== "commander")).toEqual([]);
      const outside = dist.filter((f) => !f.startsWith("cli/") && !f.startsWith("protocol/"));
      expect(outside).toEqual([]);
      // The commands' work is not loaded either.
      expect(
        dist.filter((f) => /cli\/(execute-run|run-action|demo-command|doctor|config-check)\.js$/.test(f)),
      ).toEqual([]);
    },
  );

  it("the probe sees a subsystem when a command runs (rein models loads the models room)", () => {
    const { dist } = loadedBy(["models", "--json"]);
    expect(dist.some((f) => f.startsWith("models/"))).toBe(true);
  });
});

describe("the Node-version message", () => {
  const preload = (v: string) =>
    `data:text/javascript,Object.defineProperty(process.versions,"node",{value:${JSON.stringify(v)}})`;

  it("inside the repository it says to run through npm, which brings Node 24", () => {
    const r = rein(["--version"], { nodeArgs: ["--import", preload("20.11.1")] });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("inside the repository, run it through npm");
  });

  it("in an app that installed rein it says to install Node 22 or newer", () => {
    // The package as installed: bin/ and package.json, no src/ and no project Node.
    const pkg = join(tempDir(), "node_modules/rein");
    mkdirSync(pkg, { recursive: true });
    cpSync(join(ROOT, "bin"), join(pkg, "bin"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(pkg, "package.json"));
    const r = spawnSync(
      process.execPath,
      ["--import", preload("20.11.1"), join(pkg, "bin/rein.js"), "--version"],
      {
        encoding: "utf8",
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("this is Node 20.11.1");
    expect(r.stderr).toContain("install Node.js 22 or newer (24 LTS recommended");
    expect(r.stderr).not.toContain("inside the repository");
    expect(existsSync(join(pkg, "src"))).toBe(false);
    expect(readFileSync(join(pkg, "bin/rein.js"), "utf8")).toContain("REIN_NODE_VERSION");
  });
});
