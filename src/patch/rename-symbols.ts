import {
  DT_GNU_HASH,
  DT_HASH,
  DT_JMPREL,
  DT_PLTREL,
  DT_PLTRELSZ,
  DT_REL,
  DT_RELA,
  DT_RELASZ,
  DT_RELENT,
  DT_RELAENT,
  DT_RELSZ,
  DT_VERSYM,
  EM_ALPHA,
  EM_MIPS,
  EM_S390,
  Encoder,
  type ElfFile,
} from "../elf/index.js";
import type { PlannedWrite } from "./plan.js";

/** The GNU hash of a name (dl_new_hash). */
export function gnuHash(name: Uint8Array): number {
  let h = 5381;
  for (const c of name) h = (Math.imul(h, 33) + c) >>> 0;
  return h;
}

/** The System V hash of a name (elf_hash). */
export function sysvHash(name: Uint8Array): number {
  let h = 0;
  for (const c of name) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
    h >>>= 0;
  }
  return h;
}

export class RenameError extends Error {}

/**
 * The writes that rename dynamic symbols: new st_name values, and the hash tables rebuilt
 * for the new names. When new names move symbols to other GNU hash buckets, the hashed
 * part of .dynsym is reordered by bucket, and .gnu.version and every relocation's symbol
 * index follow. `newName` gives the new name's bytes and its offset in the (final) string
 * table for each renamed index.
 */
export function renameSymbolWrites(elf: ElfFile, renamed: Map<number, { bytes: Uint8Array; offset: number }>): PlannedWrite[] {
  if (elf.header.e_machine === EM_MIPS) throw new RenameError("renaming symbols is not supported on MIPS (its GOT follows .dynsym's order)");
  const is64 = elf.is64;
  const little = elf.little;
  const table = elf.dynamicSymbolTable;
  if (!table) throw new RenameError("has no dynamic symbol table");
  const { offset: symOff, count, entsize } = table;
  const syms = Uint8Array.from(elf.readAt(symOff, count * entsize, "dynamic symbol table").bytes);
  const strings = elf.dynamicStrings;
  const names: Uint8Array[] = [];
  const nameOffs = elf.symbolNameOffsets();
  for (let i = 0; i < count; i++) names.push(renamed.get(i)?.bytes ?? (i === 0 ? new Uint8Array() : strings.raw(nameOffs[i]!)));
  const enc = new Encoder(syms, little);
  for (const [i, r] of renamed) enc.u32(i * entsize, r.offset);

  // New order: with a GNU hash table, symbols from symoffset on sorted by bucket (stable).
  const order = Array.from({ length: count }, (_, i) => i);
  const writes: PlannedWrite[] = [];
  const gnuAddr = elf.dynamicValue(DT_GNU_HASH);
  let gnu: { at: number; nbuckets: number; symoffset: number; bloomSize: number; shift: number } | null = null;
  if (gnuAddr !== undefined) {
    const at = elf.addressToOffset(gnuAddr, 16, "DT_GNU_HASH");
    const h = elf.readAt(at, 16, "DT_GNU_HASH");
    gnu = { at, nbuckets: h.u32(0), symoffset: h.u32(4), bloomSize: h.u32(8), shift: h.u32(12) };
    if (gnu.nbuckets === 0 || gnu.symoffset > count) throw new RenameError("DT_GNU_HASH is empty or inconsistent");
    // A table whose buckets are all empty hashes nothing (no defined symbols; linkers then
    // write no chains even though symoffset < count): renames there need no rehash.
    const word = is64 ? 8 : 4;
    const buckets = elf.readAt(at + 16 + gnu.bloomSize * word, gnu.nbuckets * 4, "DT_GNU_HASH buckets");
    let any = false;
    for (let b = 0; b < gnu.nbuckets && !any; b++) any = buckets.u32(b * 4) !== 0;
    if (!any) gnu = null;
  }
  if (gnu) {
    const g = gnu;
    const bucket = (i: number) => gnuHash(names[i]!) % g.nbuckets;
    const hashed = order.slice(g.symoffset).sort((a, b) => bucket(a) - bucket(b) || a - b);
    order.splice(g.symoffset, hashed.length, ...hashed);
  }
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
    const relocTables: [number, number, number, boolean][] = [];
    const val = (t: number) => elf.dynamicValue(t);
    if (val(DT_RELA) !== undefined) relocTables.push([DT_RELA, DT_RELASZ, DT_RELAENT, true]);
    if (val(DT_REL) !== undefined) relocTables.push([DT_REL, DT_RELSZ, DT_RELENT, false]);
    const seen = new Set<string>();
    for (const [addrTag, sizeTag, entTag, rela] of relocTables) {
      const addr = val(addrTag)!;
      const size = Number(val(sizeTag) ?? 0n);
      const ent = Number(val(entTag) ?? BigInt(is64 ? (rela ? 24 : 16) : rela ? 12 : 8));
      seen.add(`${addr}`);
      writes.push(...remapRelocations(elf, addr, size, ent, newIndex));
    }
    const jmprel = val(DT_JMPREL);
    if (jmprel !== undefined && !seen.has(`${jmprel}`)) {
      const rela = Number(val(DT_PLTREL) ?? BigInt(DT_RELA)) === DT_RELA;
      writes.push(...remapRelocations(elf, jmprel, Number(val(DT_PLTRELSZ) ?? 0n), is64 ? (rela ? 24 : 16) : rela ? 12 : 8, newIndex));
    }
  }

  // GNU hash: bloom filter, buckets and chains for the new names and order.
  if (gnu) {
    const word = is64 ? 8 : 4;
    const bits = word * 8;
    const bytes = new Uint8Array(16 + gnu.bloomSize * word + gnu.nbuckets * 4 + (count - gnu.symoffset) * 4);
    const e = new Encoder(bytes, little);
    const view = new DataView(bytes.buffer);
    e.u32(0, gnu.nbuckets);
    e.u32(4, gnu.symoffset);
    e.u32(8, gnu.bloomSize);
    e.u32(12, gnu.shift);
    const bloom = Array.from({ length: gnu.bloomSize }, () => 0n);
    const bucketsAt = 16 + gnu.bloomSize * word;
    const chainsAt = bucketsAt + gnu.nbuckets * 4;
    for (let now = gnu.symoffset; now < count; now++) {
      const h = gnuHash(names[order[now]!]!);
      if (gnu.bloomSize > 0) {
        const w = Math.floor(h / bits) % gnu.bloomSize;
        bloom[w]! |= (1n << BigInt(h % bits)) | (1n << BigInt((h >>> gnu.shift) % bits));
      }
      const b = h % gnu.nbuckets;
      // A bucket holds the first (lowest) index of its run; 0 means not set yet.
      if (view.getUint32(bucketsAt + b * 4, little) === 0) e.u32(bucketsAt + b * 4, now);
      const last = now + 1 === count || gnuHash(names[order[now + 1]!]!) % gnu.nbuckets !== b;
      e.u32(chainsAt + (now - gnu.symoffset) * 4, last ? (h | 1) >>> 0 : (h & ~1) >>> 0);
    }
    bloom.forEach((w, i) => (is64 ? e.u64(16 + i * 8, w) : e.u32(16 + i * 4, Number(w & 0xffffffffn))));
    writes.push({ offset: gnu.at, bytes, what: ".gnu.hash (rebuilt)" });
  }

  // System V hash: same sizes, chains rebuilt.
  const sysvAddr = elf.dynamicValue(DT_HASH);
  if (sysvAddr !== undefined) {
    const wide = is64 && (elf.header.e_machine === EM_S390 || elf.header.e_machine === EM_ALPHA);
    const w = wide ? 8 : 4;
    const at = elf.addressToOffset(sysvAddr, 2 * w, "DT_HASH");
    const h = elf.readAt(at, 2 * w, "DT_HASH");
    const nbucket = wide ? Number(h.u64(0)) : h.u32(0);
    const nchain = wide ? Number(h.u64(w)) : h.u32(w);
    if (nbucket === 0 || nchain !== count) throw new RenameError("DT_HASH does not match the symbol table");
    const bytes = new Uint8Array((2 + nbucket + nchain) * w);
    const e = new Encoder(bytes, little);
    const put = (i: number, v: number) => (wide ? e.u64(i * w, BigInt(v)) : e.u32(i * w, v));
    const get = (i: number) => (wide ? Number(new DataView(bytes.buffer).getBigUint64(i * w, little)) : new DataView(bytes.buffer).getUint32(i * w, little));
    put(0, nbucket);
    put(1, nchain);
    // Insert in reverse so each chain lists symbols in index order, as linkers do.
    for (let now = count - 1; now >= 1; now--) {
      const b = sysvHash(names[order[now]!]!) % nbucket;
      put(2 + nbucket + now, get(2 + b));
      put(2 + b, now);
    }
    writes.push({ offset: at, bytes, what: ".hash (rebuilt)" });
  }
  return writes;
}

function remapRelocations(elf: ElfFile, addr: bigint, size: number, ent: number, newIndex: Uint32Array): PlannedWrite[] {
  if (size === 0) return [];
  const is64 = elf.is64;
  const at = elf.addressToOffset(addr, size, "relocation table");
  const d = elf.readAt(at, size, "relocation table");
  const bytes = Uint8Array.from(d.bytes);
  const e = new Encoder(bytes, elf.little);
  let changed = false;
  for (let o = 0; o + ent <= size; o += ent) {
    if (is64) {
      const info = d.u64(o + 8);
      const sym = Number(info >> 32n);
      if (sym !== 0 && sym < newIndex.length && newIndex[sym] !== sym) {
        e.u64(o + 8, (BigInt(newIndex[sym]!) << 32n) | (info & 0xffffffffn));
        changed = true;
      }
    } else {
      const info = d.u32(o + 4);
      const sym = info >>> 8;
      if (sym !== 0 && sym < newIndex.length && newIndex[sym] !== sym) {
        e.u32(o + 4, ((newIndex[sym]! << 8) | (info & 0xff)) >>> 0);
        changed = true;
      }
    }
  }
  return changed ? [{ offset: at, bytes, what: "relocations (symbol indexes)" }] : [];
}
