import { describe, expect, it } from "vitest";
import { PyodideSandbox } from "../../../src/sandbox/wasm/pyodide-sandbox.js";
import { QuickJSSandbox } from "../../../src/sandbox/wasm/quickjs-sandbox.js";
import { runContractChecks, sandboxChecks, sandboxContract } from "../../../src/testing.js";

// The same contract as every backend; without a shell, each shell check says it is not expressible
// (and asserts the typed refusal), and the code checks establish the same properties in the language.
sandboxContract({
  name: "quickjs",
  withoutShell: true,
  create: ({ workspace, limits }) => new QuickJSSandbox({ workspace, memory: limits.memory }),
});

sandboxContract({
  name: "pyodide (in bubblewrap)",
  withoutShell: true,
  // Node and Pyodide need ~170 MB before any Python runs: the contract's 64m is too small to start.
  // A pool of one: the next interpreter loads while the current one runs (checks run several programs).
  create: ({ workspace }) => new PyodideSandbox({ workspace, memory: "512m", poolSize: 1 }),
  // A check may wait for two interpreter loads (~12 s each at a load average of 20 on 2 cores).
  testTimeoutMs: 120_000,
});

describe("the no-shell contract can fail", () => {
  it("a QuickJS sandbox that claims a shell, or leaks the host environment, fails those checks", async () => {
    const results = await runContractChecks(
      sandboxChecks({
        name: "liar",
        withoutShell: true,
        create: (o) => {
          const s = new QuickJSSandbox({ workspace: o.workspace });
          const runCode = s.runCode.bind(s);
          Object.defineProperty(s, "runCode", {
            value: (l: "javascript", code: string, opts: { env?: Record<string, string> } = {}) =>
              runCode(l, code, { ...opts, env: { ...opts.env, LEAKED: "1" } }),
          });
          Object.defineProperty(s, "capabilities", {
            value: { ...s.capabilities, languages: ["javascript", "shell"] },
          });
          return s;
        },
      }),
      { timeoutMs: 60_000 },
    );
    const failed = results.filter((r) => !r.ok).map((r) => r.name);
    expect(failed).toEqual(
      expect.arrayContaining([
        "interface: capabilities are well-formed",
        "code: the environment is exactly what the caller passes; the host's is not there",
        expect.stringMatching(
          /^interface: a string runs through \/bin\/sh -c; .* not expressible without a shell/,
        ),
      ]),
    );
  }, 120_000);
});
