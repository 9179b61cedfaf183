import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, ReinError, TOOL_ERROR_TYPES } from "../../src/index.js";

const doc = readFileSync(resolve(import.meta.dirname, "../../docs/errors.md"), "utf8");

describe("error codes", () => {
  it("every ReinError code is documented in docs/errors.md with its meaning and remedy", () => {
    const missing = ERROR_CODES.filter(
      (code) => !new RegExp(`^### \`${code}\`\\n\\n\\S.*\\n\\n\\*\\*Remedy:\\*\\* \\S`, "m").test(doc),
    );
    expect(missing).toEqual([]);
  });

  it("every tool error type the pipeline produces is documented", () => {
    const missing = TOOL_ERROR_TYPES.filter(
      (t) => !new RegExp(`^\\|\\s*\`${t}\`\\s*\\|\\s*\\S`, "m").test(doc),
    );
    expect(missing).toEqual([]);
  });

  it("documents no code that does not exist", () => {
    const documented = [...doc.matchAll(/^### `(REIN_[A-Z_]+)`/gm)].map((m) => m[1]);
    expect(documented.filter((c) => !(ERROR_CODES as readonly string[]).includes(c!))).toEqual([]);
  });

  it("a ReinError carries its code, class name and details, and serialises them", () => {
    const err = new ReinError("REIN_INTERNAL", "boom", { where: "here" });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("ReinError");
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      code: "REIN_INTERNAL",
      name: "ReinError",
      message: "boom",
      details: { where: "here" },
    });
  });
});
