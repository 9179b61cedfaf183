import { storeContract } from "../../src/testing/store-contract.js";
import { disposeTestStore, openTestStore } from "./redis-test-store.js";

storeContract({
  name: "RedisStore",
  create: () => openTestStore(),
  dispose: (store) => disposeTestStore(store as Awaited<ReturnType<typeof openTestStore>>),
});
