// The record layouts serve the decoders and the encoders alike: every record of every
// committed fixture (8 machines, both classes and byte orders) and of real libraries,
// decoded and encoded again, gives back the file's own bytes; random records round-trip.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  BufferSource,
  Decoder,
  ElfFile,
  EI_NIDENT,
  VERDAUX,
  VERDEF,
  VERNAUX,
  VERNEED,
  dynamicEntryLayout,
  elfHeaderLayout,
  programHeaderLayout,
  readStruct,
  relaLayout,
  relLayout,
  sectionHeaderLayout,
  symbolLayout,
  type StructLayout,
} from "../../../src/elf/index.js";
import { encodeStruct } from "../../../src/elf/write/index.js";
import { fixtureFiles } from "../../support/fixtures.js";
import { systemLib } from "../../support/tools.js";

const files = [...fixtureFiles(), systemLib("libc.so.6")];

/** Decodes `count` records at `offset` and encodes them again: the bytes must be the file's. */
function roundTrip<T>(bytes: Uint8Array, little: boolean, offset: number, count: number, stride: number, layout: StructLayout<T>) {
  for (let i = 0; i < count; i++) {
    const at = offset + i * stride;
    const raw = bytes.subarray(at, at + layout.size);
    const value = readStruct(new Decoder(raw, little), 0, layout);
    expect(Buffer.from(encodeStruct(layout, value, little)).equals(Buffer.from(raw)), `${layout.name} ${i} at 0x${at.toString(16)}`).toBe(true);
  }
}

describe("record layouts", () => {
  it.each(files)("%s: headers, dynamic entries, symbols and version records re-encode to the file's bytes", (file) => {
    const bytes = new Uint8Array(readFileSync(file));
    const elf = ElfFile.parse(new BufferSource(bytes));
    const { is64, little } = elf;
    const h = elf.header;
    roundTrip(bytes, little, EI_NIDENT, 1, 0, elfHeaderLayout(is64));
    roundTrip(bytes, little, Number(h.e_phoff), elf.phnum, h.e_phentsize, programHeaderLayout(is64));
    if (h.e_shoff !== 0n) roundTrip(bytes, little, Number(h.e_shoff), elf.shnum, h.e_shentsize, sectionHeaderLayout(is64));
    const dyn = elf.dynamic!;
    roundTrip(bytes, little, dyn.offset, dyn.entries.length + 1, dynamicEntryLayout(is64).size, dynamicEntryLayout(is64));
    const t = elf.dynamicSymbolTable!;
    roundTrip(bytes, little, t.offset, t.count, t.entsize, symbolLayout(is64));
    for (const d of elf.versionDefinitions) roundTrip(bytes, little, d.offset, 1, 0, VERDEF);
    for (const r of elf.versionRequirements) {
      roundTrip(bytes, little, r.offset, 1, 0, VERNEED);
      for (const a of r.versions) roundTrip(bytes, little, a.offset, 1, 0, VERNAUX);
    }
    // The relocation tables, through their section headers.
    for (const s of elf.sectionsIfUsable() ?? []) {
      if (s.sh_type === 4) roundTrip(bytes, little, Number(s.sh_offset), Number(s.sh_size / s.sh_entsize), Number(s.sh_entsize), relaLayout(is64));
      if (s.sh_type === 9) roundTrip(bytes, little, Number(s.sh_offset), Number(s.sh_size / s.sh_entsize), Number(s.sh_entsize), relLayout(is64));
    }
  });

  it("gives the gABI's record sizes", () => {
    const sizes = <T,>(l: (is64: boolean) => StructLayout<T>) => [l(false).size, l(true).size];
    expect(sizes(elfHeaderLayout).map((n) => n + EI_NIDENT)).toEqual([52, 64]);
    expect(sizes(programHeaderLayout)).toEqual([32, 56]);
    expect(sizes(sectionHeaderLayout)).toEqual([40, 64]);
    expect(sizes(dynamicEntryLayout)).toEqual([8, 16]);
    expect(sizes(symbolLayout)).toEqual([16, 24]);
    expect(sizes(relLayout)).toEqual([8, 16]);
    expect(sizes(relaLayout)).toEqual([12, 24]);
    expect([VERDEF.size, VERDAUX.size, VERNEED.size, VERNAUX.size]).toEqual([20, 8, 16, 16]);
  });

  it("round-trips random records in both classes and byte orders", () => {
    const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    const u32 = fc.bigInt({ min: 0n, max: 2n ** 32n - 1n });
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 255 }), u64, u32, (is64, little, n, b, w64, w32) => {
        const w = is64 ? w64 : w32;
        const ph = { p_type: n, p_flags: (n ^ 5) >>> 0, p_offset: w, p_vaddr: w, p_paddr: 0n, p_filesz: w, p_memsz: w, p_align: w };
        const l = programHeaderLayout(is64);
        expect(readStruct(new Decoder(encodeStruct(l, ph, little), little), 0, l)).toEqual(ph);
        const sym = { st_name: n, st_value: w, st_size: w, st_info: b, st_other: 255 - b, st_shndx: n & 0xffff };
        const s = symbolLayout(is64);
        expect(readStruct(new Decoder(encodeStruct(s, sym, little), little), 0, s)).toEqual(sym);
        // d_tag is signed: a negative tag comes back negative.
        const dyn = { d_tag: -BigInt(n % 2 ** 31) - 1n, d_val: w };
        const d = dynamicEntryLayout(is64);
        expect(readStruct(new Decoder(encodeStruct(d, dyn, little), little), 0, d)).toEqual(dyn);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses a value that does not fit an ELF32 word, with FieldRangeError", async () => {
    const { FieldRangeError } = await import("../../../src/errors.js");
    const ph = { p_type: 1, p_flags: 4, p_offset: 2n ** 32n, p_vaddr: 0n, p_paddr: 0n, p_filesz: 0n, p_memsz: 0n, p_align: 0n };
    expect(() => encodeStruct(programHeaderLayout(false), ph, true)).toThrow(FieldRangeError);
    expect(encodeStruct(programHeaderLayout(true), ph, true).length).toBe(56);
  });
});
