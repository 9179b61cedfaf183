import { describe, expect, it } from "vitest";
import { contentBeforeNotes, GUARD_NOTE_MARK, outcomeContent } from "../../src/protocol/tool-result.js";

describe("contentBeforeNotes: the text guards saw, from what the model read", () => {
  const note = (n: string) => `\n\n${GUARD_NOTE_MARK}${n}`;

  it("a result's text: the notes appended after it go, the text stays byte for byte", () => {
    expect(contentBeforeNotes(`line 1\n\nline 2${note("stop repeating")}`, true)).toBe("line 1\n\nline 2");
    expect(contentBeforeNotes(`a${note("one")}\n${GUARD_NOTE_MARK}two`, true)).toBe("a");
    expect(contentBeforeNotes("no notes here", true)).toBe("no notes here");
  });

  it("an error: the notes inside its message go, and the rest is the outcome's own serialisation", () => {
    const error = { type: "tool_error" as const, message: "upstream answered 503", details: { status: 503 } };
    const seen = outcomeContent({ ok: false, error });
    const read = outcomeContent({
      ok: false,
      error: { ...error, message: `${error.message}${note("same error")}` },
    });
    expect(read).not.toBe(seen);
    expect(contentBeforeNotes(read, false)).toBe(seen);
    expect(contentBeforeNotes(seen, false)).toBe(seen);
  });

  it("text that is not what the pipeline wrote comes back as it is", () => {
    expect(contentBeforeNotes(`not json ${GUARD_NOTE_MARK}`, false)).toBe(`not json ${GUARD_NOTE_MARK}`);
    expect(contentBeforeNotes(`{"error":{"message":7}} ${GUARD_NOTE_MARK}`, false)).toBe(
      `{"error":{"message":7}} ${GUARD_NOTE_MARK}`,
    );
  });
});
