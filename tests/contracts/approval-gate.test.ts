import { callbackGate } from "../../src/index.js";
import { approvalGateContract } from "../../src/testing.js";

approvalGateContract({
  name: "callbackGate",
  create: (behaviour) =>
    callbackGate(() =>
      behaviour === "approve"
        ? { approve: true }
        : behaviour === "deny"
          ? { approve: false, reason: "not today" }
          : new Promise<never>(() => {}),
    ),
  relaying: (answer) => callbackGate(() => answer as never),
});
