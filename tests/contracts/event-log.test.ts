import { MemoryEventLog } from "../../src/index.js";
import { eventLogContract } from "../../src/testing.js";

eventLogContract({ name: "MemoryEventLog", create: () => new MemoryEventLog() });
