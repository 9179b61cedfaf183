import { z } from "zod/v4";
import { ReinError } from "../../protocol/errors.js";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { type SandboxToolOptions, SHELL_TIMEOUT_SLACK_MS, sandboxToolSetup } from "./sandbox-tool-setup.js";

/** Options of `run_code`: the same as run_shell's. */
export type RunCodeToolOptions = SandboxToolOptions;

/** What `run_code` returns to the model. */
export interface RunCodeResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly oomKilled: boolean;
  readonly truncated: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/**
 * `run_code`: runs a program in one of the languages the sandbox has (`capabilities.languages`:
 * python, javascript, shell), fed on stdin, in the workspace. Only the sandbox's languages are in its
 * schema, so the model is never offered an interpreter that is not there.
 *
 * @example
 * const tool = runCodeTool({ sandbox: new BubblewrapSandbox({ workspace: "/home/me/project" }) });
 */
export function runCodeTool(options: RunCodeToolOptions): Tool {
  const { sandbox, maxOutputBytes } = options;
  const { maxTimeoutMs, defaultTimeoutMs } = sandboxToolSetup("run_code", options);
  const languages = sandbox.capabilities.languages;
  const [first, ...others] = languages;
  if (first === undefined)
    throw new ReinError("REIN_SANDBOX_FAILED", `run_code: the sandbox ${sandbox.name} runs no language.`, {
      sandbox: sandbox.name,
    });
  const input = z.object({
    language: z.enum([first, ...others]).describe(`One of: ${languages.join(", ")}`),
    code: z.string().min(1).describe("The program's source; it runs in the workspace"),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .max(maxTimeoutMs)
      .optional()
      .describe(
        `Kill the program after this many milliseconds (default ${defaultTimeoutMs}, at most ${maxTimeoutMs})`,
      ),
  });
  return defineTool({
    name: "run_code",
    description:
      `Run a ${languages.join(" / ")} program in the workspace and return its exit code, stdout and stderr. ` +
      `It is killed after timeoutMs (default ${defaultTimeoutMs} ms, at most ${maxTimeoutMs}) with everything it started.`,
    input,
    timeoutMs: maxTimeoutMs + SHELL_TIMEOUT_SLACK_MS,
    risk: { level: "HIGH", reason: `runs arbitrary code (sandbox: ${sandbox.name})` },
    async execute({ language, code, timeoutMs }, context): Promise<RunCodeResult> {
      const r = await sandbox.runCode(language, code, {
        timeoutMs: timeoutMs ?? defaultTimeoutMs,
        maxOutputBytes,
        signal: context.signal,
      });
      if (r.startupMs !== undefined)
        context.sandboxStarted?.({ backend: sandbox.name, startupMs: r.startupMs });
      const { exitCode, signal, timedOut, oomKilled, truncated, stdout, stderr, durationMs } = r;
      return { exitCode, signal, timedOut, oomKilled, truncated, stdout, stderr, durationMs };
    },
  });
}
