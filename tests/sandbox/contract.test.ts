import { describe, expect, it } from "vitest";
import { BubblewrapSandbox } from "../../src/sandbox/bubblewrap/bubblewrap-sandbox.js";
import { UnsafeLocalProcess } from "../../src/sandbox/unsafe-local-process.js";
import { runContractChecks, sandboxChecks, sandboxContract } from "../../src/testing.js";

// The same contract, against every backend (the way Hono's router tests run every router).
sandboxContract({ name: "UnsafeLocalProcess", create: (o) => new UnsafeLocalProcess(o) });

sandboxContract({
  name: "bubblewrap (cgroup limits where Rein may create cgroups)",
  create: ({ workspace, limits }) => new BubblewrapSandbox({ workspace, ...limits }),
});

sandboxContract({
  name: "bubblewrap (rlimits only)",
  create: ({ workspace, limits }) => new BubblewrapSandbox({ workspace, ...limits, limitsVia: "rlimit" }),
});

describe("the sandbox contract can fail", () => {
  it("a backend that claims isolation it does not have fails the honesty checks", async () => {
    const results = await runContractChecks(
      sandboxChecks({
        name: "liar",
        create: (o) => {
          const s = new UnsafeLocalProcess(o);
          Object.defineProperty(s, "capabilities", {
            value: {
              ...s.capabilities,
              isolation: "namespaces",
              network: ["none"],
              limits: ["time", "output", "memory"],
            },
          });
          return s;
        },
      }),
      { timeoutMs: 60_000 },
    );
    const failed = results.filter((r) => !r.ok).map((r) => r.name);
    expect(failed).toEqual(
      expect.arrayContaining([
        "honesty: memory (if claimed): a 256 MB allocation under a 64m limit does not succeed",
        "honesty: host files outside the workspace: hidden if isolated, visible if not",
        "honesty: network: only loopback if isolated without network; the host's interfaces if 'host'",
      ]),
    );
    expect(failed.some((n) => n.startsWith("interface:"))).toBe(false);
  }, 120_000);
});
