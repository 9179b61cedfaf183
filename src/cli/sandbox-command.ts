import { resolve } from "node:path";
import { ConfigError } from "../protocol/errors.js";
import { createSandbox, NO_ISOLATION_WARNING, type SandboxBackend } from "../sandbox/create-sandbox.js";
import { CODE_LANGUAGES, type CodeLanguage, type ExecResult } from "../sandbox/sandbox.js";

export interface SandboxExecOptions {
  readonly backend: SandboxBackend;
  readonly workspace: string;
  readonly memory?: string;
  readonly pids?: number;
  readonly cpus?: number;
  readonly tmpSize?: string;
  readonly timeoutMs?: number;
  /** `none`, or `proxy:<unix socket path>`. */
  readonly network: string;
  readonly json: boolean;
  readonly argv: readonly string[];
  /** Run the arguments (joined by spaces; `-` reads stdin) as a program in this language (`runCode`). */
  readonly language?: string;
}

/** The process exit status for a command's result: its own code, 124 on timeout (like timeout(1)), 128+n for a signal. */
export function exitStatusOf(r: ExecResult): number {
  if (r.timedOut) return 124;
  if (r.exitCode !== null) return r.exitCode;
  const n = r.signal ? (SIGNALS[r.signal] ?? 9) : 9;
  return 128 + n;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
  SIGSYS: 31,
};

function network(value: string): "none" | { proxySocket: string } {
  if (value === "none") return "none";
  if (value.startsWith("proxy:") && value.length > 6) return { proxySocket: resolve(value.slice(6)) };
  throw new ConfigError(
    `--network must be "none" or "proxy:<unix socket path>", got ${JSON.stringify(value)}.`,
    {
      field: "network",
    },
  );
}

function codeLanguage(value: string): CodeLanguage {
  if ((CODE_LANGUAGES as readonly string[]).includes(value)) return value as CodeLanguage;
  throw new ConfigError(
    `--language must be one of ${CODE_LANGUAGES.join(", ")}, got ${JSON.stringify(value)}.`,
    {
      field: "language",
    },
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * `rein sandbox exec -- <command…>`: runs one command in a sandbox and exits with its exit status.
 * With `--json` the result record is printed instead of the command's output.
 */
export async function sandboxExecCommand(o: SandboxExecOptions): Promise<number> {
  if (o.argv.length === 0)
    throw new ConfigError("rein sandbox exec needs a command after --.", { field: "command" });
  if (o.backend === "none") process.stderr.write(`rein: WARNING ${NO_ISOLATION_WARNING}\n`);
  const language = o.language === undefined ? undefined : codeLanguage(o.language);
  const sandbox = createSandbox({
    backend: o.backend,
    workspace: o.workspace,
    ...(o.memory !== undefined ? { memory: o.memory } : {}),
    ...(o.pids !== undefined ? { pids: o.pids } : {}),
    ...(o.cpus !== undefined ? { cpus: o.cpus } : {}),
    ...(o.tmpSize !== undefined ? { tmpSize: o.tmpSize } : {}),
    network: network(o.network),
  });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.on("SIGINT", onSigint);
  try {
    const options = {
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      signal: abort.signal,
    };
    const r =
      language === undefined
        ? await sandbox.exec(o.argv, options)
        : await sandbox.runCode(
            language,
            o.argv.join(" ") === "-" ? await readStdin() : o.argv.join(" "),
            options,
          );
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({ ...r, sandbox: sandbox.name, capabilities: sandbox.capabilities })}\n`,
      );
    } else {
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      if (r.timedOut)
        process.stderr.write(
          `rein: the ${language ? "program" : "command"} timed out${o.timeoutMs !== undefined ? ` after ${o.timeoutMs} ms` : ""} and was ${r.stoppedBy === "interrupt" ? "interrupted" : "killed"}\n`,
        );
      if (r.oomKilled) process.stderr.write("rein: the command ran out of memory and was killed\n");
      if (r.truncated) process.stderr.write("rein: output was truncated at the cap\n");
    }
    return exitStatusOf(r);
  } finally {
    process.off("SIGINT", onSigint);
    await sandbox.dispose();
  }
}
