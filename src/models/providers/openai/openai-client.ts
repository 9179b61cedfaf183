type OpenAISdk = typeof import("openai");
export type OpenAIClient = InstanceType<OpenAISdk["default"]>;

/** Loads the `openai` SDK on first use and builds a client with its retries off (the gateway retries). */
export function lazyOpenAIClient(options: {
  apiKey: string;
  baseURL: string | undefined;
}): () => Promise<{ sdk: OpenAISdk; client: OpenAIClient }> {
  let loaded: Promise<{ sdk: OpenAISdk; client: OpenAIClient }> | undefined;
  return () => {
    loaded ??= import("openai").then((sdk) => ({
      sdk,
      client: new sdk.default({
        apiKey: options.apiKey,
        ...(options.baseURL ? { baseURL: options.baseURL } : {}),
        maxRetries: 0,
        timeout: 10 * 60_000,
      }),
    }));
    return loaded;
  };
}
