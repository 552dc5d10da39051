import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { abiHash } from "../../src/abi/hash.js";
import { extractManifest } from "../../src/abi/manifest.js";
import { BufferSource, ElfError, ElfFile, MalformedError } from "../../src/elf/index.js";
import { InputError } from "../../src/errors.js";
import { apply, mutation } from "../support/mutation.js";
import { CountingSource } from "../support/read-all.js";

const fixtures = new URL("../../testdata/fixtures/", import.meta.url).pathname;
const inputs = ["x86_64/libvers.so.1", "x86_64/libvers-nosections.so.1", "i386/libvers.so.1", "aarch64/libvers.so.1", "ppc64/libvers.so.1", "s390x/libvers.so.1"];
const bytes = new Map(inputs.map((f) => [f, new Uint8Array(readFileSync(fixtures + f))]));

/** Extracts and hashes a manifest: only ElfError may come out (or, for e_type turned ET_REL, the refusal of a .o), and reads stay bounded. */
function check(data: Uint8Array): void {
  const source = new CountingSource(new BufferSource(data));
  try {
    abiHash(extractManifest(ElfFile.parse(source), { hints: true }));
  } catch (e) {
    const relocatable = e instanceof InputError && /relocatable object/.test(e.message);
    if (!(e instanceof ElfError) && !relocatable) throw new Error(`extractManifest threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
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

describe("a symbol table that repeats one long name", () => {
  // libc.so.6 with a 1 MiB name appended to a copy of its .dynstr, in an extended last
  // PT_LOAD, and DT_STRTAB/DT_STRSZ pointed at the copy. `renamed` points every exported
  // symbol's st_name at the long name: 3,000 names of 1 MiB each, from a 3 MB file.
  function libcWithLongName(renamed: boolean): Uint8Array {
    const orig = new Uint8Array(readFileSync("/usr/lib/x86_64-linux-gnu/libc.so.6"));
    const elf = ElfFile.parse(new BufferSource(orig));
    const strings = elf.dynamicStrings;
    const table = new Uint8Array(strings.size + (1 << 20) + 1);
    table.set(orig.subarray(strings.fileOffset, strings.fileOffset + strings.size));
    table.fill(0x41, strings.size, strings.size + (1 << 20));
    const at = Math.ceil(orig.length / 8) * 8;
    const out = new Uint8Array(at + table.length);
    out.set(orig);
    out.set(table, at);
    const view = new DataView(out.buffer);
    const load = [...elf.programHeaders].reverse().find((p) => p.p_type === 1)!;
    const ph = Number(elf.header.e_phoff) + elf.programHeaders.indexOf(load) * 56;
    const size = BigInt(out.length) - load.p_offset;
    view.setBigUint64(ph + 32, size, true);
    view.setBigUint64(ph + 40, size > load.p_memsz ? size : load.p_memsz, true);
    const dyn = elf.dynamic!;
    dyn.entries.forEach((e, i) => {
      const valueAt = dyn.offset + i * 16 + 8;
      if (e.d_tag === 5n) view.setBigUint64(valueAt, load.p_vaddr + BigInt(at) - load.p_offset, true); // DT_STRTAB
      if (e.d_tag === 10n) view.setBigUint64(valueAt, BigInt(table.length), true); // DT_STRSZ
    });
    const t = elf.dynsym!;
    const symtab = elf.dynamicSymbolTable!.offset;
    for (let i = 1; renamed && i < t.count; i++) {
      if (t.shndx(i) !== 0 && t.info(i) >> 4 !== 0) view.setUint32(symtab + i * 24, strings.size, true);
    }
    return out;
  }

  it("is refused with MalformedError before its names are sorted or printed", () => {
    const control = extractManifest(ElfFile.parse(new BufferSource(libcWithLongName(false))));
    expect(control.symbols.length).toBeGreaterThan(2000);
    expect(() => extractManifest(ElfFile.parse(new BufferSource(libcWithLongName(true))))).toThrow(MalformedError);
    expect(() => extractManifest(ElfFile.parse(new BufferSource(libcWithLongName(true))))).toThrow(/add up to more than \d+ characters/);
  });
});
