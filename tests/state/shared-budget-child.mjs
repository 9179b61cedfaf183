// The shared-budget test's child: reserves against one team budget on the SQLite file until it has
// tried `attempts` times, then prints how many reservations the ledger accepted.
import { SqliteStore } from "../../dist/index.js";

const [db, sessionId, attempts] = process.argv.slice(2);
const store = await SqliteStore.open(db);
const ceilings = [{ account: "budget:team", maxCostUsd: 5 }];
let accepted = 0;
for (let i = 0; i < Number(attempts); i++) {
  const refusal = store.ledger.reserve(
    { tenantId: "t", sessionId },
    { key: `k${i}`, model: "m", estimateUsd: 0.125, ceilings },
  );
  if (refusal === undefined) accepted++;
}
await store.close();
process.stdout.write(JSON.stringify({ accepted }));
