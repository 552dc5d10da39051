import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferSource, MalformedError, StringTable } from "../../src/elf/index.js";
import { CountingSource } from "../support/read-all.js";

/** A 1 MiB string table: "s0\0s1\0…" padded, the way a big C++ library's .dynstr looks to the reader. */
function bigTable() {
  const parts: string[] = ["\0"];
  const offsets: number[] = [];
  let at = 1;
  for (let i = 0; at < 1024 * 1024; i++) {
    const s = `_ZN4name${i}${"x".repeat(i % 300)}E`;
    offsets.push(at);
    parts.push(s + "\0");
    at += s.length + 1;
  }
  const bytes = new TextEncoder().encode(parts.join(""));
  return { bytes, offsets };
}

describe("StringTable", () => {
  it("reads only around the strings asked for while few are wanted", () => {
    const { bytes, offsets } = bigTable();
    const src = new CountingSource(new BufferSource(bytes));
    const t = new StringTable(src, 0, bytes.length);
    expect(t.get(offsets[5]!)).toBe("_ZN4name5xxxxxE");
    expect(t.get(offsets[299]!)).toBe(`_ZN4name299${"x".repeat(299)}E`); // spans two chunks
    expect(src.bytesRead).toBeLessThan(2048);
  });

  it("reads the whole table once when many strings are wanted", () => {
    const { bytes, offsets } = bigTable();
    const src = new CountingSource(new BufferSource(bytes));
    const t = new StringTable(src, 0, bytes.length);
    expect(offsets.length).toBeGreaterThan(5000);
    for (let i = 0; i < 1000; i++) expect(t.get(offsets[i * 5]!)).toMatch(new RegExp(`^_ZN4name${i * 5}x*E$`));
    expect(src.bytesRead).toBeLessThan(bytes.length + 64 * 1024);
  });

  it("rejects offsets past its end and an unterminated last string", () => {
    const src = new BufferSource(new TextEncoder().encode("P".repeat(100) + "\0abc\0def"));
    const t = new StringTable(src, 100, 8);
    expect(t.get(1)).toBe("abc");
    expect(() => t.get(8)).toThrow(MalformedError);
    expect(() => t.get(5)).toThrow(/no terminating NUL after offset 5 \(at offset 0x69\)/);
  });

  it("decodes names as UTF-8, read piecewise or whole, whatever bytes they hold", () => {
    // Names of random bytes other than NUL: ASCII, UTF-8, invalid sequences and the
    // 0x80-0x9f bytes that Latin-1 text (the whole-table path) maps specially.
    const nameArb = fc.uint8Array({ minLength: 0, maxLength: 24 }).map((b) => b.map((x) => x || 1));
    const utf8 = new TextDecoder("utf-8", { fatal: false });
    fc.assert(
      fc.property(fc.array(nameArb, { minLength: 1, maxLength: 60 }), fc.boolean(), (names, pad) => {
        // Padding past 64 KiB makes the table start out read piecewise, then whole after 32 look-ups.
        const parts: number[] = [0];
        const offsets: number[] = [];
        for (const n of names) {
          offsets.push(parts.length);
          parts.push(...n, 0);
        }
        if (pad) parts.push(...new Uint8Array(70 * 1024));
        const t = new StringTable(new BufferSource(Uint8Array.from(parts)), 0, parts.length);
        for (let round = 0; round < 2; round++) {
          names.forEach((n, i) => expect(t.get(offsets[i]!)).toBe(utf8.decode(n)));
        }
      }),
      { numRuns: 300 },
    );
  });
});

