import type { DynamicEntry } from "./dynamic.js";
import type { ProgramHeader } from "./program-headers.js";
import type { SectionHeader } from "./section-headers.js";

/**
 * Fixed-endian writer over a byte buffer: the counterpart of Decoder, for the rewriter.
 * Values that do not fit their field throw (a bug in the caller, never bad input).
 */
export class Encoder {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly little: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
  /** A native-width word: 4 bytes in ELF32, 8 in ELF64. */
  word(at: number, v: bigint, is64: boolean): void {
    if (is64) this.u64(at, BigInt.asUintN(64, v));
    else {
      if (v < -(2n ** 31n) || v >= 2n ** 32n) throw new RangeError(`value 0x${v.toString(16)} does not fit an ELF32 word`);
      this.u32(at, Number(BigInt.asUintN(32, v)));
    }
  }
}

export const programHeaderSize = (is64: boolean): number => (is64 ? 56 : 32);
export const sectionHeaderSize = (is64: boolean): number => (is64 ? 64 : 40);
export const dynamicEntrySize = (is64: boolean): number => (is64 ? 16 : 8);

/** The bytes of one program header (the field order differs between the classes). */
export function encodeProgramHeader(p: ProgramHeader, is64: boolean, little: boolean): Uint8Array {
  const out = new Uint8Array(programHeaderSize(is64));
  const e = new Encoder(out, little);
  e.u32(0, p.p_type);
  if (is64) {
    e.u32(4, p.p_flags);
    e.u64(8, p.p_offset);
    e.u64(16, p.p_vaddr);
    e.u64(24, p.p_paddr);
    e.u64(32, p.p_filesz);
    e.u64(40, p.p_memsz);
    e.u64(48, p.p_align);
  } else {
    e.word(4, p.p_offset, false);
    e.word(8, p.p_vaddr, false);
    e.word(12, p.p_paddr, false);
    e.word(16, p.p_filesz, false);
    e.word(20, p.p_memsz, false);
    e.u32(24, p.p_flags);
    e.word(28, p.p_align, false);
  }
  return out;
}

/** The bytes of one section header. */
export function encodeSectionHeader(s: Omit<SectionHeader, "name">, is64: boolean, little: boolean): Uint8Array {
  const out = new Uint8Array(sectionHeaderSize(is64));
  const e = new Encoder(out, little);
  e.u32(0, s.sh_name);
  e.u32(4, s.sh_type);
  if (is64) {
    e.u64(8, s.sh_flags);
    e.u64(16, s.sh_addr);
    e.u64(24, s.sh_offset);
    e.u64(32, s.sh_size);
    e.u32(40, s.sh_link);
    e.u32(44, s.sh_info);
    e.u64(48, s.sh_addralign);
    e.u64(56, s.sh_entsize);
  } else {
    e.word(8, s.sh_flags, false);
    e.word(12, s.sh_addr, false);
    e.word(16, s.sh_offset, false);
    e.word(20, s.sh_size, false);
    e.u32(24, s.sh_link);
    e.u32(28, s.sh_info);
    e.word(32, s.sh_addralign, false);
    e.word(36, s.sh_entsize, false);
  }
  return out;
}

/** A dynamic table: `entries`, then DT_NULL up to `slots` entries in all. */
export function encodeDynamicTable(entries: readonly DynamicEntry[], slots: number, is64: boolean, little: boolean): Uint8Array {
  if (slots < entries.length + 1) throw new RangeError(`${entries.length} dynamic entries need ${entries.length + 1} slots, not ${slots}`);
  const size = dynamicEntrySize(is64);
  const out = new Uint8Array(slots * size);
  const e = new Encoder(out, little);
  entries.forEach((d, i) => {
    e.word(i * size, d.d_tag, is64);
    e.word(i * size + size / 2, d.d_val, is64);
  });
  return out;
}
