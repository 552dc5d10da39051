const utf8 = new TextEncoder();

/**
 * Builds a string table (.dynstr, .shstrtab) in two phases: `add` every string, then
 * `finish` lays the table out once, and `offsetOf` answers for each string. A string that
 * ends another one is not stored again but points into that one's tail (tail merging), as
 * linkers do. Offset 0 is the empty string. The layout depends only on the set of strings,
 * not on the order they were added in.
 */
export class StringTableBuilder {
  private readonly strings = new Map<string, Uint8Array>();
  private offsets: Map<string, number> | null = null;
  private table: Uint8Array | null = null;

  /** Adds a string (not containing NUL); adding one twice stores it once. `encoded`: its UTF-8 bytes, when the caller has them. */
  add(s: string, encoded?: Uint8Array): void {
    if (this.table) throw new Error("StringTableBuilder: add after finish");
    if (this.strings.has(s)) return;
    const bytes = encoded ?? utf8.encode(s);
    if (bytes.includes(0)) throw new Error(`a string table entry cannot contain NUL: ${JSON.stringify(s)}`);
    this.strings.set(s, bytes);
  }

  /** Lays the table out: longest-suffix order, so each string that ends another shares its bytes. */
  finish(): Uint8Array {
    if (this.table) return this.table;
    // Sorted by reversed bytes, descending: a string comes right after every string it ends.
    // Most comparisons are settled by a number made of the last six bytes (no NUL in a
    // string, so a shorter tail pads with zeros and sorts first, as the bytes would).
    const entries = [...this.strings.entries()].filter(([s]) => s !== "").map(([s, bytes]) => ({ s, bytes, key: tailKey(bytes, 0), key2: tailKey(bytes, 6) }));
    entries.sort((a, b) => b.key - a.key || b.key2 - a.key2 || compareReversed(b.bytes, a.bytes));
    const offsets = new Map<string, number>([["", 0]]);
    const kept: { bytes: Uint8Array; offset: number }[] = [];
    let size = 1;
    let prev: { bytes: Uint8Array; offset: number } | null = null;
    for (const { s, bytes } of entries) {
      if (prev && endsWith(prev.bytes, bytes)) {
        offsets.set(s, prev.offset + prev.bytes.length - bytes.length);
        continue;
      }
      offsets.set(s, size);
      prev = { bytes, offset: size };
      kept.push(prev);
      size += bytes.length + 1;
    }
    const table = new Uint8Array(size);
    for (const k of kept) table.set(k.bytes, k.offset);
    this.offsets = offsets;
    this.table = table;
    return table;
  }

  offsetOf(s: string): number {
    if (!this.offsets) throw new Error("StringTableBuilder: offsetOf before finish");
    const o = this.offsets.get(s);
    if (o === undefined) throw new Error(`StringTableBuilder: ${JSON.stringify(s)} was not added`);
    return o;
  }
}

/** Six bytes counted from the end, after `skip`, last first, as one number (zeros for missing bytes). */
function tailKey(b: Uint8Array, skip: number): number {
  let key = 0;
  for (let i = skip; i < skip + 6; i++) key = key * 256 + (i < b.length ? b[b.length - 1 - i]! : 0);
  return key;
}

/** Compares byte strings from their last byte backwards; a string is less than any it ends. */
function compareReversed(a: Uint8Array, b: Uint8Array): number {
  for (let i = a.length - 1, j = b.length - 1; i >= 0 && j >= 0; i--, j--) {
    if (a[i] !== b[j]) return a[i]! - b[j]!;
  }
  return a.length - b.length;
}

function endsWith(whole: Uint8Array, tail: Uint8Array): boolean {
  if (tail.length > whole.length) return false;
  const d = whole.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (whole[d + i] !== tail[i]) return false;
  return true;
}
