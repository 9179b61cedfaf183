/**
 * Precision and recall of the heuristic injection detector on public corpora (../shared/corpora; see
 * each SOURCE.md). Injections: BIPIA's test attacks (text and code), alone and inserted into BIPIA's
 * benign emails at the start, middle and end (as BIPIA builds indirect cases), and CyberSecEval's
 * prompt-injection inputs. Benign: NotInject (339 prompts full of trigger words), WildGuard's benign
 * prompts, BIPIA's emails. Prints the figures; the floors catch a regression, they are not the goal.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { HeuristicInjectionDetector } from "../../src/security/injection-detector.js";

const CORPORA = resolve(import.meta.dirname, "../../../shared/corpora");
const json = (p: string) => JSON.parse(readFileSync(resolve(CORPORA, p), "utf8")) as unknown;
const lines = (p: string) =>
  readFileSync(resolve(CORPORA, p), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { context: string });

const detector = new HeuristicInjectionDetector();
const flagged = (texts: readonly string[]) => texts.filter((t) => detector.detect(t).injection).length;

const bipiaAttacks = ["bipia/text_attack_test.json", "bipia/code_attack_test.json"].flatMap((f) =>
  Object.values(json(f) as Record<string, string[]>).flat(),
);
const emails = lines("bipia/email_test.jsonl").map((e) => e.context);
const embedded = bipiaAttacks.flatMap((attack, i) => {
  const email = emails[i % emails.length]!;
  const mid = email.lastIndexOf("\n", email.length >> 1) + 1;
  return [
    `${attack}\n${email}`,
    `${email.slice(0, mid)}${attack}\n${email.slice(mid)}`,
    `${email}\n${attack}`,
  ];
});
const cse = (json("cyberseceval-prompt-injection/prompt_injection.json") as { user_input: string }[]).map(
  (c) => c.user_input,
);
const notInject = ["one", "two", "three"].flatMap((n) =>
  (json(`notinject/NotInject_${n}.json`) as { prompt: string }[]).map((x) => x.prompt),
);
const wildguard = (json("wildguard-benign/wildguard.json") as { prompt: string }[]).map((x) => x.prompt);

describe("injection detector scores on public corpora", () => {
  it("prints precision and recall per corpus and keeps them above their floors", () => {
    const rows = [
      ["BIPIA attacks alone", flagged(bipiaAttacks), bipiaAttacks.length],
      ["BIPIA attacks in emails", flagged(embedded), embedded.length],
      ["CyberSecEval inputs", flagged(cse), cse.length],
    ] as const;
    const fps = [
      ["NotInject", flagged(notInject), notInject.length],
      ["WildGuard benign", flagged(wildguard), wildguard.length],
      ["BIPIA emails", flagged(emails), emails.length],
    ] as const;
    const tp = rows[0][1] + rows[2][1];
    const positives = rows[0][2] + rows[2][2];
    const fp = fps.reduce((s, r) => s + r[1], 0);
    const negatives = fps.reduce((s, r) => s + r[2], 0);
    const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;
    const report = [
      "injection detector (heuristic, threshold 0.5)",
      ...rows.map(([name, a, b]) => `  recall   ${name.padEnd(26)} ${a}/${b} = ${pct(a, b)}`),
      ...fps.map(([name, a, b]) => `  false +  ${name.padEnd(26)} ${a}/${b} = ${pct(a, b)}`),
      `  overall (BIPIA + CyberSecEval vs NotInject + WildGuard + emails): recall ${pct(tp, positives)}, precision ${pct(tp, tp + fp)}, false-positive rate ${pct(fp, negatives)}`,
    ].join("\n");
    process.stdout.write(`${report}\n`);
    expect(tp / positives).toBeGreaterThanOrEqual(0.3);
    expect(tp / (tp + fp)).toBeGreaterThanOrEqual(0.85);
    expect(fps[0][1] / fps[0][2]).toBeLessThanOrEqual(0.02);
    expect(rows[1][1] / rows[1][2]).toBeGreaterThanOrEqual(0.3);
  });
});
