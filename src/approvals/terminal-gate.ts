import { createInterface } from "node:readline";
import type { ApprovalDecision, ApprovalGate, ApprovalRequest } from "./approval-gate.js";

/**
 * A readable text stream such as `process.stdin`, described without Node's types so that apps
 * compile without `@types/node`.
 */
export interface TerminalInput {
  readonly readable: boolean;
  on(event: "data", listener: (chunk: string | Uint8Array) => void): unknown;
}

/** A writable text stream such as `process.stderr`. */
export interface TerminalOutput {
  write(chunk: string): boolean;
}

export interface TerminalGateOptions {
  /** Where answers are read (default: process.stdin). */
  readonly input?: TerminalInput;
  /** Where the request is shown (default: process.stderr, so `--json` stdout stays clean). */
  readonly output?: TerminalOutput;
  /** Extra lines about the request, e.g. the parsed shell commands with their verdicts. */
  readonly details?: (request: ApprovalRequest) => readonly string[];
  /** The current content of a file `write_file` would replace (for the diff); null if it does not exist. */
  readonly readCurrent?: (path: string) => Promise<string | null>;
}

const SECRET_KEY = /pass(word|wd)?|secret|token|api[-_]?key|auth|credential|private[-_]?key|cookie/i;
const SECRET_VALUE =
  /(AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{16,}|xox[abprs]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----|Bearer\s+[A-Za-z0-9._~+/=-]{8,})/g;

/** A copy of a tool input with secret-looking values masked, for showing to a person. */
export function maskSecrets(value: unknown, key = ""): unknown {
  if (typeof value === "string") {
    if (SECRET_KEY.test(key) && value.length > 0) return "••••••";
    return value.replace(SECRET_VALUE, (m) => `${m.slice(0, 4)}••••••`);
  }
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  return value;
}

/** A unified-style line diff of small texts (for `write_file`); large ones get a summary line. */
export function lineDiff(before: string | null, after: string, limit = 400): string[] {
  const a = before === null ? [] : before.split("\n");
  const b = after.split("\n");
  if (a.length > limit || b.length > limit) return [`(${a.length} → ${b.length} lines; too large to show)`];
  // Longest common subsequence table, then walk it.
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      (lcs[i] as number[])[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, (lcs[i] as number[])[j + 1] as number);
  const at = (x: number, y: number) => (lcs[x] as number[])[y] as number;
  const out: string[] = [before === null ? "(new file)" : "--- current", "+++ proposed"];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (i < a.length && (j === b.length || at(i + 1, j) >= at(i, j + 1))) {
      out.push(`- ${a[i]}`);
      i++;
    } else {
      out.push(`+ ${b[j]}`);
      j++;
    }
  }
  return out;
}

/**
 * Asks the person at the terminal. Shows the tool, level, reason and rule, the input with secrets
 * masked, a diff for `write_file`, and any extra details (the parsed shell commands); the answers are
 * approve once (`y`), deny with a reason (`n`), or allow this exact call for the session (`a`, bound
 * to the arguments' hash: the same tool with other arguments asks again). End of input denies.
 * Requests are asked one at a time.
 *
 * @example
 * const harness = createHarness({ model, workspace: ".", approvals: { gate: terminalGate() } });
 */
export function terminalGate(options: TerminalGateOptions = {}): ApprovalGate {
  const input = (options.input ?? process.stdin) as NodeJS.ReadableStream;
  const output = (options.output ?? process.stderr) as NodeJS.WritableStream;
  let queue: Promise<unknown> = Promise.resolve();
  const gate: ApprovalGate = {
    name: "terminal",
    decide(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalDecision> {
      const turn = queue.then(() => ask(request, signal));
      queue = turn.catch(() => undefined);
      return turn;
    },
  };

  async function ask(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalDecision> {
    if (signal.aborted) throw signal.reason;
    const lines = [
      "",
      "── approval needed ─────────────────────────────",
      `tool:   ${request.tool}`,
      `level:  ${request.risk.level}`,
      `reason: ${request.risk.reason}`,
      `rule:   ${request.risk.rule}`,
      `input:  ${JSON.stringify(maskSecrets(request.input))}`,
    ];
    const details = options.details?.(request) ?? [];
    if (details.length > 0) lines.push(...details.map((d) => `  ${d}`));
    const write = request.input as { path?: unknown; content?: unknown } | null;
    if (
      request.tool === "write_file" &&
      typeof write?.path === "string" &&
      typeof write.content === "string"
    ) {
      const current = options.readCurrent ? await options.readCurrent(write.path).catch(() => null) : null;
      lines.push(...lineDiff(current, String(maskSecrets(write.content))).map((l) => `  ${l}`));
    }
    lines.push("[y] approve once   [n] deny (with a reason)   [a] allow this exact call for this session");
    output.write(`${lines.join("\n")}\n`);
    const rl = createInterface({ input, output, terminal: false });
    const question = (q: string) =>
      new Promise<string | null>((resolve) => {
        const onClose = () => resolve(null);
        rl.once("close", onClose);
        // Listen before prompting: an answer typed ahead must not be lost.
        rl.once("line", (line) => {
          rl.off("close", onClose);
          resolve(line.trim());
        });
        output.write(q);
      });
    const onAbort = () => rl.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const answer = await question("approve? [y/n/a] ");
        if (signal.aborted) throw signal.reason;
        if (answer === null)
          return { outcome: "denied", by: "terminal", reason: "no answer (end of input); denied" };
        const a = answer.toLowerCase();
        if (a === "y" || a === "yes") return { outcome: "approved", by: "terminal", scope: "once" };
        if (a === "a" || a === "always") {
          output.write(
            `allowed for this session: ${request.tool} with exactly these arguments (${request.argsHash.slice(0, 12)}…)\n`,
          );
          return { outcome: "approved", by: "terminal", scope: "session" };
        }
        if (a === "n" || a === "no") {
          const reason = await question("reason (told to the agent): ");
          if (signal.aborted) throw signal.reason;
          return { outcome: "denied", by: "terminal", reason: reason || "denied at the terminal" };
        }
        output.write("please answer y, n or a\n");
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      rl.close();
    }
  }
  return gate;
}
