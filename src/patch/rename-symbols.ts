import {
  DT_GNU_HASH,
  DT_HASH,
  DT_VERSYM,
  EM_ALPHA,
  EM_MIPS,
  EM_S390,
  dynamicRelocationTables,
  packRelocationInfo,
  relLayout,
  relocationInfo,
  symbolLayout,
  type ElfFile,
} from "../elf/index.js";
import { Encoder, buildGnuHash, buildSysvHash, gnuHashOrder, type GnuHashShape } from "../elf/write/index.js";
import { PatchError } from "../errors.js";
import type { PlannedWrite } from "./model.js";

/**
 * The writes that rename dynamic symbols: new st_name values, and the hash tables rebuilt
 * for the new names. When new names move symbols to other GNU hash buckets, the hashed
 * part of .dynsym is reordered by bucket, and .gnu.version and every relocation's symbol
 * index follow. `renamed` gives the new name's bytes and its offset in the (final) string
 * table for each renamed index.
 */
export function renameSymbolWrites(elf: ElfFile, renamed: Map<number, { bytes: Uint8Array; offset: number }>): PlannedWrite[] {
  if (elf.header.e_machine === EM_MIPS) throw new PatchError("renaming symbols is not supported on MIPS (its GOT follows .dynsym's order)");
  const is64 = elf.is64;
  const little = elf.little;
  const table = elf.dynamicSymbolTable;
  if (!table) throw new PatchError("has no dynamic symbol table");
  const { offset: symOff, count, entsize } = table;
  const syms = Uint8Array.from(elf.readAt(symOff, count * entsize, "dynamic symbol table").bytes);
  const strings = elf.dynamicStrings;
  const names: Uint8Array[] = [];
  const nameOffs = elf.symbolNameOffsets();
  for (let i = 0; i < count; i++) names.push(renamed.get(i)?.bytes ?? (i === 0 ? new Uint8Array() : strings.raw(nameOffs[i]!)));
  const enc = new Encoder(syms, little);
  const st_name = symbolLayout(is64).offset.st_name;
  for (const [i, r] of renamed) enc.u32(i * entsize + st_name, r.offset);

  // New order: with a GNU hash table, symbols from symoffset on sorted by bucket (stable).
  let order = Array.from({ length: count }, (_, i) => i);
  const writes: PlannedWrite[] = [];
  const gnuAddr = elf.dynamicValue(DT_GNU_HASH);
  let gnu: (GnuHashShape & { at: number }) | null = null;
  if (gnuAddr !== undefined) {
    const at = elf.addressToOffset(gnuAddr, 16, "DT_GNU_HASH");
    const h = elf.readAt(at, 16, "DT_GNU_HASH");
    gnu = { at, nbuckets: h.u32(0), symoffset: h.u32(4), bloomSize: h.u32(8), shift: h.u32(12) };
    if (gnu.nbuckets === 0 || gnu.symoffset > count) throw new PatchError("DT_GNU_HASH is empty or inconsistent");
    // A table whose buckets are all empty hashes nothing (no defined symbols; linkers then
    // write no chains even though symoffset < count): renames there need no rehash.
    const word = is64 ? 8 : 4;
    const buckets = elf.readAt(at + 16 + gnu.bloomSize * word, gnu.nbuckets * 4, "DT_GNU_HASH buckets");
    let any = false;
    for (let b = 0; b < gnu.nbuckets && !any; b++) any = buckets.u32(b * 4) !== 0;
    if (!any) gnu = null;
  }
  if (gnu) order = gnuHashOrder(names, gnu);
  const ordered = order.map((old) => names[old]!);
  const newIndex = new Uint32Array(count);
  order.forEach((old, now) => (newIndex[old] = now));
  const moved = order.some((old, now) => old !== now);

  // .dynsym in the new order.
  const out = new Uint8Array(syms.length);
  order.forEach((old, now) => out.set(syms.subarray(old * entsize, (old + 1) * entsize), now * entsize));
  writes.push({ offset: symOff, bytes: out, what: ".dynsym (renamed symbols)" });

  if (moved) {
    // .gnu.version follows.
    const versymAddr = elf.dynamicValue(DT_VERSYM);
    if (versymAddr !== undefined) {
      const at = elf.addressToOffset(versymAddr, count * 2, "DT_VERSYM");
      const v = elf.readAt(at, count * 2, "DT_VERSYM").bytes;
      const nv = new Uint8Array(count * 2);
      order.forEach((old, now) => nv.set(v.subarray(old * 2, old * 2 + 2), now * 2));
      writes.push({ offset: at, bytes: nv, what: ".gnu.version (reordered)" });
    }
    // Every relocation names its symbol by index.
    for (const t of dynamicRelocationTables(elf)) writes.push(...remapRelocations(elf, t.address, t.size, t.entsize, newIndex));
  }

  // GNU hash: bloom filter, buckets and chains for the new names and order.
  if (gnu) writes.push({ offset: gnu.at, bytes: buildGnuHash(ordered, gnu, is64, little), what: ".gnu.hash (rebuilt)" });

  // System V hash: same sizes, chains rebuilt.
  const sysvAddr = elf.dynamicValue(DT_HASH);
  if (sysvAddr !== undefined) {
    const wide = is64 && (elf.header.e_machine === EM_S390 || elf.header.e_machine === EM_ALPHA);
    const w = wide ? 8 : 4;
    const at = elf.addressToOffset(sysvAddr, 2 * w, "DT_HASH");
    const h = elf.readAt(at, 2 * w, "DT_HASH");
    const nbucket = wide ? Number(h.u64(0)) : h.u32(0);
    const nchain = wide ? Number(h.u64(w)) : h.u32(w);
    if (nbucket === 0 || nchain !== count) throw new PatchError("DT_HASH does not match the symbol table");
    writes.push({ offset: at, bytes: buildSysvHash(ordered, nbucket, w, little), what: ".hash (rebuilt)" });
  }
  return writes;
}

/** The relocation table at `addr` with every symbol index mapped through `newIndex`, or nothing when none changes. */
function remapRelocations(elf: ElfFile, addr: bigint, size: number, ent: number, newIndex: Uint32Array): PlannedWrite[] {
  if (size === 0) return [];
  const is64 = elf.is64;
  const at = elf.addressToOffset(addr, size, "relocation table");
  const d = elf.readAt(at, size, "relocation table");
  const bytes = Uint8Array.from(d.bytes);
  const e = new Encoder(bytes, elf.little);
  const infoAt = relLayout(is64).offset.r_info;
  let changed = false;
  for (let o = 0; o + ent <= size; o += ent) {
    const info = d.word(o + infoAt, is64);
    const { sym, type } = relocationInfo(info, is64);
    if (sym !== 0 && sym < newIndex.length && newIndex[sym] !== sym) {
      e.word(o + infoAt, packRelocationInfo(newIndex[sym]!, type, is64), is64);
      changed = true;
    }
  }
  return changed ? [{ offset: at, bytes, what: "relocations (symbol indexes)" }] : [];
}
