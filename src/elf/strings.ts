import { decodeString, type ByteSource } from "./bytes.js";
import { MalformedError } from "./errors.js";

const CHUNK = 256;
/** Single-byte: every byte is one character, so offsets carry over. */
const latin1 = new TextDecoder("latin1");
const NON_ASCII = /[^\x00-\x7f]/;
/** Tables up to this size are read whole at once. */
const SMALL = 64 * 1024;
/** After this many look-ups the whole table is read once (symbol names come in hash order). */
const MANY = 32;

/**
 * A string table (`.dynstr`): NUL-terminated strings addressed by offset. A large table
 * is read string by string while only a few are wanted, so finding four NEEDED names in
 * a library with a 10 MB `.dynstr` reads a few hundred bytes; once many are wanted (all
 * symbol names), it is read whole, once.
 */
export class StringTable {
  constructor(
    private readonly source: ByteSource,
    /** File offset of the table; the caller has checked that `size` bytes fit in the file. */
    readonly fileOffset: number,
    readonly size: number,
    readonly what = "string table",
  ) {}

  private whole: Uint8Array | null = null;
  private lookups = 0;
  /** The whole table as Latin-1 text (one character per byte), made once many strings are wanted. */
  private text: string | null = null;
  /** Whether the whole table is ASCII, so that its Latin-1 text is also its UTF-8 text. */
  private ascii = false;

  /** The raw bytes of the string at `offset`, without the NUL; `referencedAt` names the field that pointed here. */
  raw(offset: number, referencedAt?: number): Uint8Array {
    const whole = this.lookUp(offset, referencedAt);
    return whole ? whole.subarray(offset, this.end(whole, offset)) : this.piecewise(offset);
  }

  /** The string at `offset` read a chunk at a time, for a table not read whole. */
  private piecewise(offset: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let at = offset; at < this.size; ) {
      const n = Math.min(CHUNK, this.size - at);
      const chunk = this.source.read(this.fileOffset + at, n);
      const nul = chunk.indexOf(0);
      if (nul >= 0) {
        if (parts.length === 0) return chunk.subarray(0, nul);
        parts.push(chunk.subarray(0, nul));
        total += nul;
        const out = new Uint8Array(total);
        let o = 0;
        for (const p of parts) {
          out.set(p, o);
          o += p.length;
        }
        return out;
      }
      parts.push(chunk);
      total += n;
      at += n;
    }
    throw new MalformedError(`${this.what} has no terminating NUL after offset ${offset}`, this.fileOffset + offset);
  }

  get(offset: number, referencedAt?: number): string {
    const whole = this.lookUp(offset, referencedAt);
    if (!whole) {
      const b = this.piecewise(offset);
      return decodeString(b, 0, b.length);
    }
    // Once the table is in memory, names are cut out of one decoded copy: a substring
    // costs less than decoding each name (a large library has tens of thousands).
    // Byte offsets are character offsets in Latin-1; a name with non-ASCII bytes is
    // decoded as UTF-8 on its own.
    const end = this.end(whole, offset);
    if (this.text === null) {
      // A few look-ups (NEEDED, SONAME) decode their own bytes; the copy pays from the MANY-th.
      if (this.lookups <= MANY) return decodeString(whole, offset, end);
      this.text = latin1.decode(whole);
      this.ascii = !NON_ASCII.test(this.text);
    }
    const s = this.text.substring(offset, end);
    return this.ascii || !NON_ASCII.test(s) ? s : decodeString(whole, offset, end);
  }

  /** Checks `offset` and counts the look-up; returns the whole table once it is worth reading (small, or asked for often), else null. */
  private lookUp(offset: number, referencedAt?: number): Uint8Array | null {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.size) {
      throw new MalformedError(
        `${this.what} offset ${offset} is past its end (${this.size} bytes)`,
        referencedAt ?? this.fileOffset,
      );
    }
    this.lookups++;
    if (!this.whole && (this.size <= SMALL || this.lookups > MANY)) {
      this.whole = this.source.read(this.fileOffset, this.size);
    }
    return this.whole;
  }

  /** Where the string at `offset` ends (its NUL) in the whole table. */
  private end(whole: Uint8Array, offset: number): number {
    const end = whole.indexOf(0, offset);
    if (end < 0) {
      throw new MalformedError(`${this.what} has no terminating NUL after offset ${offset}`, this.fileOffset + offset);
    }
    return end;
  }
}
