/**
 * A self-contained HTML report: no script, no external resource, plots as inline SVG — pass rate per
 * case with its Wilson interval, distributions of turns and cost per run, and the comparison with a
 * baseline. Every text from a suite, model or tool is HTML-escaped.
 */
import type { EvalReport } from "./report.js";

function esc(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}
const pct = (v: number | undefined | null) =>
  v === undefined || v === null ? "–" : `${(v * 100).toFixed(0)}%`;

/** Pass rate per case: a dot at the rate, a line across the 95 % interval. */
function passRatePlot(r: EvalReport): string {
  const rowH = 22;
  const left = 180;
  const width = 420;
  const h = r.cases.length * rowH + 30;
  const x = (v: number) => left + v * width;
  const parts = [
    `<svg role="img" aria-label="pass rate per case" width="${left + width + 20}" height="${h}" xmlns="http://www.w3.org/2000/svg">`,
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1])
    parts.push(
      `<line x1="${x(t)}" y1="0" x2="${x(t)}" y2="${h - 20}" stroke="#ddd"/><text x="${x(t)}" y="${h - 5}" font-size="11" text-anchor="middle">${t * 100}%</text>`,
    );
  r.cases.forEach((c, i) => {
    const y = i * rowH + 14;
    parts.push(`<text x="${left - 8}" y="${y + 4}" font-size="12" text-anchor="end">${esc(c.id)}</text>`);
    if (c.passRate.rate === undefined) return;
    const color = c.class === "always_pass" ? "#2a7" : c.class === "flaky" ? "#d90" : "#c33";
    parts.push(
      `<line class="ci" x1="${x(c.passRate.low!)}" y1="${y}" x2="${x(c.passRate.high!)}" y2="${y}" stroke="${color}" stroke-width="3"/>`,
      `<circle class="rate" cx="${x(c.passRate.rate)}" cy="${y}" r="5" fill="${color}"><title>${esc(`${c.id}: ${c.passed}/${c.n}, 95% CI ${pct(c.passRate.low)}–${pct(c.passRate.high)}`)}</title></circle>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

/** A histogram of `values` in up to 10 bins. */
function histogram(label: string, values: readonly number[], format: (v: number) => string): string {
  const w = 300;
  const h = 140;
  if (values.length === 0) return `<p>${esc(label)}: no runs</p>`;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const bins = Math.max(1, Math.min(10, new Set(values).size));
  const span = max - min || 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(((v - min) / span) * bins))]!++;
  const top = Math.max(...counts);
  const bw = w / bins;
  const parts = [
    `<figure><svg role="img" aria-label="${esc(label)}" width="${w + 10}" height="${h + 30}" xmlns="http://www.w3.org/2000/svg">`,
  ];
  counts.forEach((n, i) => {
    const bh = (n / top) * h;
    parts.push(
      `<rect class="bar" x="${i * bw + 5}" y="${h - bh}" width="${bw - 2}" height="${bh}" fill="#58a"><title>${n} runs</title></rect>`,
    );
  });
  parts.push(
    `<text x="5" y="${h + 15}" font-size="11">${esc(format(min))}</text><text x="${w + 5}" y="${h + 15}" font-size="11" text-anchor="end">${esc(format(max))}</text></svg>`,
  );
  parts.push(`<figcaption>${esc(label)} (n=${values.length})</figcaption></figure>`);
  return parts.join("");
}

/** Baseline vs current pass rate per case: a grey dot then a coloured one. */
function comparisonPlot(r: EvalReport): string {
  const c = r.comparison;
  if (!c) return "";
  const rowH = 22;
  const left = 180;
  const width = 420;
  const h = c.perCase.length * rowH + 30;
  const x = (v: number) => left + v * width;
  const parts = [
    `<svg role="img" aria-label="comparison with the baseline" width="${left + width + 20}" height="${h}" xmlns="http://www.w3.org/2000/svg">`,
  ];
  c.perCase.forEach((p, i) => {
    const y = i * rowH + 14;
    parts.push(`<text x="${left - 8}" y="${y + 4}" font-size="12" text-anchor="end">${esc(p.id)}</text>`);
    if (p.baseline !== null)
      parts.push(`<circle class="baseline" cx="${x(p.baseline)}" cy="${y}" r="5" fill="#999"/>`);
    if (p.current !== null) {
      const color =
        p.baseline === null || p.current === p.baseline ? "#58a" : p.current > p.baseline ? "#2a7" : "#c33";
      if (p.baseline !== null)
        parts.push(
          `<line x1="${x(p.baseline)}" y1="${y}" x2="${x(p.current)}" y2="${y}" stroke="${color}"/>`,
        );
      parts.push(`<circle class="current" cx="${x(p.current)}" cy="${y}" r="5" fill="${color}"/>`);
    }
  });
  parts.push("</svg>");
  return `<h2>Against the baseline: ${esc(c.verdict)}</h2><p>Pass rate ${pct(c.passRate.baseline)} → ${pct(c.passRate.current)} over ${c.pairedTest.pairedCases} paired cases; ${c.pairedTest.regressed.length} worse, ${c.pairedTest.improved.length} better; sign test p = ${c.pairedTest.pValue.toPrecision(3)}.${c.changed.length ? ` Changed since the baseline: ${esc(c.changed.join(", "))}.` : ""}</p>${parts.join("")}<p class="legend">grey: baseline; coloured: this run</p>`;
}

/** The report as one HTML document. */
export function htmlReport(r: EvalReport): string {
  const rows = r.cases
    .map(
      (c) =>
        `<tr class="${c.class}"><td>${esc(c.id)}</td><td>${c.passed}/${c.n}</td><td>${pct(c.passRate.rate)}</td><td>${pct(c.passRate.low)}–${pct(c.passRate.high)}</td>${r.ks.map((k) => `<td>${c.passAtK[String(k)] ? `${c.passAtK[String(k)]!.num}/${c.passAtK[String(k)]!.den}` : "n/a"}</td>`).join("")}<td>${c.class.replace("_", "-")}</td><td>${c.errors}</td><td>${esc(c.failureReasons.map((f) => `${f.count}× ${f.reason}`).join("; "))}</td></tr>`,
    )
    .join("\n");
  const runs = r.cases.flatMap((c) => c.runs);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>rein eval: ${esc(r.suite.name)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
tr.always_fail td:first-child{color:#c33}tr.flaky td:first-child{color:#b70}
figure{display:inline-block;margin:0 2em 1em 0}.legend{color:#666;font-size:12px}
</style></head><body>
<h1>rein eval: ${esc(r.suite.name)}</h1>
<p id="summary">${r.passed}/${r.n} runs passed (${pct(r.passRate.rate)}, 95% CI ${pct(r.passRate.low)}–${pct(r.passRate.high)}); ${r.failed} failed; ${r.errors} infrastructure errors${r.notRun ? `; ${r.notRun} not run (${r.stopped ? "eval budget spent" : "stopped"})` : ""}. Started ${esc(r.startedAt)}, cost $${r.costUsd.toFixed(4)}.</p>
<h2>Cases</h2>
<table><thead><tr><th>case</th><th>pass</th><th>rate</th><th>95% CI</th>${r.ks.map((k) => `<th>pass@${k}</th>`).join("")}<th>class</th><th>errors</th><th>failure reasons</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>Pass rate per case (95% Wilson interval)</h2>
${passRatePlot(r)}
<h2>Distributions</h2>
${histogram(
  "turns per run",
  runs.filter((x) => x.outcome !== "error").map((x) => x.turns),
  (v) => String(v),
)}
${histogram(
  "cost per run (USD)",
  runs.map((x) => x.costUsd),
  (v) => `$${v.toFixed(4)}`,
)}
${comparisonPlot(r)}
</body></html>
`;
}
