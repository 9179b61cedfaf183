import { createSecretKey } from "node:crypto";
import { openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lineBytes } from "../../src/telemetry/audit-line-bytes.js";
import { chainHasher, lineOf } from "../../src/telemetry/audit-record.js";
import { summaryJsonParts, summaryOf } from "../../src/telemetry/audit-record-body.js";
import { GroupCommitWriter } from "../../src/telemetry/group-commit-writer.js";
import { tempDir } from "../helpers.js";

const hashers = [chainHasher(undefined), chainHasher(createSecretKey(Buffer.from("k".repeat(32))))];
const odd = 'quote " backslash \\ newline \n nul \u0000 lone \ud800 pair 😀 bidi \u202e é …';
const bodies = [
  '{"a":1}',
  JSON.stringify({ text: "x".repeat(1024) }),
  JSON.stringify({ odd, again: odd }),
  // Past the shared buffer's share: a buffer of its own.
  JSON.stringify({ big: "y".repeat(20_000), odd }),
  JSON.stringify({ wide: "😀".repeat(3000) }),
];

describe("a record's line encoded once (the bytes hashed are the bytes written)", () => {
  it("is byte for byte the UTF-8 of lineOf(body, hash of body), for plain and HMAC chains, whole or in parts", () => {
    for (const hasher of hashers) {
      for (const body of bodies) {
        const expected = Buffer.from(lineOf(body, hasher.digest(body)));
        const whole = lineBytes(body, hasher);
        expect(whole.digest).toBe(hasher.digest(body));
        expect(Buffer.from(whole.bytes).equals(expected)).toBe(true);
        // The same body cut into parts (never inside a surrogate pair) encodes to the same bytes.
        const cut = [...body];
        const third = Math.floor(cut.length / 3);
        const parts = [
          cut.slice(0, third).join(""),
          cut.slice(third, 2 * third).join(""),
          cut.slice(2 * third).join(""),
        ];
        const split = lineBytes(parts, hasher);
        expect(split.digest).toBe(whole.digest);
        expect(Buffer.from(split.bytes).equals(expected)).toBe(true);
      }
    }
  });

  it("never changes a line once made: hundreds of lines later (several shared buffers on), each still holds its bytes", () => {
    const hasher = hashers[0]!;
    const made = Array.from({ length: 400 }, (_, i) => {
      const body = JSON.stringify({ i, pad: "z".repeat(i * 7) });
      return { body, line: lineBytes(body, hasher) };
    });
    for (const { body, line } of made)
      expect(Buffer.from(line.bytes).toString("utf8")).toBe(lineOf(body, hasher.digest(body)));
  });

  it("encodes short parts (copied byte by byte when ASCII) and long ones alike: non-ASCII and lone surrogates at every place, every part length", () => {
    // Each character kind at the start, the middle and the end of parts of every length around the
    // short-part limit: a part copied byte by byte that meets a character past ASCII is written again whole.
    const chars = [
      "a",
      '\\"',
      "é",
      "\u00ff",
      "\u0080",
      "\u07ff",
      "\u0800",
      "…",
      "\ud800",
      "\udfff",
      "😀",
      "\u0000",
      "\u007f",
    ];
    for (const hasher of hashers) {
      for (const c of chars) {
        for (let len = 0; len <= 30; len++) {
          const pad = "x".repeat(len);
          const parts = ["{", `"k":"${c}${pad}`, `${pad}${c}${pad}`, `${pad}${c}`, `${c}`, pad, '"}'];
          const body = parts.join("");
          const expected = Buffer.from(lineOf(body, hasher.digest(body)));
          const line = lineBytes(parts, hasher);
          expect(line.digest).toBe(hasher.digest(body));
          expect(Buffer.from(line.bytes).equals(expected)).toBe(true);
          expect(Buffer.from(lineBytes(body, hasher).bytes).equals(expected)).toBe(true);
        }
      }
    }
  });

  it("refuses a body that is not a JSON object (its closing brace becomes the hash field)", () => {
    expect(() => lineBytes('["not an object"]', hashers[0]!)).toThrow(/JSON object/);
  });
});

describe("a tool result's summary as JSON parts", () => {
  it("joins to JSON.stringify of the summary (first 500 UTF-16 units, then ...), whatever the text", () => {
    const texts = [
      "",
      "ok",
      "x".repeat(500),
      "x".repeat(501),
      "x".repeat(1024),
      `${"a".repeat(499)}😀 and more`, // the cut falls inside a surrogate pair: a lone high surrogate, escaped
      `${'"\\\n'.repeat(300)}`,
      `${"é".repeat(700)}`,
      odd.repeat(40),
    ];
    for (const text of texts) {
      const parts = summaryJsonParts(text, 500);
      expect(parts.join("")).toBe(JSON.stringify(summaryOf(text, 500)));
      expect(JSON.parse(parts.join(""))).toBe(text.length > 500 ? `${text.slice(0, 500)}...` : text);
    }
  });

  it("keeps an ASCII result's text one-byte: the cut mark is a part of its own", () => {
    const parts = summaryJsonParts("x".repeat(1024), 500);
    expect(parts).toEqual([`"${"x".repeat(500)}`, '..."']);
  });
});

describe("the writer's queue of bytes", () => {
  it("writes on the spot up to 64 times per turn by default (docs/audit.md)", () => {
    expect(new GroupCommitWriter().syncWritesPerTick).toBe(64);
  });

  function target(writer: GroupCommitWriter, path: string) {
    writeFileSync(path, "");
    const s = statSync(path);
    const fd = openSync(path, "a");
    return writer.file({ display: path, realFile: path, size: 0, fd, identity: `${s.dev}:${s.ino}` });
  }

  it("merges lines adjacent in memory into one chunk, counts their bytes as queued, and writes them in order", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ syncWritesPerTick: 0, writerThread: false });
    const f = target(writer, join(dir, "t.jsonl"));
    const bytes = Buffer.from("one\ntwo\nthree\n");
    f.appendLater(bytes.subarray(0, 4));
    f.append(bytes.subarray(4, 8)); // right after the first: the same chunk
    expect(f.chunks).toHaveLength(1);
    f.append("é\n"); // a string: its UTF-8 bytes
    f.append(bytes.subarray(8)); // not after the string's bytes: a chunk of its own
    expect(f.chunks).toHaveLength(3);
    expect(f.pendingBytes).toBe(8 + 3 + 6);
    await f.sync();
    expect(readFileSync(join(dir, "t.jsonl"), "utf8")).toBe("one\ntwo\né\nthree\n");
    expect(f.pendingBytes).toBe(0);
    await f.release();
  });

  it("after a short write keeps exactly the bytes not written, in order (dropWritten, takeBytes, putBack)", async () => {
    const dir = tempDir();
    const writer = new GroupCommitWriter({ syncWritesPerTick: 0, writerThread: false });
    const f = target(writer, join(dir, "t.jsonl"));
    f.appendLater("abc\n");
    f.appendLater("def\n");
    f.appendLater("ghi\n");
    f.dropWritten(6); // "abc\nde" went out
    expect(f.pendingBytes).toBe(6);
    const taken = f.takeBytes();
    expect(Buffer.from(taken).toString()).toBe("f\nghi\n");
    expect(f.pendingBytes).toBe(0);
    f.appendLater("jkl\n");
    f.putBack(taken.subarray(2)); // the first 2 bytes of what was taken were written
    expect(f.pendingBytes).toBe(8);
    await f.release();
    expect(readFileSync(join(dir, "t.jsonl"), "utf8")).toBe("ghi\njkl\n");
  });
});
