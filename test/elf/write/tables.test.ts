// The writer layer's table builders against what linkers and ld.so do: GNU hash tables
// rebuilt byte for byte as GNU ld and lld wrote them, System V hash chains that find every
// symbol, and string tables that share tails.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BufferSource, DT_GNU_HASH, DT_HASH, ElfFile } from "../../../src/elf/index.js";
import {
  SpaceAllocator,
  StringTableBuilder,
  buildGnuHash,
  buildSysvHash,
  gnuHash,
  gnuHashOrder,
  gnuHashShape,
  sysvHash,
} from "../../../src/elf/write/index.js";
import { fixtureArches, fixturesDir } from "../../support/fixtures.js";
import { systemLib } from "../../support/tools.js";

const fixtures = fixturesDir;
const libraries = [
  ...fixtureArches().map((a) => `${fixtures}${a}/libvers.so.1`),
  systemLib("libc.so.6"),
  systemLib("libstdc++.so.6"),
  systemLib("libz.so.1"),
];

function symbolNames(elf: ElfFile): Uint8Array[] {
  const t = elf.dynsym!;
  return Array.from({ length: t.count }, (_, i) => (i === 0 ? new Uint8Array() : elf.dynamicStrings.raw(t.nameOffset(i))));
}

/** Looks a name up the way ld.so does in a DT_GNU_HASH table (bloom filter, bucket, chain); the index or -1. */
function gnuLookup(table: Uint8Array, names: Uint8Array[], name: Uint8Array, is64: boolean, little: boolean): number {
  const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const [nbuckets, symoffset, bloomSize, shift] = [0, 4, 8, 12].map((o) => v.getUint32(o, little)) as [number, number, number, number];
  const word = is64 ? 8 : 4;
  const bits = BigInt(word * 8);
  const h = gnuHash(name);
  const bloom = is64 ? v.getBigUint64(16 + (Math.floor(h / Number(bits)) % bloomSize) * 8, little) : BigInt(v.getUint32(16 + (Math.floor(h / Number(bits)) % bloomSize) * 4, little));
  if (((bloom >> (BigInt(h) % bits)) & (bloom >> (BigInt(h >>> shift) % bits)) & 1n) === 0n) return -1;
  const bucketsAt = 16 + bloomSize * word;
  let i = v.getUint32(bucketsAt + (h % nbuckets) * 4, little);
  if (i === 0) return -1;
  for (;;) {
    const c = v.getUint32(bucketsAt + nbuckets * 4 + (i - symoffset) * 4, little);
    if ((c | 1) === (h | 1) && Buffer.from(names[i]!).equals(Buffer.from(name))) return i;
    if (c & 1) return -1;
    i++;
  }
}

describe("hash tables", () => {
  it.each(libraries)("%s: the GNU hash table rebuilt from .dynsym is the linker's, byte for byte", (file) => {
    const bytes = new Uint8Array(readFileSync(file));
    const elf = ElfFile.parse(new BufferSource(bytes));
    const at = elf.addressToOffset(elf.dynamicValue(DT_GNU_HASH)!, 16, "DT_GNU_HASH");
    const h = elf.readAt(at, 16, "DT_GNU_HASH");
    const shape = { nbuckets: h.u32(0), symoffset: h.u32(4), bloomSize: h.u32(8), shift: h.u32(12) };
    const built = buildGnuHash(symbolNames(elf), shape, elf.is64, elf.little);
    expect(Buffer.from(bytes.subarray(at, at + built.length)).equals(Buffer.from(built))).toBe(true);
  });

  it("a System V hash table finds every symbol from its bucket, as ld.so walks it (musl's libvers, libc)", () => {
    for (const file of [`${fixtures}x86_64-musl/libvers.so.1`, systemLib("libc.so.6")]) {
      const elf = ElfFile.parse(new BufferSource(new Uint8Array(readFileSync(file))));
      const names = symbolNames(elf);
      const at = elf.addressToOffset(elf.dynamicValue(DT_HASH)!, 8, "DT_HASH");
      const nbucket = elf.readAt(at, 4, "DT_HASH").u32(0);
      const t = buildSysvHash(names, nbucket, 4, elf.little);
      const v = new DataView(t.buffer);
      const get = (i: number) => v.getUint32(i * 4, elf.little);
      expect([get(0), get(1)]).toEqual([nbucket, names.length]);
      for (let i = 1; i < names.length; i++) {
        let k = get(2 + (sysvHash(names[i]!) % nbucket));
        const visited = new Set<number>();
        while (k !== 0 && k !== i && !visited.has(k)) {
          visited.add(k);
          k = get(2 + nbucket + k);
        }
        expect(k, `symbol ${i}`).toBe(i);
      }
    }
  });

  it("random symbol sets: gnuHashShape + gnuHashOrder + buildGnuHash find every hashed name and reject others", () => {
    const name = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => b.map((x) => 0x21 + (x % 94)));
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 0, maxLength: 200, selector: (n) => Buffer.from(n).toString("latin1") }), fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.boolean(), (set, symoffset, is64, little) => {
        const names = [new Uint8Array(), ...set];
        const off = Math.min(symoffset, names.length);
        const shape = gnuHashShape(off, names.length - off, is64);
        const ordered = gnuHashOrder(names, shape).map((i) => names[i]!);
        const table = buildGnuHash(ordered, shape, is64, little);
        for (let i = off; i < ordered.length; i++) expect(gnuLookup(table, ordered, ordered[i]!, is64, little)).toBe(i);
        expect(gnuLookup(table, ordered, Uint8Array.of(0x7f, 0x7f), is64, little)).toBe(-1);
      }),
      { numRuns: 200 },
    );
  });
});

describe("StringTableBuilder", () => {
  const read = (t: Uint8Array, at: number) => Buffer.from(t.subarray(at, t.indexOf(0, at))).toString("utf8");

  it("stores each string once, and a string that ends another inside it", () => {
    const b = new StringTableBuilder();
    for (const s of ["bar", "foobar", "ar", "baz", "", "bar"]) b.add(s);
    const t = b.finish();
    expect(Buffer.from(t).toString("latin1")).toBe("\0baz\0foobar\0");
    expect(["foobar", "bar", "ar", "baz", ""].map((s) => b.offsetOf(s))).toEqual([5, 8, 9, 1, 0]);
  });

  it("random sets: every offset reads back its string, the layout ignores insertion order, and no more bytes than without merging", () => {
    const str = fc.string({ unit: fc.constantFrom("a", "b", "c", "é", "_"), maxLength: 8 });
    fc.assert(
      fc.property(fc.array(str, { maxLength: 60 }), (list) => {
        const a = new StringTableBuilder();
        const b = new StringTableBuilder();
        for (const s of list) a.add(s);
        for (const s of [...list].reverse()) b.add(s);
        const ta = a.finish();
        expect(Buffer.from(b.finish()).equals(Buffer.from(ta))).toBe(true);
        for (const s of list) expect(read(ta, a.offsetOf(s))).toBe(s);
        const unique = [...new Set(list)].filter((s) => s !== "");
        expect(ta.length).toBeLessThanOrEqual(1 + unique.reduce((n, s) => n + Buffer.byteLength(s) + 1, 0));
        // A string that ends another of the set takes no bytes of its own.
        const tails = unique.filter((s) => unique.some((o) => o !== s && o.endsWith(s)));
        expect(ta.length).toBeLessThanOrEqual(1 + unique.filter((s) => !tails.includes(s)).reduce((n, s) => n + Buffer.byteLength(s) + 1, 0));
      }),
      { numRuns: 300 },
    );
  });
});

describe("SpaceAllocator", () => {
  it("keeps offsets and addresses in step, each piece aligned (with a remainder when asked)", () => {
    const s = new SpaceAllocator(0x1003, 0x401003n);
    expect(s.place(5, 8)).toEqual({ offset: 0x1008, vaddr: 0x401008n });
    expect(s.place(3, 16, 4)).toEqual({ offset: 0x1014, vaddr: 0x401014n });
    expect(s.place(0, 1)).toEqual({ offset: 0x1017, vaddr: 0x401017n });
    expect(s.end).toBe(0x1017);
  });
});
