import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  createPolicyEngine,
  loadPolicyFile,
  PolicyError,
  parsePolicyText,
  policyLayer,
} from "../../src/index.js";
import { tempDir } from "../helpers.js";

const where = { workspace: "/home/dev/project", home: "/home/dev" };

function policyFile(text: string): string {
  const file = join(tempDir("rein-policy-"), "rein.policy.yaml");
  writeFileSync(file, text);
  return file;
}

const thrown = (fn: () => unknown): PolicyError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error("expected a PolicyError");
};

describe("rein.policy.yaml", () => {
  it("loads rules that match the parsed command and argv, not the raw string", async () => {
    const file = policyFile(`rules:
  - id: no-npm-publish
    decision: deny
    reason: releases are made by CI, not by the agent
    match: { command: npm, args: [publish, "**"] }
    examples:
      deny: ["npm publish", "env CI=1 npm publish --tag next", "n''pm publish"]
      allow: ["npm test", "echo npm publish"]
`);
    const engine = await createPolicyEngine({ ...where, layers: [loadPolicyFile(file)] });
    expect(engine.explain("run_shell", { command: "timeout 60 npm publish --access public" })).toMatchObject({
      level: "BLOCK",
      rule: "policy:project:no-npm-publish",
      reason: expect.stringContaining("releases are made by CI"),
    });
    expect(engine.explain("run_shell", { command: "echo 'npm publish'" }).level).toBe("LOW");
  });

  it("matches paths for every tool: a rule on secrets/** covers read_file and cat alike", async () => {
    const engine = await createPolicyEngine({
      ...where,
      layers: [
        policyLayer({
          rules: [
            {
              id: "secrets",
              decision: "deny",
              reason: "no secrets",
              match: { path: "secrets/**", access: "read" },
            },
          ],
        }),
      ],
    });
    expect(engine.explain("read_file", { path: "secrets/db.txt" }).rule).toBe("policy:config:secrets");
    expect(engine.explain("run_shell", { command: "cat ./secrets/../secrets/db.txt" }).rule).toBe(
      "policy:config:secrets",
    );
    expect(engine.explain("run_shell", { command: "cat src/db.txt" }).level).toBe("LOW");
  });

  it("refuses to load a policy whose examples fail, naming file, line and rule", async () => {
    const file = policyFile(`rules:
  - id: allow-cleanup
    decision: allow
    reason: the build folder is disposable
    match: { command: rm, args: ["-rf", "build"] }
    examples:
      allow: ["rm -rf build", "rm -rf build/../src"]
`);
    const err = await createPolicyEngine({ ...where, layers: [loadPolicyFile(file)] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).code).toBe("REIN_POLICY_EXAMPLE_FAILED");
    expect((err as PolicyError).message).toMatch(
      new RegExp(
        `^${file.replaceAll(".", "\\.")}:2: rule "allow-cleanup": allow example "rm -rf build/\\.\\./src" fails: it is HIGH`,
      ),
    );
    expect((err as PolicyError).location).toEqual({ file, line: 2, rule: "allow-cleanup" });
  });

  it("reports schema errors with file, line, rule and field", () => {
    const err = thrown(() =>
      parsePolicyText(
        `rules:\n  - id: ok\n    decision: deny\n    reason: r\n    match: { command: x }\n  - id: broken\n    decision: maybe\n    reason: r\n    match: { command: x }\n`,
        "rein.policy.yaml",
      ),
    );
    expect(err.code).toBe("REIN_POLICY_INVALID");
    expect(err.message).toBe(
      'rein.policy.yaml:7: rule "broken", field "decision": Invalid option: expected one of "allow"|"ask"|"deny"',
    );
    expect(thrown(() => parsePolicyText("rules: [", "p.yaml")).message).toMatch(
      /^p\.yaml:1: YAML syntax error/,
    );
    expect(
      thrown(() => policyLayer({ rules: [{ id: "a", reason: "r", match: {} }] } as never)).message,
    ).toMatch(/rule "a"/);
    expect(
      thrown(() =>
        parsePolicyText(
          "rules:\n  - { id: a, decision: deny, reason: r, match: { command: x } }\n  - { id: a, decision: deny, reason: r, match: { command: y } }\n",
          "f.yaml",
        ),
      ).message,
    ).toBe('f.yaml:3: rule "a": two rules have this id; ids must be unique');
  });

  it("layers: a later layer tightens freely and loosens HIGH, but loosens BLOCK only with a logged override", async () => {
    const project = policyLayer(
      {
        rules: [
          {
            id: "ok-cleanup",
            decision: "allow",
            reason: "build is disposable",
            match: { command: "rm", args: ["-rf", "build"] },
          },
          { id: "try-sudo", decision: "allow", reason: "we like sudo", match: { command: "sudo" } },
          { id: "no-curl", decision: "ask", reason: "ask before any download", match: { command: "curl" } },
        ],
      },
      "project",
      "rein.policy.yaml",
    );
    const overrides: unknown[] = [];
    const config = policyLayer({
      rules: [
        {
          id: "allow-apt",
          decision: "allow",
          reason: "the CI image needs packages",
          match: { command: "sudo", args: ["apt-get", "install", "**"] },
          override: { reason: "throwaway CI container, approved by ops" },
        },
      ],
    });
    const engine = await createPolicyEngine({
      ...where,
      layers: [project, config],
      onOverride: (o) => overrides.push(o),
    });
    expect(engine.explain("run_shell", { command: "rm -rf build" })).toMatchObject({
      level: "LOW",
      rule: "policy:project:ok-cleanup",
    });
    expect(engine.explain("run_shell", { command: "curl https://example.com" })).toMatchObject({
      level: "HIGH",
      rule: "policy:project:no-curl",
    });
    const sudo = engine.explain("run_shell", { command: "sudo id" });
    expect(sudo).toMatchObject({ level: "BLOCK", rule: "shell:privilege-escalation" });
    expect(sudo.reason).toContain("only loosened by an explicit override");
    expect(overrides).toEqual([]);
    const apt = engine.explain("run_shell", { command: "sudo apt-get install -y jq" });
    expect(apt).toMatchObject({ level: "LOW", rule: "override:config:allow-apt" });
    expect(apt.reason).toContain("OVERRIDE of BLOCK (shell:privilege-escalation");
    expect(apt.reason).toContain("throwaway CI container, approved by ops");
    expect(apt.overrides).toHaveLength(1);
    expect(overrides).toEqual([
      expect.objectContaining({
        ruleId: "allow-apt",
        layer: "config",
        was: expect.objectContaining({ level: "BLOCK" }),
      }),
    ]);
    // An override on the wrapper does not loosen what runs inside it.
    expect(engine.explain("run_shell", { command: "sudo apt-get install -y jq && rm -rf /" }).level).toBe(
      "BLOCK",
    );
  });

  it("sets per-tool levels: a replacement for custom tools, a minimum for analysed ones", async () => {
    const engine = await createPolicyEngine({
      ...where,
      layers: [
        policyLayer({
          tools: { deploy: "BLOCK", run_shell: { level: "HIGH", reason: "all shell needs a human here" } },
        }),
      ],
    });
    expect(engine.explain("deploy", {}, { level: "LOW", reason: "x" })).toMatchObject({
      level: "BLOCK",
      rule: "policy:config:tools.deploy",
    });
    expect(engine.explain("run_shell", { command: "ls" })).toMatchObject({
      level: "HIGH",
      rule: "policy:config:tools.run_shell",
    });
    expect(engine.explain("run_shell", { command: "rm -rf /" }).level).toBe("BLOCK");
  });
});
