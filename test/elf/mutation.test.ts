import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferSource, ElfError } from "../../src/elf/index.js";
import { CountingSource, readEverything } from "../support/read-all.js";

const fixtures = new URL("../../testdata/fixtures/", import.meta.url).pathname;
const inputs = [
  "x86_64/libvers.so.1",
  "x86_64/prog",
  "x86_64/libvers-nosections.so.1",
  "x86_64-musl/libvers.so.1",
  "i386/libvers.so.1",
  "i386/prog-nopie",
  "armhf/prog",
  "aarch64/libvers.so.1",
  "riscv64/prog-rpath",
  "ppc64/libvers.so.1",
  "s390x/prog",
  "s390x/libvers.so.1",
].map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(fixtures + f)) }));
// A real system program too: larger tables, more versions.
inputs.push({ name: "/bin/true", bytes: new Uint8Array(readFileSync("/bin/true")) });

/**
 * Runs the whole reader on `bytes`. Only ElfError may come out; the reads must stay
 * within a small multiple of the file size (every read is range-checked, so this
 * catches re-reading in a loop as well as over-allocation).
 */
function check(bytes: Uint8Array): void {
  const source = new CountingSource(new BufferSource(bytes));
  try {
    readEverything(source);
  } catch (e) {
    if (!(e instanceof ElfError)) {
      throw new Error(`reader threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
    }
  }
  expect(source.bytesRead).toBeLessThanOrEqual(16 * Math.max(bytes.length, 4096));
}

// Draw by name so that a counterexample prints a file name, not its bytes.
const byName = new Map(inputs.map((i) => [i.name, i.bytes]));
const input = fc.constantFrom(...inputs.map((i) => i.name));

/** Mutations biased to where the structures are: ELF header, program headers, dynamic data. */
const mutation = fc.oneof(
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

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === "truncate") return bytes.slice(0, Math.floor(bytes.length * m.keep));
  const out = bytes.slice();
  if (m.kind === "bytes") for (const [pos, v] of m.edits) out[Math.min(out.length - 1, Math.floor(pos * out.length))] = v;
  if (m.kind === "head") for (const [pos, v] of m.edits) if (pos < out.length) out[pos] = v;
  if (m.kind === "field") {
    for (let i = 0; i < m.width && m.at + i < out.length; i++) out[m.at + i] = Number((m.value >> BigInt(8 * i)) & 0xffn);
  }
  return out;
}

describe("reader on mutated real ELF files", () => {
  it("reads every unmutated input without error", () => {
    for (const { bytes } of inputs) readEverything(new BufferSource(bytes));
  });

  it("rejects mutants only with ElfError, with bounded reads", () => {
    fc.assert(
      fc.property(input, mutation, (name, m) => {
        check(apply(byName.get(name)!, m));
      }),
      { numRuns: 4000 },
    );
  });

  it("survives several stacked mutations", () => {
    fc.assert(
      fc.property(input, fc.array(mutation, { minLength: 2, maxLength: 6 }), (name, ms) => {
        check(ms.reduce(apply, byName.get(name)!));
      }),
      { numRuns: 2000 },
    );
  });
});
