import { MalformedError, TruncatedError } from "./errors.js";

/**
 * Random access to the bytes of one file. The reader asks only for the ranges it
 * needs, so a source backed by a file descriptor never has to hold the whole file.
 * `read` is called only with ranges already checked against `size`.
 */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

/** A source over bytes already in memory. */
export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }
}

/**
 * Converts a file offset or size taken from the file into a number, rejecting values
 * that lie past the end of the file (and therefore anything above 2^53).
 */
export function checkedRange(
  offset: bigint | number,
  length: bigint | number,
  fileSize: number,
  what: string,
): { offset: number; length: number } {
  const o = BigInt(offset);
  const l = BigInt(length);
  if (o < 0n || l < 0n || o + l > BigInt(fileSize)) {
    const at = o >= 0n && o <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(o) : undefined;
    throw new TruncatedError(
      `${what} (${l} bytes at 0x${o.toString(16)}) extends past the end of the file (${fileSize} bytes)`,
      at,
    );
  }
  return { offset: Number(o), length: Number(l) };
}

/** Converts a value from the file to a number when it must be a count or size, not an address. */
export function checkedNumber(value: bigint, what: string, offset?: number): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MalformedError(`${what} is out of range: ${value}`, offset);
  }
  return Number(value);
}

/**
 * Fixed-endian view of a byte range taken from the file. `base` is the file offset
 * of `bytes[0]`, so that errors name file offsets, not offsets in the slice.
 */
export class Decoder {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly little: boolean,
    readonly base = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.bytes.length;
  }
  private check(at: number, width: number): void {
    if (at < 0 || at + width > this.bytes.length || !Number.isInteger(at)) {
      throw new TruncatedError(`read of ${width} bytes past the end of a table`, this.base + at);
    }
  }
  u8(at: number): number {
    this.check(at, 1);
    return this.bytes[at]!;
  }
  u16(at: number): number {
    this.check(at, 2);
    return this.view.getUint16(at, this.little);
  }
  u32(at: number): number {
    this.check(at, 4);
    return this.view.getUint32(at, this.little);
  }
  u64(at: number): bigint {
    this.check(at, 8);
    return this.view.getBigUint64(at, this.little);
  }
  i64(at: number): bigint {
    this.check(at, 8);
    return this.view.getBigInt64(at, this.little);
  }
  /** A native-width word: 4 bytes in ELF32, 8 in ELF64, widened to bigint. */
  word(at: number, is64: boolean): bigint {
    return is64 ? this.u64(at) : BigInt(this.u32(at));
  }
  /** A signed native-width word (d_tag). */
  sword(at: number, is64: boolean): bigint {
    if (is64) return this.i64(at);
    this.check(at, 4);
    return BigInt(this.view.getInt32(at, this.little));
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Decodes bytes as UTF-8; invalid sequences become U+FFFD. */
export function decodeString(bytes: Uint8Array, start: number, end: number): string {
  // Short ASCII strings (most symbol names) are quicker to build by hand than to hand to TextDecoder.
  if (end - start <= 32) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = bytes[i]!;
      if (c >= 0x80) return utf8.decode(bytes.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(bytes.subarray(start, end));
}
