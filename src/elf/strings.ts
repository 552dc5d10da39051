import { decodeString } from "./bytes.js";
import { MalformedError } from "./errors.js";

/** A string table (`.dynstr`, `.shstrtab`): NUL-terminated strings addressed by offset. */
export class StringTable {
  constructor(
    readonly bytes: Uint8Array,
    /** File offset of bytes[0], for error messages. */
    readonly fileOffset: number,
    readonly what = "string table",
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  /** End (exclusive) of the string at `offset`; `referencedAt` names the field that pointed here. */
  end(offset: number, referencedAt?: number): number {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.bytes.length) {
      throw new MalformedError(
        `${this.what} offset ${offset} is past its end (${this.bytes.length} bytes)`,
        referencedAt ?? this.fileOffset,
      );
    }
    const end = this.bytes.indexOf(0, offset);
    if (end < 0) {
      throw new MalformedError(`${this.what} has no terminating NUL after offset ${offset}`, this.fileOffset + offset);
    }
    return end;
  }

  get(offset: number, referencedAt?: number): string {
    return decodeString(this.bytes, offset, this.end(offset, referencedAt));
  }

  /** The raw bytes of the string at `offset`, without the NUL. */
  raw(offset: number, referencedAt?: number): Uint8Array {
    return this.bytes.subarray(offset, this.end(offset, referencedAt));
  }
}
