import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnsafeLocalProcess } from "../../../src/sandbox/unsafe-local-process.js";
import { workspaceTools } from "../../../src/tools/builtin/index.js";
import { ToolRegistry } from "../../../src/tools/registry.js";
import { callTool, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

describe("workspaceTools", () => {
  let t: TempWorkspace;
  beforeEach(() => {
    t = tempWorkspace();
  });
  afterEach(() => t.cleanup());

  it("offers run_shell only when a sandbox is given", () => {
    expect(workspaceTools({ workspace: t.root }).map((tool) => tool.name)).toEqual([
      "read_file",
      "write_file",
      "list_directory",
      "delete_file",
    ]);
    const sandbox = new UnsafeLocalProcess({ workspace: t.root });
    expect(workspaceTools({ workspace: t.root, sandbox }).map((tool) => tool.name)).toContain("run_shell");
  });

  it("registers cleanly and gives every tool an object schema with described fields", () => {
    const registry = new ToolRegistry(
      workspaceTools({ workspace: t.root, sandbox: new UnsafeLocalProcess({ workspace: t.root }) }),
    );
    for (const spec of registry.specs()) {
      const properties = spec.inputSchema.properties as Record<string, { description?: string }>;
      for (const [field, schema] of Object.entries(properties)) {
        expect(schema.description, `${spec.name}.${field}`).toEqual(expect.any(String));
      }
    }
  });

  it("shares one workspace: what write_file writes, read_file and list_directory see", async () => {
    const [read, write, list] = workspaceTools({ workspace: t.root, maxReadBytes: 3 });
    await callTool(write!, { path: "d/x.txt", content: "hello", createDirectories: true });
    expect(await callTool(read!, { path: "d/x.txt" })).toMatchObject({ content: "hel", truncated: true });
    expect(await callTool(list!, { path: "d" })).toMatchObject({
      entries: [{ name: "x.txt", type: "file", size: 5 }],
    });
  });

  it("passes maxWriteBytes to write_file", async () => {
    const [, write] = workspaceTools({ workspace: t.root, maxWriteBytes: 4 });
    await expect(callTool(write!, { path: "a.txt", content: "12345" })).rejects.toMatchObject({
      type: "too_large",
      message: expect.stringContaining("limit of 4 bytes"),
    });
    expect(await callTool(write!, { path: "a.txt", content: "1234" })).toMatchObject({ bytes: 4 });
  });
});
