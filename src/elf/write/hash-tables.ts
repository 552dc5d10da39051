import { Encoder } from "./encoder.js";

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

/** The shape of a DT_GNU_HASH table: its four header words. */
export interface GnuHashShape {
  nbuckets: number;
  /** Symbols below this index are not hashed (undefined and local ones). */
  symoffset: number;
  /** Bloom filter words (a power of two). */
  bloomSize: number;
  /** The second bloom bit's shift. */
  shift: number;
}

/**
 * A shape for `hashed` symbols, as lld chooses it: about four symbols a bucket, a bloom
 * filter of 12 bits a symbol rounded up to a power of two words.
 */
export function gnuHashShape(symoffset: number, hashed: number, is64: boolean): GnuHashShape {
  const bits = is64 ? 64 : 32;
  let bloomSize = 1;
  while (bloomSize * bits < hashed * 12) bloomSize *= 2;
  return { nbuckets: Math.max(1, Math.floor(hashed / 4)), symoffset, bloomSize, shift: 26 };
}

/**
 * The order ld.so's GNU hash lookup needs: symbols from `symoffset` on grouped by bucket
 * (stable, so symbols of one bucket keep their relative order). Returns old indexes in
 * their new order; `names[i]` is symbol i's name.
 */
export function gnuHashOrder(names: readonly Uint8Array[], shape: GnuHashShape): number[] {
  const order = Array.from({ length: names.length }, (_, i) => i);
  // Each name hashed once, not once per comparison.
  const buckets = names.map((n, i) => (i < shape.symoffset ? 0 : gnuHash(n) % shape.nbuckets));
  const hashed = order.slice(shape.symoffset).sort((a, b) => buckets[a]! - buckets[b]! || a - b);
  hashed.forEach((x, k) => (order[shape.symoffset + k] = x));
  return order;
}

/**
 * A DT_GNU_HASH table for a symbol table whose names are `names`, in table order, already
 * grouped by bucket from `symoffset` on (gnuHashOrder): header, bloom filter, buckets, chains.
 * `hashes`, when given, holds gnuHash of each name (the caller had them).
 */
export function buildGnuHash(names: readonly Uint8Array[], shape: GnuHashShape, is64: boolean, little: boolean, hashes?: ArrayLike<number>): Uint8Array {
  const count = names.length;
  const word = is64 ? 8 : 4;
  const bits = word * 8;
  const bytes = new Uint8Array(16 + shape.bloomSize * word + shape.nbuckets * 4 + Math.max(0, count - shape.symoffset) * 4);
  const e = new Encoder(bytes, little);
  const view = new DataView(bytes.buffer);
  e.u32(0, shape.nbuckets);
  e.u32(4, shape.symoffset);
  e.u32(8, shape.bloomSize);
  e.u32(12, shape.shift);
  // The bloom filter as 32-bit halves (low word first), set bit by bit: no BigInt per symbol.
  const halves = word / 4;
  const bloom = new Uint32Array(shape.bloomSize * halves);
  const setBit = (w: number, bit: number) => (bloom[w * halves + (bit >>> 5)]! |= 1 << (bit & 31));
  const bucketsAt = 16 + shape.bloomSize * word;
  const chainsAt = bucketsAt + shape.nbuckets * 4;
  const hashOf = hashes ? (i: number) => hashes[i]! : (i: number) => gnuHash(names[i]!);
  let h = count > shape.symoffset ? hashOf(shape.symoffset) : 0;
  for (let i = shape.symoffset; i < count; i++) {
    if (shape.bloomSize > 0) {
      const w = Math.floor(h / bits) % shape.bloomSize;
      setBit(w, h % bits);
      setBit(w, (h >>> shape.shift) % bits);
    }
    const b = h % shape.nbuckets;
    // A bucket holds the first (lowest) index of its run; 0 means not set yet.
    if (view.getUint32(bucketsAt + b * 4, little) === 0) e.u32(bucketsAt + b * 4, i);
    const next = i + 1 < count ? hashOf(i + 1) : 0;
    const last = i + 1 === count || next % shape.nbuckets !== b;
    e.u32(chainsAt + (i - shape.symoffset) * 4, last ? (h | 1) >>> 0 : (h & ~1) >>> 0);
    h = next;
  }
  for (let i = 0; i < shape.bloomSize; i++) {
    if (is64) e.u64(16 + i * 8, (BigInt(bloom[i * 2 + 1]!) << 32n) | BigInt(bloom[i * 2]!));
    else e.u32(16 + i * 4, bloom[i]!);
  }
  return bytes;
}

/**
 * A DT_HASH table with `nbucket` buckets for names in table order (entry 0 is the null
 * symbol). `entrySize` is 8 on s390x and Alpha, 4 elsewhere.
 */
export function buildSysvHash(names: readonly Uint8Array[], nbucket: number, entrySize: 4 | 8, little: boolean): Uint8Array {
  const count = names.length;
  const w = entrySize;
  const bytes = new Uint8Array((2 + nbucket + count) * w);
  const e = new Encoder(bytes, little);
  const view = new DataView(bytes.buffer);
  const put = (i: number, v: number) => (w === 8 ? e.u64(i * w, BigInt(v)) : e.u32(i * w, v));
  const get = (i: number) => (w === 8 ? Number(view.getBigUint64(i * w, little)) : view.getUint32(i * w, little));
  put(0, nbucket);
  put(1, count);
  // Insert in reverse so each chain lists symbols in index order, as linkers do.
  for (let i = count - 1; i >= 1; i--) {
    const b = sysvHash(names[i]!) % nbucket;
    put(2 + nbucket + i, get(2 + b));
    put(2 + b, i);
  }
  return bytes;
}
