import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observability.js";

const RULES = "prometheus/rein-alerts.yml";
const RULE_TESTS = "prometheus/rein-alerts.test.yml";

describe("Prometheus alert rules (prometheus/rein-alerts.yml)", () => {
  it("pass promtool check rules", () => {
    const out = execFileSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
    expect(out).toContain("SUCCESS: 7 rules found");
  });

  it("pass promtool test rules: each alert fires on synthetic series over its threshold, none under", () => {
    const r = spawnSync("promtool", ["test", "rules", "rein-alerts.test.yml"], {
      encoding: "utf8",
      cwd: "prometheus",
    });
    expect(r.stdout + r.stderr).toContain("SUCCESS");
    expect(r.status).toBe(0);
  });

  it("promtool test rules fails when a threshold is moved (the rule tests can fail)", () => {
    const rules = readFileSync(RULES, "utf8").replace(
      "sum(rein_approvals_pending) > 5",
      "sum(rein_approvals_pending) > 50",
    );
    const dir = mkdtempSync(join(tmpdir(), "rein-rules-"));
    writeFileSync(join(dir, "rein-alerts.yml"), rules);
    copyFileSync(RULE_TESTS, join(dir, "rein-alerts.test.yml"));
    const r = spawnSync("promtool", ["test", "rules", "rein-alerts.test.yml"], {
      encoding: "utf8",
      cwd: dir,
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("alertname: ReinApprovalsPending");
  });

  it("reference only metrics Rein exports", async () => {
    const metrics = await createMetrics();
    const exported = new Set<string>();
    for (const m of await metrics.registry.getMetricsAsJSON()) {
      exported.add(m.name);
      if (String(m.type) === "histogram")
        for (const s of ["_bucket", "_count", "_sum"]) exported.add(m.name + s);
    }
    const used = new Set(readFileSync(RULES, "utf8").match(/\brein_[a-z_]+/g));
    expect(used.size).toBeGreaterThanOrEqual(7);
    for (const name of used) expect(exported, name).toContain(name);
  });
});
