import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
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

/** `rein policy explain` (registered in main.ts). */
export async function policyExplainCommand(o: {
  tool: string;
  input?: string;
  stdin?: boolean;
  workspace: string;
  policy?: string;
}): Promise<number> {
  const engine = await engineFor({ workspace: resolve(o.workspace), policy: o.policy }, true);
  if (o.stdin) return explainLines(engine);
  if (o.input === undefined)
    throw new ConfigError("rein policy explain needs --input <json> or --stdin.", {});
  const input = parseInput(o.input, "--input");
  process.stdout.write(`${JSON.stringify(explanationJson(engine.explain(o.tool, input)), null, 2)}\n`);
  return 0;
}

/** `rein policy test` (registered in main.ts): exit 1 when an example fails. */
export async function policyTestCommand(o: {
  workspace: string;
  policy?: string;
  json?: boolean;
}): Promise<number> {
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
  return failed > 0 ? 1 : 0;
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
