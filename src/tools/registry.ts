import type { ToolSpec } from "../models/model.js";
import { checkRiskProfile } from "../protocol/answers.js";
import { ToolDefinitionError } from "../protocol/errors.js";
import type { Tool, ToolRouter } from "./tool.js";

/** Holds the session's tools. BLOCK tools and duplicate names are refused at registration. */
export class ToolRegistry implements ToolRouter {
  readonly #tools = new Map<string, Tool>();
  #specs: readonly ToolSpec[] | undefined;

  constructor(tools: Iterable<Tool> = []) {
    for (const tool of tools) this.register(tool);
  }

  register(tool: Tool): this {
    if (tool.risk !== undefined) {
      const checked = checkRiskProfile(tool.risk);
      if (!checked.ok) {
        throw new ToolDefinitionError(
          "REIN_TOOL_DEFINITION_INVALID",
          `Tool "${String(tool.name)}" declares an invalid risk profile: ${checked.problem}.`,
          { tool: String(tool.name) },
        );
      }
    }
    if (tool.risk?.level === "BLOCK") {
      throw new ToolDefinitionError(
        "REIN_TOOL_BLOCKED",
        `Tool "${tool.name}" declares risk BLOCK (${tool.risk.reason}); BLOCK tools can never be registered.`,
        { tool: tool.name },
      );
    }
    if (this.#tools.has(tool.name)) {
      throw new ToolDefinitionError(
        "REIN_TOOL_DUPLICATE",
        `Two tools are named "${tool.name}"; tool names must be unique.`,
        {
          tool: tool.name,
        },
      );
    }
    this.#tools.set(tool.name, tool);
    this.#specs = undefined;
    return this;
  }

  get(name: string): Tool | undefined {
    return this.#tools.get(name);
  }

  names(): readonly string[] {
    return [...this.#tools.keys()];
  }

  specs(): readonly ToolSpec[] {
    this.#specs ??= Object.freeze(
      [...this.#tools.values()].map((t) =>
        Object.freeze({ name: t.name, description: t.description, inputSchema: t.inputSchema }),
      ),
    );
    return this.#specs;
  }
}
