// The planner's second step: where each new string goes in .dynstr. A string the table
// already holds (whole, or as the tail of another) is reused; then space this patch frees;
// only the rest is appended, which makes the table grow and the layout step run.
import type { ElfFile } from "../elf/index.js";
import { PatchError } from "../errors.js";
import type { DynamicTable, EditModel } from "./model.js";
import { STRING_TAGS } from "../elf/index.js";

/** Where the strings go. `inPlace` writes are offsets in the table; `appended` follow its old end. */
export interface StringPlan {
  /** File offset of the table as it is. */
  fileOffset: number;
  oldSize: number;
  newSize: number;
  /** Each string's offset in the new table. */
  offsets: Map<string, number>;
  inPlace: { offset: number; bytes: Uint8Array }[];
  appended: Uint8Array[];
  /** The strings this patch drops, as ranges of the table as it is (cleared where the old table stays behind). */
  dropped: { start: number; end: number }[];
  /** The whole new table (old bytes with the in-place writes, then the appended strings). */
  image: () => Uint8Array;
}

const utf8 = new TextEncoder();

export function placeStrings(elf: ElfFile, dyn: DynamicTable, m: EditModel): StringPlan {
  const { slots, verneed, renames } = m;
  const table = elf.dynamicStrings;
  const bytes = elf.source.read(table.fileOffset, table.size);
  const image = Uint8Array.from(bytes);

  // Every reference into the table that stays.
  const kept: number[] = [];
  for (const s of slots) if (s.strOff !== undefined) kept.push(s.strOff);
  const names = elf.symbolNameOffsets();
  for (let i = 0; i < names.length; i++) if (!renames.has(i)) kept.push(names[i]!);
  for (const d of elf.versionDefinitions) kept.push(...d.nameOffsets);
  for (const v of verneed) {
    if (v.removed) continue;
    kept.push(...v.nameOffs);
    if (v.rename === undefined) kept.push(v.fileOff);
  }
  const sortedKept = Uint32Array.from(kept).sort();
  const referenced = (from: number, to: number) => {
    // Any kept reference in [from, to]?
    let lo = 0;
    let hi = sortedKept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sortedKept[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    return lo < sortedKept.length && sortedKept[lo]! <= to;
  };

  // Space freed by this patch: whole strings (from the previous NUL) nothing else points into.
  // Reused only when every tag in the dynamic table is known, so no reference is missed.
  const allKnown = dyn.entries.every((e) => e.d_tag < 0x6000000dn || e.d_tag >= 0x6ffff000n);
  const free: { start: number; end: number }[] = [];
  if (allKnown) {
    const dropped = new Set<number>();
    for (const e of dyn.entries) if (STRING_TAGS.has(e.d_tag)) dropped.add(Number(e.d_val));
    for (const v of verneed) if (v.removed || v.rename !== undefined) dropped.add(v.fileOff);
    for (const i of renames.keys()) dropped.add(names[i]!);
    for (const s of slots) if (s.strOff !== undefined) dropped.delete(s.strOff);
    for (const off of dropped) {
      if (off <= 0 || off >= bytes.length) continue;
      const end = bytes.indexOf(0, off);
      if (end < 0) continue;
      const start = bytes.lastIndexOf(0, off - 1) + 1;
      if (start === 0 || referenced(start, end)) continue;
      if (!free.some((f) => f.start === start)) free.push({ start, end: end + 1 });
    }
    free.sort((x, y) => x.start - y.start);
    // Neighbouring freed strings make one larger hole.
    for (let i = free.length - 1; i > 0; i--) {
      if (free[i - 1]!.end === free[i]!.start) {
        free[i - 1]!.end = free[i]!.end;
        free.splice(i, 1);
      }
    }
  }
  const inFree = (from: number, to: number) => free.some((f) => from < f.end && to > f.start);
  const dropped = free.map((f) => ({ ...f }));

  // The strings to place, longest first (best use of holes).
  const wanted = new Set<string>();
  for (const s of slots) if (s.str !== undefined && s.strOff === undefined) wanted.add(s.str);
  for (const v of verneed) if (!v.removed && v.rename !== undefined) wanted.add(v.rename);
  for (const n of renames.values()) wanted.add(n);
  const offsets = new Map<string, number>();
  const appended: Uint8Array[] = [];
  let appendAt = bytes.length;
  const inPlace: { offset: number; bytes: Uint8Array }[] = [];
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const str of [...wanted].sort((x, y) => y.length - x.length)) {
    const enc = utf8.encode(str + "\0");
    if (enc.indexOf(0) !== enc.length - 1) throw new PatchError(`a name cannot contain a NUL byte: ${JSON.stringify(str)}`);
    // 1. Already in the table (a whole string or the tail of one), outside the freed space.
    let found = -1;
    for (let at = buf.indexOf(enc); at >= 0 && found < 0; at = buf.indexOf(enc, at + 1)) {
      if (!inFree(at, at + enc.length)) found = at;
    }
    // 2. A freed hole.
    if (found < 0) {
      const hole = free.find((f) => f.end - f.start >= enc.length);
      if (hole) {
        found = hole.start;
        hole.start += enc.length;
        image.set(enc, found);
        inPlace.push({ offset: found, bytes: enc });
      }
    }
    // 3. Appended to a moved table.
    if (found < 0) {
      found = appendAt;
      appended.push(enc);
      appendAt += enc.length;
    }
    offsets.set(str, found);
  }
  // Leftover holes are cleared, so no stale path stays readable in the file.
  for (const f of free) {
    if (f.end > f.start) {
      const zeros = new Uint8Array(f.end - f.start);
      image.set(zeros, f.start);
      inPlace.push({ offset: f.start, bytes: zeros });
    }
  }
  const newSize = appendAt;
  return {
    fileOffset: table.fileOffset,
    oldSize: bytes.length,
    newSize,
    offsets,
    inPlace,
    appended,
    dropped,
    image: () => {
      const out = new Uint8Array(newSize);
      out.set(image);
      out.set(concat(appended), bytes.length);
      return out;
    },
  };
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
