import { openaiModel } from "../../src/models/providers/openai/openai-model.js";
import { openaiCompatibleModel } from "../../src/models/providers/openai-compatible/openai-compatible-model.js";
import { anthropicSpec, type ProviderSpec, providerContract } from "./provider-contract.js";

const responsesSpec = (stream: boolean): ProviderSpec => ({
  name: `openai responses (${stream ? "SSE" : "JSON"})`,
  protocol: "responses",
  stream,
  servedModel: "gpt-4.1-2025-04-14",
  make: (url) => openaiModel({ model: "gpt-4.1", apiKey: "test-key", baseURL: `${url}/v1`, stream, env: {} }),
});

const chatSpec = (stream: boolean): ProviderSpec => ({
  name: `openai chat completions (${stream ? "SSE" : "JSON"})`,
  protocol: "chat",
  stream,
  servedModel: "gpt-4.1-mini-2025-04-14",
  make: (url) =>
    openaiModel({
      model: "gpt-4.1-mini",
      api: "chat",
      apiKey: "test-key",
      baseURL: `${url}/v1`,
      stream,
      env: {},
    }),
});

const compatibleSpec = (stream: boolean): ProviderSpec => ({
  name: `openai-compatible (${stream ? "SSE" : "JSON"})`,
  protocol: "chat",
  stream,
  servedModel: "llama3.1",
  make: (url) => openaiCompatibleModel({ model: "llama3.1", baseURL: `${url}/v1`, stream }),
});

// Each provider falls back to one speaking another protocol, so conversions are crossed both ways.
providerContract(anthropicSpec(true), { spec: responsesSpec(true) });
providerContract(anthropicSpec(false), { spec: chatSpec(true) });
providerContract(responsesSpec(true), { spec: anthropicSpec(true) });
providerContract(responsesSpec(false), { spec: compatibleSpec(true) });
providerContract(chatSpec(true), { spec: anthropicSpec(true) });
providerContract(chatSpec(false), { spec: responsesSpec(true) });
providerContract(compatibleSpec(true), { spec: anthropicSpec(false) });
providerContract(compatibleSpec(false), { spec: responsesSpec(false) });
