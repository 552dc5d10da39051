// Mutations of real ELF files for property tests: random bytes, header fields set to
// extreme values, truncation. Shared by the reader's and the rewriter's mutation tests.
import fc from "fast-check";

/** Mutations biased to where the structures are: ELF header, program headers, dynamic data. */
export const mutation = fc.oneof(
  // Random bytes anywhere.
  fc.record({
    kind: fc.constant("bytes" as const),
    edits: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 32 }),
  }),
  // Random bytes in the first 4 KiB (headers, .interp, hash, dynsym, dynstr, versions).
  fc.record({
    kind: fc.constant("head" as const),
    edits: fc.array(fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 16 }),
  }),
  // A header field set to an extreme value.
  fc.record({
    kind: fc.constant("field" as const),
    at: fc.integer({ min: 4, max: 63 }),
    width: fc.constantFrom(1, 2, 4, 8),
    value: fc.constantFrom(0n, 1n, 0x7fn, 0xffn, 0xffffn, 0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn, 0x10000n),
  }),
  // Truncation.
  fc.record({ kind: fc.constant("truncate" as const), keep: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

export type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

export function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === "truncate") return bytes.slice(0, Math.floor(bytes.length * m.keep));
  const out = bytes.slice();
  if (m.kind === "bytes") for (const [pos, v] of m.edits) out[Math.min(out.length - 1, Math.floor(pos * out.length))] = v;
  if (m.kind === "head") for (const [pos, v] of m.edits) if (pos < out.length) out[pos] = v;
  if (m.kind === "field") {
    for (let i = 0; i < m.width && m.at + i < out.length; i++) out[m.at + i] = Number((m.value >> BigInt(8 * i)) & 0xffn);
  }
  return out;
}
