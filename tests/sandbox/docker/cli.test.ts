import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../helpers.js";

const BIN = resolve(import.meta.dirname, "../../../bin/rein.js");
const rein = (args: string[], cwd = tempDir()) =>
  spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 120_000,
  });

describe("CLI wiring of the docker and gvisor backends", () => {
  it("rein sandbox exec --backend gvisor runs the command under gVisor's kernel, --backend docker under the host's", () => {
    const g = rein([
      "sandbox",
      "exec",
      "--backend",
      "gvisor",
      "--json",
      "--",
      "sh",
      "-c",
      "dmesg | head -n 1; id -u",
    ]);
    expect(g.stderr).toBe("");
    const gr = JSON.parse(g.stdout);
    expect(gr.sandbox).toBe("gvisor");
    expect(gr.stdout).toMatch(/Starting gVisor.*\n65534\n$/s);
    const d = rein(["sandbox", "exec", "--backend", "docker", "--", "uname", "-r"]);
    expect(d.status).toBe(0);
    expect(d.stdout.trim()).toBe(os.release());
  });

  it("rein run --sandbox docker: run_shell runs in the container and writes into the workspace", () => {
    const ws = tempDir();
    const file = join(tempDir(), "script.json");
    writeFileSync(
      file,
      JSON.stringify({
        name: "docker",
        turns: [
          {
            tool_calls: [
              {
                tool: "run_shell",
                input: { command: "cat /etc/debian_version > where.txt; id -un >> where.txt" },
              },
            ],
          },
          { say: "done" },
        ],
      }),
    );
    const r = rein(
      [
        "run",
        "x",
        "--model",
        `scripted:${file}`,
        "--workspace",
        ws,
        "--sandbox",
        "docker",
        "--trust",
        "autonomous",
        "--json",
        "--no-audit",
      ],
      ws,
    );
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(join(ws, "where.txt"), "utf8");
    expect(text).toMatch(/^12\.\d+\nnobody\n$/);
  });
});
