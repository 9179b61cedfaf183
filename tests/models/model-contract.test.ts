// rein/testing's Model contract, run by every provider through its official SDK against the loopback
// server speaking its wire protocol (the same suite the scripted model passes in tests/contracts).
import { modelContract } from "../../src/testing.js";
import { CONTRACT_FACTORIES } from "./contract-factories.js";

for (const factory of CONTRACT_FACTORIES) {
  modelContract({
    name: factory.name,
    create: (replies) => factory.create(replies),
    dispose: (model) => factory.dispose(model),
  });
}
