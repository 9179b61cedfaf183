import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OWNER_LABEL, ownerGone, ownerMark } from "../../../src/sandbox/docker/orphans.js";
import { tempDir } from "../../helpers.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const BIN = resolve(ROOT, "bin/rein.js");
const rein = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    cwd: tempDir(),
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 120_000,
  });

function exists(id: string): boolean {
  return spawnSync("docker", ["container", "inspect", id], { stdio: "ignore" }).status === 0;
}

const children: ChildProcess[] = [];
const containers: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  for (const id of containers.splice(0)) spawnSync("docker", ["rm", "-f", id], { stdio: "ignore" });
});

/** A separate Rein process (the built package) holding a started Docker sandbox; resolves with its id. */
async function owner(): Promise<{ child: ChildProcess; id: string }> {
  const script = `
    const { DockerSandbox } = await import(${JSON.stringify(resolve(ROOT, "dist/docker.js"))});
    const s = new DockerSandbox();
    process.stdout.write((await s.ready()) + "\\n");
    setInterval(() => {}, 60_000); // holds the container until killed
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const id = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.trim());
    });
    child.once("exit", (code) =>
      reject(new Error(`the owner exited (${code}) before its container started`)),
    );
  });
  containers.push(id);
  return { child, id };
}

async function sigkill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

describe("orphaned containers: swept once their owner is gone", () => {
  it("every container carries its owner's mark: boot id, pid namespace, pid and start time", async () => {
    const { child, id } = await owner();
    const label = execFileSync("docker", ["inspect", "-f", `{{index .Config.Labels "${OWNER_LABEL}"}}`, id], {
      encoding: "utf8",
    }).trim();
    expect(label).toBe(ownerMark(child.pid!));
    expect(ownerGone(label)).toBe(false);
  }, 120_000);

  it("a SIGKILLed owner leaves its container; the next Rein start (rein sandbox exec --backend docker) removes it", async () => {
    const { child, id } = await owner();
    const mark = ownerMark(child.pid!);
    await sigkill(child);
    // Its owner is gone for good (reaped: the pid is free or another process's). Any Rein process that
    // starts its first Docker sandbox now sweeps it, so whether it is still there here is not asserted.
    expect(ownerGone(mark)).toBe(true);
    const next = rein(["sandbox", "exec", "--backend", "docker", "--", "true"]);
    expect(next.status).toBe(0);
    expect(exists(id)).toBe(false);
  }, 120_000);

  it("rein sandbox sweep keeps the container of a running owner and removes it once the owner is killed", async () => {
    const { child, id } = await owner();
    const first = rein(["sandbox", "sweep", "--json"]);
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout).removed).not.toContain(id);
    expect(exists(id)).toBe(true);
    await sigkill(child);
    const second = rein(["sandbox", "sweep", "--json"]);
    expect(second.status).toBe(0);
    // Removed by this sweep, or by another Rein process's first start a moment before: gone either way.
    expect(exists(id)).toBe(false);
  }, 120_000);

  it("ownerGone: a reused pid (another start time) or another boot is gone; a foreign or malformed mark is left alone", () => {
    const mine = ownerMark();
    expect(ownerGone(mine)).toBe(false);
    const [boot, ns, pid, start] = mine.split("/");
    expect(ownerGone([boot, ns, pid, String(Number(start) + 1)].join("/"))).toBe(true);
    const otherBoot = "00000000-0000-4000-8000-000000000000";
    expect(boot).not.toBe(otherBoot);
    expect(ownerGone([otherBoot, ns, pid, start].join("/"))).toBe(true);
    expect(ownerGone([boot, "1", pid, start].join("/"))).toBe(ns === "1" ? false : undefined);
    expect(ownerGone("4711")).toBeUndefined();
    // A free pid: past pid_max, no process can have it.
    const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"));
    expect(ownerGone([boot, ns, pidMax + 1, start].join("/"))).toBe(true);
  });
});
