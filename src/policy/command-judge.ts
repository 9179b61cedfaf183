/**
 * Judges one simple command: its assignments and redirections, the wrappers it goes through
 * (`sudo`, `env`, `timeout`, `xargs`, …), the shells and interpreters it feeds (`sh -c`, `eval`,
 * `source`, stdin from a pipeline), then the program itself through the command catalog.
 */
import { posix } from "node:path";
import { maxRisk, type RiskLevel, riskRank } from "../protocol/risk.js";
import { COMMANDS, stdinScript } from "./command-catalog.js";
import {
  type CommandContext,
  codeSourceFinding,
  type Finding,
  operands,
  type StdinSource,
} from "./command-context.js";
import type { EgressPolicy } from "./egress-policy.js";
import type { PathVerdict } from "./path-rules.js";
import type { Analysis, CommandVerdict, Pipelined, ShellAnalysisEnv, UrlVerdict } from "./shell-analysis.js";
import { MAX_NESTING } from "./shell-limits.js";
import type { ParsedShell, SimpleCommand } from "./shell-parse.js";
import type { ShellWord } from "./shell-words.js";
import { LOADER_VARIABLES, unwrap } from "./wrappers.js";

/** Shell control syntax inside one argument: `;`, `&&`, `||`, `& `, backticks, `$(`, line breaks. */
const SHELL_SYNTAX = /;|&&|\|\||`|\$\(|\n|\r|&\s/;
/** Programs whose arguments are regular expressions or programs where `|` is ordinary. */
const REGEX_TOOLS = new Set([
  "grep",
  "egrep",
  "fgrep",
  "rg",
  "ag",
  "ack",
  "zgrep",
  "sed",
  "awk",
  "gawk",
  "mawk",
  "nawk",
  "jq",
  "yq",
  "find",
  "git",
]);

const FETCHERS = new Set([
  "curl",
  "wget",
  "fetch",
  "http",
  "https",
  "nc",
  "ncat",
  "netcat",
  "socat",
  "aria2c",
  "lynx",
  "ftp",
  "tftp",
  "openssl",
  "ssh",
  "scp",
  "telnet",
  "lwp-request",
  "GET",
]);
const DECODERS = new Set([
  "base64",
  "base32",
  "xxd",
  "uudecode",
  "rev",
  "tr",
  "openssl",
  "gunzip",
  "zcat",
  "xz",
  "unxz",
  "bzip2",
  "bunzip2",
  "gzip",
  "perl",
  "python",
  "python3",
  "printf",
]);
export const SHELLS = new Set([
  "sh",
  "bash",
  "zsh",
  "dash",
  "ksh",
  "ash",
  "mksh",
  "fish",
  "busybox",
  "csh",
  "tcsh",
  "rbash",
]);
const SYSTEM_BIN = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$/;

export class CommandJudge {
  readonly findings: Finding[] = [];
  readonly paths: PathVerdict[] = [];
  readonly urls: UrlVerdict[] = [];
  readonly via: string[] = [];
  name: string | null = null;
  argv: readonly ShellWord[];

  constructor(
    readonly analysis: Analysis,
    readonly parsed: ParsedShell,
    readonly cmd: SimpleCommand,
    readonly id: string,
    readonly depth: number,
    readonly stageOf: ReadonlyMap<number, Pipelined>,
    /** The stdin of the command this script is nested in (`curl … | bash -c 'source /dev/stdin'`). */
    readonly inherited: StdinSource | undefined,
  ) {
    this.argv = cmd.argv;
  }

  get env(): ShellAnalysisEnv {
    return this.analysis.env;
  }

  add(level: RiskLevel, reason: string, rule: string): void {
    this.findings.push({ level, reason, rule });
  }

  verdict(parent: string | null): CommandVerdict {
    let top: Finding = this.findings[0] ?? { level: "LOW", reason: "nothing to run", rule: "shell:no-op" };
    for (const f of this.findings) if (riskRank(f.level) > riskRank(top.level)) top = f;
    return {
      id: this.id,
      text: this.cmd.text,
      argv: this.cmd.argv.map((w) => w.value),
      name: this.name,
      via: this.via,
      level: top.level,
      reason: top.reason,
      rule: top.rule,
      findings: this.findings,
      paths: this.paths,
      urls: this.urls,
      parent,
    };
  }

  judge(): void {
    const { cmd } = this;
    for (const a of cmd.assignments) {
      if (LOADER_VARIABLES.test(a.name))
        this.add("HIGH", `sets ${a.name}, which changes what programs run or load`, "shell:loader-variable");
    }
    for (const r of cmd.redirects) {
      if (r.kind === "dup" || r.kind === "heredoc" || r.kind === "herestring") continue;
      const access = r.kind === "read" ? "read" : "write";
      if (r.kind === "read-write") this.touch(r.target, "read");
      this.touch(r.target, access);
    }
    if (cmd.argv.length === 0) {
      if (this.findings.length === 0)
        this.add(
          "LOW",
          cmd.assignments.length > 0 ? "sets shell variables" : "redirection only",
          "shell:no-op",
        );
      return;
    }
    this.run(cmd.argv, false);
    this.injectionSigns();
  }

  /**
   * Signs of command injection, logged even when each command is harmless: a command substitution
   * in an argument (a second command whose output becomes data), or an argument whose text is
   * itself shell syntax (`";id;"`, `%0aid`) — what an injected payload looks like once quoted.
   */
  injectionSigns(): void {
    const program = this.name;
    const regexTool = program !== null && REGEX_TOOLS.has(program);
    for (const w of this.cmd.argv) {
      if (w.substitutions.length > 0) {
        this.add("MEDIUM", `runs a command substitution in ${w.raw} (logged)`, "shell:substitution");
        continue;
      }
      const v = w.value;
      if (v === null) continue;
      if (SHELL_SYNTAX.test(v) || (!regexTool && /\|/.test(v)) || /%0[ad]/i.test(v))
        this.add(
          "MEDIUM",
          `the argument ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)} contains shell syntax (a sign of injection; logged)`,
          "shell:suspicious-argument",
        );
    }
  }

  /** Judges `argv` as a command to run, unwrapping wrappers until the real program. */
  run(argv: readonly ShellWord[], unknownArgs: boolean) {
    let words = argv;
    for (let guard = 0; guard < 16; guard++) {
      const first = words[0];
      if (!first) return;
      let name = first.value;
      if (name === null) {
        this.add("HIGH", `the command name ${first.raw} is only known at run time`, "shell:dynamic-command");
        return;
      }
      if (name.includes("/")) {
        if (SYSTEM_BIN.test(name)) name = posix.basename(name);
        else {
          this.name = name;
          const verdict = this.touch(first, "read");
          const abs = this.env.paths.resolve(name);
          if (this.env.paths.insideWorkspace(abs))
            this.add("MEDIUM", `runs ${name} from the workspace (project code)`, "shell:project-code");
          else if (verdict?.level !== "HIGH")
            this.add(
              "HIGH",
              `runs ${name}, a program outside the workspace and the system's bin directories`,
              "shell:unknown-program",
            );
          return;
        }
      }
      this.name = name;
      const args = words.slice(1);
      if (this.parsed.functions.has(name) && this.via.length === 0) {
        this.add(
          "LOW",
          `calls ${name}, a function defined in this command (its body is judged on its own)`,
          "shell:function-call",
        );
        return;
      }
      const inner = unwrap(this, name, args);
      if (inner === "done") return;
      if (inner) {
        this.via.push(name);
        words = inner;
        continue;
      }
      if (SHELLS.has(name)) return this.shell(name, args);
      if (name === "eval") return this.evalWords(args);
      if (name === "source" || name === ".") return this.source(args);
      const handler = COMMANDS.get(name) ?? COMMANDS.get(name.split(".")[0] as string);
      if (!handler) {
        this.add(
          "HIGH",
          `${name} is not a command Rein knows; unknown programs need approval`,
          "shell:unknown-command",
        );
        for (const w of operands(args)) this.touch(w, "read");
        return;
      }
      handler(this.context(name, args, unknownArgs));
      return;
    }
    this.add("HIGH", "too many nested wrappers", "shell:nesting-limit");
  }

  /** `sh -c script`, `bash file`, `sh` reading stdin. */
  shell(name: string, args: readonly ShellWord[]) {
    for (let i = 0; i < args.length; i++) {
      const v = args[i]?.value;
      if (v === undefined) break;
      if (v === null) {
        const word = args[i] as ShellWord;
        const source = this.sourceOf(word);
        const f = codeSourceFinding(`${name}`, source, {
          level: "HIGH",
          reason: `${name} runs a script only known at run time (${word.raw})`,
          rule: "shell:dynamic-code",
        });
        return this.add(f.level, f.reason, f.rule);
      }
      if (v === "-c" || (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(v) && !v.startsWith("--"))) {
        const script = args[i + 1];
        if (!script) return this.add("HIGH", `${name} -c without a script`, "shell:parse-error");
        this.scriptWord(script, `${name} -c`);
        return;
      }
      if (v === "-s" || v === "-i") return this.stdin(name);
      if (v === "-o" || v === "-O" || v === "+O" || v === "--rcfile" || v === "--init-file") {
        i++;
        continue;
      }
      if (v.startsWith("-") || v.startsWith("+")) continue;
      const script = args[i] as ShellWord;
      if (script.processSubstitution) {
        const source = this.sourceOf(script);
        const f = codeSourceFinding(`${name}`, source, {
          level: "HIGH",
          reason: `${name} runs code produced by another command`,
          rule: "shell:stdin-code",
        });
        return this.add(f.level, f.reason, f.rule);
      }
      if (script.value === "/dev/stdin" || script.value === "-") return this.stdin(name);
      this.add("MEDIUM", `${name} runs the script ${script.raw} (project code)`, "shell:project-code");
      this.touch(script, "read");
      return;
    }
    this.stdin(name);
  }

  stdin(name: string) {
    stdinScript(this.context(name, [], false), (text) => {
      this.add("LOW", `${name} runs the commands given to it inline (judged one by one)`, "shell:nested");
      this.nestedScript(text);
    });
  }

  /** A script given as one word (`sh -c "…"`, `su -c`, `env -S`). */
  scriptWord(word: ShellWord, how: string) {
    if (word.value !== null) {
      this.add("LOW", `${how} runs a nested command (judged one by one)`, "shell:nested");
      this.nestedScript(word.value);
      return;
    }
    const f = codeSourceFinding(how, this.sourceOf(word), {
      level: "HIGH",
      reason: `${how} runs a script only known at run time (${word.raw})`,
      rule: "shell:dynamic-code",
    });
    this.add(f.level, f.reason, f.rule);
  }

  evalWords(args: readonly ShellWord[]) {
    if (args.length === 0) return this.add("LOW", "eval with nothing to run", "shell:no-op");
    const dynamic = args.find((a) => a.value === null);
    if (dynamic) return this.scriptWord(dynamic, "eval");
    this.add("LOW", "eval runs a nested command (judged one by one)", "shell:nested");
    this.nestedScript(args.map((a) => a.value).join(" "));
  }

  source(args: readonly ShellWord[]) {
    const file = args[0];
    if (!file) return this.add("HIGH", "source without a file", "shell:parse-error");
    if (file.processSubstitution || file.value === "/dev/stdin" || file.value === null) {
      const source = file.value === "/dev/stdin" ? this.stdinSource() : this.sourceOf(file);
      const f = codeSourceFinding(`source`, source, {
        level: "HIGH",
        reason: "source runs code produced at run time",
        rule: "shell:dynamic-code",
      });
      return this.add(f.level, f.reason, f.rule);
    }
    this.add("MEDIUM", `source runs the script ${file.raw} in this shell`, "shell:project-code");
    this.touch(file, "read");
  }

  nestedScript(text: string): void {
    if (this.depth + 1 > MAX_NESTING) {
      this.add("HIGH", `commands nested more than ${MAX_NESTING} levels deep`, "shell:nesting-limit");
      return;
    }
    const start = this.analysis.out.length;
    this.analysis.run(text, this.depth + 1, this.id, this.stdinSource());
    // The nested commands are verdicts of their own; the outer one carries their highest level too,
    // so `bash -c "rm -rf /"` is BLOCK as a whole even if a rule looks at `bash` alone.
    let top: CommandVerdict | undefined;
    for (const v of this.analysis.out.slice(start))
      if (!top || riskRank(v.level) > riskRank(top.level)) top = v;
    if (top) this.add(top.level, `runs: ${top.reason}`, top.rule);
  }

  /** A command run by a wrapper with (some) arguments only known at run time (`xargs`, `find -exec`). */
  nestedWords(argv: readonly ShellWord[], how: string, unknownArgs = false): void {
    if (argv.length === 0) return;
    const before = this.findings.length;
    const saved = this.name;
    this.via.push(how);
    this.run(argv, unknownArgs);
    this.name = saved ?? this.name;
    if (this.findings.length === before)
      this.add("HIGH", `${how} runs a command Rein could not judge`, "shell:unknown-command");
  }

  /** Where a run-time word's value comes from: the commands in its substitutions and variables. */
  sourceOf(word: ShellWord): StdinSource {
    const ids = [...word.substitutions];
    for (const v of word.variables) {
      for (const w of this.parsed.variables.get(v) ?? []) ids.push(...w.substitutions);
    }
    return this.classifySources(ids.map((id) => this.parsed.commands[id]).filter((c) => c !== undefined));
  }

  classifySources(cmds: readonly SimpleCommand[]): StdinSource {
    const names = cmds.map((c) => effectiveName(c.argv));
    const remote = names.find((n) => n !== null && FETCHERS.has(n));
    if (remote) return { kind: "remote", from: remote };
    for (const c of cmds) {
      const sub = c.argv.flatMap((w) => w.substitutions).map((id) => this.parsed.commands[id]);
      const inner = this.classifySources(sub.filter((x) => x !== undefined));
      if (inner.kind === "remote" || inner.kind === "decoded") return inner;
    }
    const decoder = names.find((n) => n !== null && DECODERS.has(n));
    if (decoder) return { kind: "decoded", from: decoder };
    return { kind: "other", from: names.filter((n) => n !== null).join(" | ") || "a run-time value" };
  }

  /** What feeds this command's stdin: a heredoc, a herestring, a file, or the pipeline before it. */
  stdinSource(): StdinSource {
    for (const r of this.cmd.redirects) {
      if (r.kind === "heredoc") {
        if (r.body != null) return { kind: "static", text: r.body, from: "a heredoc" };
        const subs = (r.substitutions ?? []).map((id) => this.parsed.commands[id]);
        const source = this.classifySources(subs.filter((c) => c !== undefined));
        return source.kind === "other" ? { kind: "other", from: "a heredoc with expansions" } : source;
      }
      if (r.kind === "herestring") {
        if (r.target.value !== null) return { kind: "static", text: r.target.value, from: "a here-string" };
        return this.sourceOf(r.target);
      }
      if (r.kind === "read" && (r.fd === null || r.fd === "0")) {
        return { kind: "other", from: r.target.raw };
      }
    }
    const at = this.stageOf.get(this.cmd.id);
    if (!at || at.stage === 0) return this.inherited ?? { kind: "terminal" };
    const upstream = at.pipeline.stages
      .slice(0, at.stage)
      .flat()
      .map((id) => this.parsed.commands[id])
      .filter((c) => c !== undefined);
    const classified = this.classifySources(upstream);
    if (classified.kind !== "other") return classified;
    const [only] = upstream;
    if (upstream.length === 1 && only) {
      const name = effectiveName(only.argv);
      if ((name === "echo" || name === "printf") && only.argv.every((w) => w.value !== null))
        return {
          kind: "static",
          text: only.argv
            .slice(1)
            .map((w) => w.value)
            .join(" "),
          from: name,
        };
      const fed = only.redirects.find((r) => r.kind === "heredoc" || r.kind === "herestring");
      if (name === "cat" && only.argv.length === 1 && fed) {
        const text = fed.kind === "heredoc" ? fed.body : fed.target.value;
        if (text != null) return { kind: "static", text, from: `cat with a ${fed.kind}` };
      }
    }
    return classified;
  }

  touch(word: ShellWord | string, access: "read" | "write"): PathVerdict | null {
    const w: ShellWord =
      typeof word === "string"
        ? {
            value: word,
            raw: word,
            glob: /[*?[]/.test(word),
            substitutions: [],
            processSubstitution: false,
            variables: [],
          }
        : word;
    if (w.processSubstitution) return null;
    if (w.value === null) {
      if (access === "write") {
        this.add("HIGH", `writes to ${w.raw}, a path only known at run time`, "path:dynamic-write");
      }
      return null;
    }
    if (w.value === "" || w.value === "-") return null;
    const verdict = this.env.paths.judge(w.value, access, w.glob);
    this.paths.push(verdict);
    if (verdict.level !== "LOW" || access === "write") this.add(verdict.level, verdict.reason, verdict.rule);
    return verdict;
  }

  url(text: string): void {
    if (!text) return;
    let url: URL;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
    } catch {
      return;
    }
    if (!/^(https?|ftp|wss?|ftps|sftp|scp|file|gopher|dict|tftp|ldap|telnet):$/.test(url.protocol)) return;
    if (url.protocol === "file:") {
      this.touch(url.pathname, "read");
      return;
    }
    if (url.protocol === "gopher:" || url.protocol === "dict:") {
      this.add("BLOCK", `${url.protocol} URLs are a request-smuggling vector`, "egress:scheme");
      return;
    }
    let verdict: ReturnType<EgressPolicy["check"]>;
    try {
      verdict = this.env.egress.check(url);
    } catch (err) {
      verdict = {
        allowed: false,
        reason: `the egress policy failed: ${String(err)}`,
        rule: "egress:policy-error",
      };
    }
    this.urls.push({
      url: url.href,
      allowed: verdict.allowed === true,
      reason: verdict.reason,
      rule: verdict.rule,
    });
    if (verdict.allowed !== true)
      this.add(
        maxRisk("HIGH", verdict.level ?? "BLOCK"),
        `reaches ${url.host}: ${verdict.reason}`,
        verdict.rule,
      );
  }

  context(name: string, args: readonly ShellWord[], unknownArgs: boolean): CommandContext {
    return {
      name,
      args,
      unknownArgs,
      paths: this.env.paths,
      egress: this.env.egress,
      add: (level, reason, rule) => this.add(level, reason, rule),
      touch: (word, access) => this.touch(word, access),
      url: (text) => this.url(text),
      nested: (argv, how, unknown = false) => this.nestedWords(argv, how, unknown),
      script: (source, how) => {
        this.add("LOW", `${how} runs a nested command`, "shell:nested");
        this.nestedScript(source);
      },
      stdinSource: () => this.stdinSource(),
      sourceOf: (word) => this.sourceOf(word),
    };
  }
}

/** The program a command line runs, looking through the common wrappers (for pipeline sources). */
export function effectiveName(argv: readonly ShellWord[]): string | null {
  const wrappers = new Set([
    "sudo",
    "doas",
    "env",
    "nice",
    "nohup",
    "time",
    "command",
    "builtin",
    "exec",
    "timeout",
    "stdbuf",
    "busybox",
    "setsid",
  ]);
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]?.value;
    if (v === null || v === undefined) return null;
    const base = v.includes("/") ? posix.basename(v) : v;
    if (
      wrappers.has(base) ||
      v.startsWith("-") ||
      /^[A-Za-z_][A-Za-z0-9_]*=/.test(v) ||
      (i > 0 && /^\d+[smhd]?$/.test(v))
    )
      continue;
    return base;
  }
  return null;
}
