import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BufferSource, ElfFile, decodeSymbol } from "../../src/elf/index.js";
import { fixtureFiles } from "../support/fixtures.js";
import { hasSystemLibs, systemLib } from "../support/tools.js";

// Every committed fixture (32- and 64-bit, both byte orders) and a few large system libraries.
const files = [
  ...fixtureFiles(),
  systemLib("libc.so.6"),
  systemLib("libstdc++.so.6"),
];
const present = hasSystemLibs(["libc.so.6", "libstdc++.so.6"]);

describe("DynamicSymbolTable", () => {
  it.skipIf(!present).each(files)("%s: each field read alone agrees with the whole entry", (file) => {
    const elf = ElfFile.parse(new BufferSource(new Uint8Array(readFileSync(file))));
    const t = elf.dynsym;
    if (!t) return void expect(elf.dynamic).toBeNull();
    expect(t.count).toBe(elf.dynamicSymbolCount);
    expect(t.count).toBeGreaterThan(1);
    const versyms = elf.versymValues();
    const loc = elf.dynamicSymbolTable!;
    const table = elf.readAt(loc.offset, loc.count * loc.entsize, "test");
    for (let i = 0; i < t.count; i++) {
      const s = t.symbol(i);
      // decodeSymbol reads the entry with its own field offsets: an independent layout.
      const raw = decodeSymbol(table, i, elf.is64);
      expect([t.nameOffset(i), t.info(i), t.other(i), t.shndx(i), t.value(i), t.size(i)]).toEqual([
        raw.st_name,
        raw.st_info,
        raw.st_other,
        raw.st_shndx,
        raw.st_value,
        raw.st_size,
      ]);
      expect([s.st_name, s.st_info, s.st_value, s.st_size]).toEqual([raw.st_name, raw.st_info, raw.st_value, raw.st_size]);
      expect(t.name(i)).toBe(s.name);
      expect(t.version(i)).toEqual(s.version);
      expect(t.versymValue(i)).toBe(versyms ? versyms[i] : null);
    }
    // The resolved versions are shared: as many objects as distinct versym values.
    const objects = new Set(Array.from({ length: t.count }, (_, i) => t.version(i)).filter((v) => v !== null));
    const distinct = new Set(Array.from({ length: t.count }, (_, i) => (t.version(i) ? `${t.versymValue(i)}/${t.shndx(i) !== 0}` : null)).filter((v) => v !== null));
    expect(objects.size).toBe(distinct.size);
  });
});
