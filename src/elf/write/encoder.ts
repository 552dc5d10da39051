import { FieldRangeError } from "../errors.js";
import {
  dynamicEntryLayout,
  programHeaderLayout,
  sectionHeaderLayout,
  type DynamicEntry,
  type ProgramHeader,
  type RawSectionHeader,
  type StructLayout,
} from "../structs.js";

/**
 * Fixed-endian writer over a byte buffer: the counterpart of Decoder. A value that does
 * not fit its field throws FieldRangeError (an ELF32 word past 2^32: what a rewrite
 * computed cannot be written in this class of file).
 */
export class Encoder {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly little: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, this.little);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v, this.little);
  }
  u64(at: number, v: bigint): void {
    this.view.setBigUint64(at, v, this.little);
  }
  /** A native-width word: 4 bytes in ELF32, 8 in ELF64. Negative values are stored as two's complement. */
  word(at: number, v: bigint, is64: boolean): void {
    if (is64) this.u64(at, BigInt.asUintN(64, v));
    else {
      if (v < -(2n ** 31n) || v >= 2n ** 32n) throw new FieldRangeError(`value 0x${v.toString(16)} does not fit an ELF32 word`);
      this.u32(at, Number(BigInt.asUintN(32, v)));
    }
  }
}

/** Writes record `value` at `at` in the encoder's bytes, by its layout. */
export function writeStruct<T>(e: Encoder, at: number, layout: StructLayout<T>, value: T): void {
  layout.write(e, at, value);
}

/** The bytes of one record. */
export function encodeStruct<T>(layout: StructLayout<T>, value: T, little: boolean): Uint8Array {
  const out = new Uint8Array(layout.size);
  writeStruct(new Encoder(out, little), 0, layout, value);
  return out;
}

export const programHeaderSize = (is64: boolean): number => programHeaderLayout(is64).size;
export const sectionHeaderSize = (is64: boolean): number => sectionHeaderLayout(is64).size;
export const dynamicEntrySize = (is64: boolean): number => dynamicEntryLayout(is64).size;

/** The bytes of one program header (the member order differs between the classes). */
export function encodeProgramHeader(p: ProgramHeader, is64: boolean, little: boolean): Uint8Array {
  return encodeStruct(programHeaderLayout(is64), p, little);
}

/** The bytes of one section header. */
export function encodeSectionHeader(s: RawSectionHeader, is64: boolean, little: boolean): Uint8Array {
  return encodeStruct(sectionHeaderLayout(is64), s, little);
}

/** A dynamic table: `entries`, then DT_NULL up to `slots` entries in all. */
export function encodeDynamicTable(entries: readonly DynamicEntry[], slots: number, is64: boolean, little: boolean): Uint8Array {
  if (slots < entries.length + 1) throw new Error(`${entries.length} dynamic entries need ${entries.length + 1} slots, not ${slots}`);
  const layout = dynamicEntryLayout(is64);
  const out = new Uint8Array(slots * layout.size);
  const e = new Encoder(out, little);
  entries.forEach((d, i) => writeStruct(e, i * layout.size, layout, d));
  return out;
}
