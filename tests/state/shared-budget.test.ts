import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/state/sqlite-store.js";

const CHILD = join(import.meta.dirname, "shared-budget-child.mjs");
const dir = mkdtempSync(join(tmpdir(), "rein-budget-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function child(db: string, sessionId: string, attempts: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CHILD, db, sessionId, String(attempts)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    p.on("exit", (code) =>
      code === 0 ? resolve((JSON.parse(out) as { accepted: number }).accepted) : reject(new Error(err)),
    );
  });
}

describe("one budget shared by processes (SQLite ledger)", () => {
  it("three processes reserving at once against a $5 team budget get exactly $5 of reservations between them", async () => {
    const db = join(dir, "budget.db");
    await (await SqliteStore.open(db)).close(); // created and migrated before the children race
    // 3 × 30 attempts of $0.125: 90 asked, 40 fit. However the processes interleave, the ceiling
    // check and the reservation are one transaction, so the sum is exactly 40, never more.
    const accepted = await Promise.all(["s1", "s2", "s3"].map((s) => child(db, s, 30)));
    expect(accepted.reduce((a, b) => a + b, 0)).toBe(40);
    const store = await SqliteStore.open(db);
    try {
      const team = store.ledger.usageOf({ tenantId: "t", sessionId: "s1" }, "budget:team");
      expect(team.reservedUsd).toBe(5);
      const open = ["s1", "s2", "s3"].map(
        (s) => store.ledger.openReservations({ tenantId: "t", sessionId: s }).length,
      );
      expect(open).toEqual(accepted);
    } finally {
      await store.close();
    }
  });
});
