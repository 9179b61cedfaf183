import { describe, expect, it } from "vitest";
import { parkedPromise, takeReject, takeResolve } from "../../src/protocol/parked-promise.js";

describe("parkedPromise", () => {
  it("hands each promise its own resolvers, and takeResolve clears both slots", async () => {
    const a = parkedPromise<string>();
    const rejectA = takeReject();
    const resolveA = takeResolve<string>();
    const b = parkedPromise<string>();
    const resolveB = takeResolve<string>();
    // Cleared: nothing of the last promise is kept past the hand-over.
    expect(takeReject()).toBeUndefined();
    expect(takeResolve()).toBeUndefined();
    resolveB("b");
    rejectA(new Error("a"));
    resolveA("too late");
    await expect(b).resolves.toBe("b");
    await expect(a).rejects.toThrow("a");
  });
});
