// Define a tool with a zod schema and watch the pipeline's decisions. Run: node examples/custom-tool.ts
import { createHarness, defineTool, scriptedModel, ToolFailure } from "rein";
import { z } from "zod/v4";

const weather = defineTool({
  name: "get_weather",
  description: "Current temperature of a city, in °C",
  input: z.object({ city: z.string().min(1).describe("City name") }),
  risk: { level: "LOW", reason: "read-only lookup" },
  readOnly: true,
  execute: async ({ city }) => {
    if (city === "Atlantis") throw new ToolFailure("not_found", `No weather station in ${city}`);
    return { city, celsius: 21 };
  },
});

const harness = createHarness({
  model: scriptedModel({
    name: "weather",
    turns: [
      {
        tool_calls: [
          { tool: "get_weather", input: { city: "Lisbon" } },
          { tool: "get_weather", input: { city: "Atlantis" } },
          { tool: "get_weather", input: { town: "Oslo" } },
        ],
      },
      {
        when: [{ if: { error: "invalid_input" }, say: "I sent one bad request; Lisbon is 21 °C." }],
        say: "Lisbon is 21 °C.",
      },
    ],
  }),
  tools: [weather],
  audit: false,
});

for await (const event of harness.session().stream("Weather in Lisbon?")) {
  if (event.type === "tool_call_finished")
    console.log(`${event.data.tool}: ${event.data.ok ? "ok" : event.data.errorType} ${event.data.content}`);
  if (event.type === "run_ended") console.log(`${event.data.stopReason.type}: ${event.data.finalText}`);
}
