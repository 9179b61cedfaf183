import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRegexEngine } from "../../src/security/linear-regex.js";
import { SecretRedactor, shannonEntropy } from "../../src/security/redactor.js";
import { SAMPLES } from "./secret-samples.js";

interface GitleaksRule {
  readonly id: string;
  readonly regex: string;
  readonly entropy?: number;
  readonly group?: number;
}

/** gitleaks' default rules: id, regex, entropy, secretGroup (the file's layout is regular). */
function gitleaksRules(): GitleaksRule[] {
  const toml = readFileSync("../shared/corpora/gitleaks-rules/gitleaks.toml", "utf8");
  const rules: GitleaksRule[] = [];
  for (const block of toml.split("[[rules]]").slice(1)) {
    const id = /^id = "([^"]+)"/m.exec(block)?.[1];
    const regex = /^regex = '''(.*)'''$/m.exec(block)?.[1];
    const entropy = /^entropy = ([\d.]+)/m.exec(block)?.[1];
    const group = /^secretGroup = (\d+)/m.exec(block)?.[1];
    if (id && regex)
      rules.push({
        id,
        regex,
        ...(entropy ? { entropy: Number(entropy) } : {}),
        ...(group ? { group: Number(group) } : {}),
      });
  }
  return rules;
}

describe("measured against gitleaks' default rules (../shared/corpora/gitleaks-rules, an oracle)", () => {
  it("every secret a gitleaks rule finds in the samples is redacted by Rein's own rules", () => {
    const rules = gitleaksRules();
    expect(rules.length).toBeGreaterThan(200);
    // RE2 compiles gitleaks' Go RE2 syntax as it is; re2js as well, when the native addon is missing.
    const engine = loadRegexEngine("auto");
    const redactor = new SecretRedactor();
    let found = 0;
    const missed: string[] = [];
    for (const rule of rules) {
      const ignoreCase = rule.regex.startsWith("(?i)");
      const re = engine.compile(ignoreCase ? rule.regex.slice(4) : rule.regex, { ignoreCase });
      const group = rule.group ?? ((rule.regex.match(/\((?!\?)/g) ?? []).length > 0 ? 1 : 0);
      for (const s of SAMPLES) {
        const spans = redactor.spans(s.text);
        for (const m of re.matches(s.text, group)) {
          if (rule.entropy !== undefined && shannonEntropy(m.text) < rule.entropy) continue;
          found++;
          // Covered: inside a redacted span. gitleaks takes a whole Slack webhook URL as the secret;
          // Rein redacts its secret path and keeps the host: then what is left must hold no piece of it.
          const covered = spans.some((sp) => sp.start <= m.start && sp.end >= m.end);
          const left = redactor.redact(s.text).text;
          const leaks = [...Array(Math.max(0, s.secret.length - 7)).keys()].some((i) =>
            left.includes(s.secret.slice(i, i + 8)),
          );
          if (!covered && (leaks || !m.text.includes(s.secret))) missed.push(`${rule.id} on ${s.kind}`);
        }
      }
    }
    console.log(
      `gitleaks: ${rules.length} rules, ${found} findings on Rein's samples, missed ${missed.length}`,
    );
    expect(found).toBeGreaterThanOrEqual(20);
    expect(missed).toEqual([]);
  });
});
