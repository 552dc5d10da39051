import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { abiHash } from "../../src/abi/hash.js";
import { extractManifest } from "../../src/abi/manifest.js";
import { BufferSource, ElfError, ElfFile } from "../../src/elf/index.js";
import { apply, mutation } from "../support/mutation.js";
import { CountingSource } from "../support/read-all.js";

const fixtures = new URL("../../testdata/fixtures/", import.meta.url).pathname;
const inputs = ["x86_64/libvers.so.1", "x86_64/libvers-nosections.so.1", "i386/libvers.so.1", "aarch64/libvers.so.1", "ppc64/libvers.so.1", "s390x/libvers.so.1"];
const bytes = new Map(inputs.map((f) => [f, new Uint8Array(readFileSync(fixtures + f))]));

/** Extracts and hashes a manifest: only ElfError may come out, and reads stay bounded. */
function check(data: Uint8Array): void {
  const source = new CountingSource(new BufferSource(data));
  try {
    abiHash(extractManifest(ElfFile.parse(source), { hints: true }));
  } catch (e) {
    if (!(e instanceof ElfError)) throw new Error(`extractManifest threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
  }
  expect(source.bytesRead).toBeLessThanOrEqual(16 * Math.max(data.length, 4096));
}

describe("manifests of mutated libraries", () => {
  it("unmutated: every input gives a manifest with symbols", () => {
    for (const data of bytes.values()) expect(extractManifest(ElfFile.parse(new BufferSource(data))).symbols.length).toBeGreaterThan(3);
  });

  it("rejects mutants only with ElfError, with bounded reads", () => {
    fc.assert(
      fc.property(fc.constantFrom(...inputs), mutation, (name, m) => check(apply(bytes.get(name)!, m))),
      { numRuns: 3000 },
    );
  });
});
