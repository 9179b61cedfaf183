// Falls back from Anthropic to OpenAI when Anthropic is overloaded, and prints what the gateway did.
// Needs ANTHROPIC_API_KEY and OPENAI_API_KEY (and honours ANTHROPIC_BASE_URL / OPENAI_BASE_URL).
// Run: node examples/fallback.ts
import { createHarness, type ReinEvent, resolveModel } from "rein";

const model = resolveModel("anthropic:claude-sonnet-4-6", {
  fallback: ["openai:gpt-4.1-mini"],
  gateway: { retry: { maxRetries: 1, baseDelayMs: 100 } },
});

const harness = createHarness({
  model,
  audit: false,
  sinks: [
    {
      name: "print-gateway",
      handle(event: ReinEvent) {
        if (event.type === "model_retry")
          console.log(
            `retry: ${event.data.model} answered ${event.data.status}, attempt ${event.data.attempt}`,
          );
        if (event.type === "model_fallback")
          console.log(`fallback: ${event.data.from} -> ${event.data.to} (${event.data.reason})`);
      },
    },
  ],
});

const result = await harness.session().run("Say hello in five words.");
console.log(`${result.stopReason.type}: ${result.finalText}`);
