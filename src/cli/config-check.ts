import { type RunFlags, resolveRunSettings, type Setting } from "./run-settings.js";
import { terminalSafeText } from "./terminal-text.js";

type Shown = { readonly value: unknown; readonly source: string };

/** Prints the resolved settings; a config error throws (exit 2, a JSON line with --json). */
export async function configCheckCommand(o: RunFlags & { json?: boolean }): Promise<number> {
  const s = await resolveRunSettings(o, process.env, process.cwd());
  const show = <T>(setting: Setting<T>): Shown => ({ value: setting.value ?? null, source: setting.source });
  const settings: Record<string, Shown> = {
    model: s.model
      ? show(s.model)
      : { value: null, source: "none (rein run stops with REIN_MODEL_NOT_CHOSEN)" },
    workspace: show(s.workspace),
    "limits.maxTurns": show(s.maxTurns),
    "limits.timeoutMs": show(s.timeoutMs),
    "limits.maxCostUsd": show(s.maxCostUsd),
    "limits.maxTokens": show(s.maxTokens),
    system: show(s.system),
    audit: show(s.audit),
    sandbox: show(s.sandbox),
    trust: show(s.trust),
    tools: { value: s.tools.value.map((t) => t.name), source: s.tools.source },
  };
  if (s.config?.fallback.length) settings.fallback = { value: s.config.fallback, source: s.configFile! };
  if (s.config?.guards) settings.guards = { value: s.config.guards, source: s.configFile! };
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ type: "config", ok: true, file: s.configFile ?? null, settings })}\n`,
    );
    return 0;
  }
  const out = [
    `config: ${s.configFile ? `${terminalSafeText(s.configFile)} (valid)` : "no config file (defaults)"}`,
  ];
  const width = Math.max(...Object.keys(settings).map((k) => k.length));
  for (const [key, { value, source }] of Object.entries(settings)) {
    const text = value === null ? "-" : typeof value === "string" ? value : JSON.stringify(value);
    out.push(`  ${key.padEnd(width)}  ${terminalSafeText(text)}  (${terminalSafeText(source)})`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
