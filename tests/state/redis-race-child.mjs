// The ledger race's child: opens the Redis store, says "ready", waits for "go" on stdin, then makes
// its reservations against one shared budget as fast as it can and prints how many were accepted.
import { RedisStore } from "../../dist/index.js";

const [url, prefix, count] = process.argv.slice(2);
const store = await RedisStore.open(url, { prefix });
process.stdout.write("ready\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
let accepted = 0;
for (let i = 0; i < Number(count); i++) {
  const refusal = store.ledger.reserve(
    { tenantId: "local", sessionId: `race_${process.pid}` },
    { key: `k${i}`, model: "m", estimateUsd: 0.03, ceilings: [{ account: "budget:team", maxCostUsd: 1 }] },
  );
  if (!refusal) accepted++;
}
await store.close();
process.stdout.write(`${JSON.stringify({ accepted })}\n`);
