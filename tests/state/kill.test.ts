import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/state/sqlite-store.js";
import { expectNothingLost, killScenario } from "./kill-scenario.js";

const TRIALS = Number(process.env.REIN_KILL_TRIALS ?? 100);
const dir = mkdtempSync(join(tmpdir(), "rein-kill-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("kill test (SQLite)", () => {
  it(`SIGKILL at random points, ${TRIALS} trials, then resumed: no session lost, no line twice, no event lost or duplicated, ledger = recorded usage`, async () => {
    const db = join(dir, "kill.db");
    const parent = await SqliteStore.open(db);
    const figures = await killScenario({ parent, target: db, trials: TRIALS, dir });
    console.log(`kill test (SQLite): ${JSON.stringify({ ...figures, duplicated: undefined })}`);
    await parent.close();
    expect(existsSync(db)).toBe(true);
    expectNothingLost(figures);
    // 100 child processes: ~2 min on a loaded 2-core machine, far less on a quiet one.
  }, 400_000);
});
