import { styleText } from "node:util";
import type { ReinEvent } from "../protocol/events.js";
import type { RunResult } from "../protocol/run-result.js";
import { terminalSafe as safe, terminalSafeText } from "./terminal-text.js";

type Style = Parameters<typeof styleText>[0];

/**
 * The human view of a run: turns, tool calls with their risk and decision, result summaries, a final
 * summary. Everything that came from the model, a tool, a policy or an error is printed through
 * `terminal-text.ts`: control, bidi and invisible characters show as escapes, so nothing the model
 * writes can clear the screen, overwrite a line, plant a link or reorder what the reader sees.
 */
export class LiveView {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean };
  #inText = false;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout) {
    this.#out = out;
  }

  #paint(style: Style, text: string): string {
    return styleText(style, text, { stream: this.#out as NodeJS.WriteStream });
  }

  #line(text = ""): void {
    if (this.#inText) {
      this.#out.write("\n");
      this.#inText = false;
    }
    this.#out.write(`${text}\n`);
  }

  handle(event: ReinEvent): void {
    switch (event.type) {
      case "session_started":
        this.#line(
          this.#paint(
            "dim",
            `rein · session ${safe(event.sessionId)} · model ${safe(event.data.model)} · workspace ${safe(event.data.workspace ?? "(none)")}`,
          ),
        );
        this.#line(this.#paint("dim", `tools: ${safe(event.data.tools.join(", ")) || "(none)"}`));
        return;
      case "run_started":
        this.#line(`${this.#paint("bold", "task:")} ${safe(event.data.task)}`);
        return;
      case "model_call_started":
        this.#line(this.#paint("cyan", `── turn ${event.data.turn} ${"─".repeat(40)}`));
        return;
      case "text_delta":
        if (!this.#inText) this.#out.write("  ");
        this.#out.write(terminalSafeText(event.data.delta).replaceAll("\n", "\n  "));
        this.#inText = true;
        return;
      case "tool_call_requested":
        this.#line(
          `  ${this.#paint("bold", "→")} ${safe(event.data.tool)} ${truncate(safe(JSON.stringify(event.data.input) ?? ""), 100)}`,
        );
        return;
      case "tool_call_decided": {
        const risk = event.data.risk;
        const level = risk
          ? this.#paint(riskStyle(risk.level), safe(risk.level))
          : this.#paint("dim", "unclassified");
        const notes = event.data.stages
          .filter(
            (s) =>
              s.outcome === "deny" ||
              s.outcome === "raise" ||
              (s.stage === "approve" && s.outcome === "skipped"),
          )
          .map((s) => safe(`${s.stage}: ${s.note ?? s.outcome}`));
        const verdict =
          event.data.verdict === "allow" ? this.#paint("green", "allowed") : this.#paint("red", "denied");
        this.#line(`    ${level} · ${verdict}${risk ? this.#paint("dim", ` · ${safe(risk.reason)}`) : ""}`);
        for (const note of notes) this.#line(this.#paint("dim", `      ${note}`));
        return;
      }
      case "tool_call_finished": {
        const d = event.data;
        const mark = d.ok ? this.#paint("green", "✓") : this.#paint("red", "✗");
        this.#line(
          `    ${mark} ${truncate(safe(d.content.replaceAll(/\s+/g, " ")), 120)}${this.#paint("dim", ` (${d.durationMs.toFixed(1)} ms)`)}`,
        );
        return;
      }
      case "model_retry": {
        const d = event.data;
        this.#line(
          this.#paint(
            "yellow",
            `  ↻ ${d.model} ${d.status === null ? "connection failed" : `HTTP ${d.status}`}; retry ${d.attempt} in ${(d.delayMs / 1000).toFixed(1)} s${d.retryAfter ? " (Retry-After)" : ""}`,
          ),
        );
        return;
      }
      case "model_rate_wait":
        this.#line(
          this.#paint(
            "dim",
            `  … waiting ${(event.data.waitMs / 1000).toFixed(1)} s for the ${event.data.bucket} ${event.data.limit} limit`,
          ),
        );
        return;
      case "model_fallback":
        this.#line(
          this.#paint(
            "yellow",
            `  ⇢ falling back from ${event.data.from} to ${event.data.to} (${event.data.reason})`,
          ),
        );
        return;
      case "model_breaker":
        this.#line(
          this.#paint(
            event.data.to === "open" ? "red" : "dim",
            `  ⚡ circuit ${event.data.endpoint}: ${event.data.from} → ${event.data.to}`,
          ),
        );
        return;
      case "limit_warning":
        this.#line(this.#paint("yellow", `  ! turn ${event.data.turn} of at most ${event.data.max}`));
        return;
      case "budget_warning":
      case "stall_warning":
      case "circuit_changed":
        this.#line(this.#paint("yellow", `  ! ${guardLine(event)}`));
        return;
      default:
        return;
    }
  }

  summary(
    result: RunResult,
    audit: { file: string; records: number; headHash: string } | undefined,
    budget?: { readonly maxCostUsd?: number; readonly maxTokens?: number },
  ): void {
    const r = result.stopReason;
    const detail =
      r.type === "completed"
        ? ""
        : r.type === "error"
          ? ` (${safe(r.code)}: ${safe(r.message)})`
          : r.type === "max_turns"
            ? ` (limit ${r.limit})`
            : r.type === "timeout"
              ? ` (${r.scope}, ${r.limitMs} ms)`
              : r.type === "cancelled"
                ? ` (${safe(r.reason)})`
                : r.type === "stalled"
                  ? ` (${safe(r.diagnostic)})`
                  : r.type === "circuit_open"
                    ? ` (circuit of tool ${safe(r.circuit)} is open)`
                    : r.type === "cost_ceiling"
                      ? ` (${safe(r.diagnostic ?? `spent $${r.spentUsd.toFixed(4)} of $${r.limitUsd ?? "?"}`)})`
                      : "";
    const u = result.usage;
    const style: Style =
      result.status === "completed" ? "green" : result.status === "failed" ? "red" : "yellow";
    this.#line(this.#paint("cyan", `── ${"─".repeat(45)}`));
    this.#line(`${this.#paint(["bold", style], `stop: ${r.type}`)}${detail}`);
    this.#line(
      `turns ${result.turns} · tool calls ${result.toolCalls} · tokens ${u.inputTokens + u.outputTokens} (in ${u.inputTokens}, out ${u.outputTokens}, cache read ${u.cacheReadTokens}, cache write ${u.cacheWriteTokens}) · cost $${result.costUsd.toFixed(4)} · ${(result.durationMs / 1000).toFixed(2)} s`,
    );
    if (budget) {
      const tokens = u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens;
      const parts: string[] = [];
      if (budget.maxCostUsd !== undefined)
        parts.push(
          `$${result.costUsd.toFixed(4)} of $${budget.maxCostUsd} (${percent(result.costUsd, budget.maxCostUsd)})`,
        );
      if (budget.maxTokens !== undefined)
        parts.push(`${tokens} of ${budget.maxTokens} tokens (${percent(tokens, budget.maxTokens)})`);
      this.#line(`budget: ${parts.join(" · ")}`);
    }
    if (audit)
      this.#line(`audit: ${safe(audit.file)} (${audit.records} records, sealed, head ${audit.headHash})`);
  }
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(0)}%`;
}

/** One line for a guard event: a budget passing a fraction, a stall warning, a breaker changing state. */
function guardLine(
  event: Extract<ReinEvent, { type: "budget_warning" | "stall_warning" | "circuit_changed" }>,
): string {
  switch (event.type) {
    case "budget_warning": {
      const d = event.data;
      const of =
        d.limitUsd !== null
          ? `$${d.spentUsd.toFixed(4)} of $${d.limitUsd}`
          : `${d.spentTokens} of ${d.limitTokens} tokens`;
      return `budget ${safe(d.budget)}: ${percent(d.fraction, 1)} used (${of})`;
    }
    case "stall_warning":
      // The diagnostic quotes the model's arguments: shown inert, like every model-controlled text.
      return `stall: ${safe(event.data.diagnostic)}`;
    case "circuit_changed":
      return `circuit ${safe(event.data.circuit)}: ${event.data.from} → ${event.data.to} (${safe(event.data.reason)})`;
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function riskStyle(level: string): Style {
  return level === "LOW"
    ? "green"
    : level === "MEDIUM"
      ? "yellow"
      : level === "HIGH"
        ? "red"
        : ["bold", "red"];
}
