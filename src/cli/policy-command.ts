import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { explanationJson } from "../policy/explain.js";
import { PolicyEngine } from "../policy/policy-engine.js";
import { loadPolicyFile, type PolicyLayer } from "../policy/policy-file.js";
import { loadShellParser } from "../policy/shell-parse.js";
import { ConfigError, errorMessage } from "../protocol/errors.js";

export const POLICY_FILE = "rein.policy.yaml";

export interface PolicySources {
  readonly workspace: string;
  /** An explicit policy file (the `config` layer, above the project's). */
  readonly policy?: string;
}

/** The layers for a workspace: its rein.policy.yaml (if any), then an explicit file. */
export function policyLayers({ workspace, policy }: PolicySources): PolicyLayer[] {
  const layers: PolicyLayer[] = [];
  const project = resolve(workspace, POLICY_FILE);
  if (existsSync(project)) layers.push(loadPolicyFile(project, "project"));
  if (policy !== undefined) layers.push(loadPolicyFile(resolve(policy), "config"));
  return layers;
}

async function engineFor(sources: PolicySources, checkExamples: boolean): Promise<PolicyEngine> {
  await loadShellParser();
  const engine = new PolicyEngine({ workspace: sources.workspace, layers: policyLayers(sources) });
  if (checkExamples) engine.checkExamples();
  return engine;
}

function parseInput(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${where} is not JSON: ${errorMessage(err)}`, { field: where });
  }
}

/** `rein policy explain` and `rein policy test`. */
export function registerPolicyCommand(cli: Command): void {
  const policy = cli.command("policy").description("inspect and test the policy that classifies tool calls");
  policy
    .command("explain")
    .description("print the decision for a tool call as JSON (level, reason, rule, parsed commands)")
    .option("--tool <name>", "the tool, e.g. run_shell, read_file", "run_shell")
    .option("--input <json>", 'the tool input as JSON, e.g. \'{"command":"rm -rf ./*"}\'')
    .option("--stdin", 'read calls as JSON lines ({"tool":…,"input":…}) and print one decision per line')
    .option("--workspace <dir>", "the workspace (its rein.policy.yaml applies)", ".")
    .option("--policy <file>", "an explicit policy file, layered above the workspace's")
    .action(async (o) => {
      const engine = await engineFor({ workspace: resolve(o.workspace), policy: o.policy }, true);
      if (o.stdin) {
        process.exitCode = await explainLines(engine);
        return;
      }
      if (o.input === undefined)
        throw new ConfigError("rein policy explain needs --input <json> or --stdin.", {});
      const input = parseInput(o.input, "--input");
      process.stdout.write(`${JSON.stringify(explanationJson(engine.explain(o.tool, input)), null, 2)}\n`);
    });
  policy
    .command("test")
    .description("check every example of every rule in the policy files; exits 1 if one fails")
    .option("--workspace <dir>", "the workspace (its rein.policy.yaml is tested)", ".")
    .option("--policy <file>", "an explicit policy file, layered above the workspace's")
    .option("--json", "print each result as a JSON line")
    .action(async (o) => {
      const sources = { workspace: resolve(o.workspace), policy: o.policy };
      const engine = await engineFor(sources, false);
      if (engine.layers.length === 0)
        throw new ConfigError(
          `no policy file: neither ${resolve(sources.workspace, POLICY_FILE)} nor --policy exists.`,
          {
            field: "--policy",
          },
        );
      const results = engine.exampleResults();
      for (const r of results) {
        process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `${r.ok ? "ok  " : "FAIL"} ${r.message}\n`);
      }
      const failed = results.filter((r) => !r.ok).length;
      if (!o.json) process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
      process.exitCode = failed > 0 ? 1 : 0;
    });
}

/** One decision per input line; a malformed line gets an error line and exit status 2. */
async function explainLines(engine: PolicyEngine): Promise<number> {
  let status = 0;
  let n = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    n++;
    if (!line.trim()) continue;
    let out: unknown;
    try {
      const call = parseInput(line, `line ${n}`) as { tool?: unknown; input?: unknown } | null;
      if (typeof call?.tool !== "string")
        throw new ConfigError(`line ${n}: expected {"tool": "<name>", "input": {…}}`, { line: n });
      out = explanationJson(engine.explain(call.tool, call.input ?? {}));
    } catch (err) {
      status = 2;
      out = { line: n, error: errorMessage(err) };
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  return status;
}
