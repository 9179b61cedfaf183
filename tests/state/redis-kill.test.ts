import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import type { RedisStore } from "../../src/state/redis-store.js";
import { expectNothingLost, killScenario } from "./kill-scenario.js";
import { disposeTestStore, openTestStore, REDIS_URL } from "./redis-test-store.js";

const TRIALS = Number(process.env.REIN_KILL_TRIALS_REDIS ?? 30);
const dir = mkdtempSync(join(tmpdir(), "rein-redis-kill-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("kill test (Redis)", () => {
  it(`SIGKILL at random points, ${TRIALS} trials, then resumed: no session lost, no line twice, no event lost or duplicated, ledger = recorded usage`, async () => {
    const parent: RedisStore = await openTestStore();
    const figures = await killScenario({
      parent,
      target: REDIS_URL,
      env: { ...process.env, REIN_KILL_PREFIX: parent.prefix },
      trials: TRIALS,
      dir,
    });
    console.log(`kill test (Redis): ${JSON.stringify({ ...figures, duplicated: undefined })}`);
    await disposeTestStore(parent);
    expectNothingLost(figures);
  }, 400_000);
});
