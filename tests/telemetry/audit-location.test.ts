import { existsSync, mkdirSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHarness, verifyAuditFile } from "../../src/index.js";
import { tempDir } from "../helpers.js";

/** A fresh real directory (tmp may itself be reached through a link on some machines). */
function realTemp(): string {
  return realpathSync(tempDir());
}

const refused = (message: string) =>
  expect.objectContaining({ code: "REIN_CONFIG_INVALID", message: expect.stringContaining(message) });

describe("audit trail placement: compared after resolving symlinks", () => {
  it("refuses a workspace that ships .rein as a symlink (.rein -> docs): the reserved folder must be a real directory or absent", () => {
    const ws = realTemp();
    mkdirSync(join(ws, "docs"));
    symlinkSync("docs", join(ws, ".rein"));
    expect(() =>
      createHarness({ model: "scripted:demo", workspace: ws, audit: { dir: join(ws, ".rein", "audit") } }),
    ).toThrow(refused(`reserved folder ${join(ws, ".rein")} is a symbolic link`));
    // Refused before anything was written where the link points (the agent's docs/).
    expect(existsSync(join(ws, "docs", "audit"))).toBe(false);
  });

  it("refuses an audit dir inside the workspace when the workspace is given through a symlink", () => {
    const ws = realTemp();
    const link = join(realTemp(), "ws-link");
    symlinkSync(ws, link);
    expect(() =>
      createHarness({ model: "scripted:demo", workspace: link, audit: { dir: join(ws, "logs") } }),
    ).toThrow(refused(`inside the workspace ${ws}`));
  });

  it("refuses an audit folder that is a symlink into the workspace", () => {
    const ws = realTemp();
    mkdirSync(join(ws, "logs"));
    const outside = join(realTemp(), "audit");
    symlinkSync(join(ws, "logs"), outside);
    expect(() => createHarness({ model: "scripted:demo", workspace: ws, audit: { dir: outside } })).toThrow(
      refused(`resolves to ${join(ws, "logs")}, inside the workspace`),
    );
  });

  it("refuses an audit folder given as work/../work/sub that the kernel resolves into the workspace", () => {
    // p/work is the workspace; d/work links to it. Lexically d/work/../work/sub is d/work/sub (outside);
    // the kernel goes d/work -> p/work, .. -> p, work -> p/work: the workspace's sub/.
    const base = realTemp();
    const ws = join(base, "p", "work");
    mkdirSync(ws, { recursive: true });
    mkdirSync(join(base, "d"));
    symlinkSync(ws, join(base, "d", "work"));
    const dir = `${base}/d/work/../work/sub`;
    expect(() => createHarness({ model: "scripted:demo", workspace: ws, audit: { dir } })).toThrow(
      refused(`resolves to ${join(ws, "sub")}, inside the workspace`),
    );
    expect(existsSync(join(ws, "sub"))).toBe(false);
  });

  it("allows the workspace's real .rein/audit, also when the workspace is given through a symlink", async () => {
    const ws = realTemp();
    const link = join(realTemp(), "ws-link");
    symlinkSync(ws, link);
    for (const workspace of [ws, link]) {
      const h = createHarness({
        model: "scripted:demo",
        workspace,
        audit: { dir: join(link, ".rein", "audit") },
        builtinTools: ["list_directory"],
      });
      const session = h.session();
      await session.run("look");
      await session.close();
      const file = h.auditFile(session.id)!;
      // Written, and reported, at its real place.
      expect(file).toBe(join(ws, ".rein", "audit", `${session.id}.jsonl`));
      expect(verifyAuditFile(file)).toMatchObject({ ok: true, status: "sealed" });
    }
  });
});
