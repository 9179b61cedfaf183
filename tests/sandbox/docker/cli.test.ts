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

describe("config file: sandbox.backend", () => {
  const task = (ws: string) => {
    const file = join(tempDir(), "script.json");
    writeFileSync(
      file,
      JSON.stringify({
        name: "cfg",
        turns: [
          { tool_calls: [{ tool: "run_shell", input: { command: "uname -r > kernel.txt" } }] },
          { say: "done" },
        ],
      }),
    );
    return [
      "run",
      "x",
      "--model",
      `scripted:${file}`,
      "--workspace",
      ws,
      "--trust",
      "autonomous",
      "--json",
      "--no-audit",
    ];
  };

  it("rein.config.yaml sandbox.backend: gvisor makes rein run use gVisor; --sandbox on the command line wins", () => {
    const ws = tempDir();
    writeFileSync(
      join(ws, "rein.config.yaml"),
      "sandbox:\n  backend: gvisor\n  docker:\n    image: rein-sandbox:1\n",
    );
    const r = rein(task(ws), ws);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(ws, "kernel.txt"), "utf8").trim()).toBe("4.4.0"); // gVisor's kernel
    const flag = rein([...task(ws), "--sandbox", "docker"], ws);
    expect(flag.status, flag.stderr).toBe(0);
    expect(readFileSync(join(ws, "kernel.txt"), "utf8").trim()).toBe(os.release());
  });

  it("an unknown backend in the config file is a config error naming the field", () => {
    const ws = tempDir();
    writeFileSync(join(ws, "rein.config.yaml"), "sandbox:\n  backend: vmware\n");
    const r = rein(task(ws), ws);
    expect(r.status).toBe(2);
    // --json: the error is one JSON line on stdout (issue 25), naming the file, line and field.
    const outcome = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(outcome).toMatchObject({ type: "error", code: "REIN_CONFIG_INVALID", exitCode: 2 });
    expect(outcome.message).toMatch(/rein\.config\.yaml:2.*sandbox\.backend/);
  });
});
