import { modelContract, scriptedModel } from "../../src/testing.js";
import { contractScript } from "./contract-script.js";

modelContract({ name: "ScriptedModel", create: (replies) => scriptedModel(contractScript(replies)) });
