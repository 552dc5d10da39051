import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferSource, ElfError } from "../../src/elf/index.js";
import { apply, mutation } from "../support/mutation.js";
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
