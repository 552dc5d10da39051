import type { Decoder } from "./bytes.js";

/**
 * The on-disk records of ELF, one field layout each per class, declared once and used by
 * the decoders (here in src/elf) and the encoders (src/elf/write) alike. Byte order is the
 * file's, applied by Decoder and Encoder.
 *
 * Field types: `u8`, `u16`, `u32` are the same width in both classes and read as numbers;
 * `word` is an address, offset or size (Elf32_Addr/Off/Word where ELF64 has Elf64_Addr/Off/Xword)
 * and `sword` its signed form (d_tag, r_addend): both read as bigint in both classes, so
 * callers see one widened shape.
 */
export type FieldType = "u8" | "u16" | "u32" | "word" | "sword";

/** The field type a record's member must have: bigint members are words, number members fixed-width. */
type FieldTypeFor<V> = V extends bigint ? "word" | "sword" : "u8" | "u16" | "u32";

/** A record's members in file order, each with its type. */
export type StructSpec<T> = { readonly [K in keyof T]-?: FieldTypeFor<T[K]> };

export interface StructLayout<T> {
  readonly name: string;
  readonly is64: boolean;
  /** Size of one record in the file. */
  readonly size: number;
  /** Each member's offset in the record. */
  readonly offset: { readonly [K in keyof T]-?: number };
  /** The members in file order, with offset and type, for generic reading and writing. */
  readonly fields: readonly { readonly name: keyof T & string; readonly at: number; readonly type: FieldType }[];
  /** Reads one record at `at` (see readStruct). */
  readonly read: (d: Decoder, at: number) => T;
  /** Writes one record at `at` through an Encoder (see writeStruct in src/elf/write). */
  readonly write: (e: StructEncoder, at: number, value: T) => void;
}

/** What a compiled writer calls: the Encoder of src/elf/write (declared here so layouts need not import it). */
export interface StructEncoder {
  u8(at: number, v: number): void;
  u16(at: number, v: number): void;
  u32(at: number, v: number): void;
  word(at: number, v: bigint, is64: boolean): void;
}

const width = (t: FieldType, is64: boolean) => (t === "u8" ? 1 : t === "u16" ? 2 : t === "u32" ? 4 : is64 ? 8 : 4);

/**
 * A record layout from its members in file order (object key order). ELF records have no
 * padding: each member sits right after the previous one, at its natural alignment.
 */
export function defineStruct<T>(name: string, is64: boolean, spec: StructSpec<T>): StructLayout<T> {
  const fields: { name: keyof T & string; at: number; type: FieldType }[] = [];
  let at = 0;
  for (const [field, type] of Object.entries(spec) as [keyof T & string, FieldType][]) {
    if (!/^[a-z_][a-z0-9_]*$/.test(field)) throw new Error(`bad member name ${field}`);
    fields.push({ name: field, at, type });
    at += width(type, is64);
  }
  // An object literal, so that hot loops reading `layout.offset.st_name` get a fast property.
  const offsets = new Function(`return { ${fields.map((f) => `${f.name}: ${f.at}`).join(", ")} };`)() as StructLayout<T>["offset"];
  return { name, is64, size: at, offset: offsets, fields, read: compileReader<T>(fields, is64), write: compileWriter<T>(fields, is64) };
}

/**
 * A reader that builds each record with one object literal: records are decoded by the
 * hundred thousand (symbols, section headers), and objects built member by member under
 * computed names are slower to make and to use. The member names are this module's own
 * identifiers, checked above.
 */
function compileReader<T>(fields: readonly { name: string; at: number; type: FieldType }[], is64: boolean): (d: Decoder, at: number) => T {
  const call = (f: { at: number; type: FieldType }) =>
    f.type === "word" || f.type === "sword" ? `d.${f.type}(at + ${f.at}, ${is64})` : `d.${f.type}(at + ${f.at})`;
  return new Function("d", "at", `return { ${fields.map((f) => `${f.name}: ${call(f)}`).join(", ")} };`) as (d: Decoder, at: number) => T;
}

/** The writer counterpart of compileReader: one call per member, in file order. */
function compileWriter<T>(fields: readonly { name: string; at: number; type: FieldType }[], is64: boolean): (e: StructEncoder, at: number, v: T) => void {
  const call = (f: { name: string; at: number; type: FieldType }) =>
    f.type === "word" || f.type === "sword" ? `e.word(at + ${f.at}, v.${f.name}, ${is64});` : `e.${f.type}(at + ${f.at}, v.${f.name});`;
  return new Function("e", "at", "v", fields.map(call).join("\n")) as (e: StructEncoder, at: number, v: T) => void;
}

/** Reads record `T` at `at` (relative to the decoder's bytes). */
export function readStruct<T>(d: Decoder, at: number, layout: StructLayout<T>): T {
  return layout.read(d, at);
}

/** Both classes' layouts of one record, picked by class. */
function perClass<T>(l32: StructLayout<T>, l64: StructLayout<T>): (is64: boolean) => StructLayout<T> {
  return (is64) => (is64 ? l64 : l32);
}

// ---------------------------------------------------------------- the records

/** Elf32_Ehdr/Elf64_Ehdr after e_ident (16 bytes): the members ELF header parsing reads. */
export interface RawElfHeader {
  readonly e_type: number;
  readonly e_machine: number;
  readonly e_version: number;
  readonly e_entry: bigint;
  readonly e_phoff: bigint;
  readonly e_shoff: bigint;
  readonly e_flags: number;
  readonly e_ehsize: number;
  readonly e_phentsize: number;
  readonly e_phnum: number;
  readonly e_shentsize: number;
  readonly e_shnum: number;
  readonly e_shstrndx: number;
}
/** Size of e_ident, before the header's other members. */
export const EI_NIDENT = 16;
const ehdrSpec: StructSpec<RawElfHeader> = {
  e_type: "u16",
  e_machine: "u16",
  e_version: "u32",
  e_entry: "word",
  e_phoff: "word",
  e_shoff: "word",
  e_flags: "u32",
  e_ehsize: "u16",
  e_phentsize: "u16",
  e_phnum: "u16",
  e_shentsize: "u16",
  e_shnum: "u16",
  e_shstrndx: "u16",
};
/** The header's members after e_ident; add EI_NIDENT to an offset for its place in the file. */
export const elfHeaderLayout = perClass(defineStruct("ELF header", false, ehdrSpec), defineStruct("ELF header", true, ehdrSpec));

export interface ProgramHeader {
  readonly p_type: number;
  readonly p_flags: number;
  readonly p_offset: bigint;
  readonly p_vaddr: bigint;
  readonly p_paddr: bigint;
  readonly p_filesz: bigint;
  readonly p_memsz: bigint;
  readonly p_align: bigint;
}
// The classes order the members differently: ELF64 puts p_flags second, for alignment.
export const programHeaderLayout = perClass<ProgramHeader>(
  defineStruct<ProgramHeader>("program header", false, {
    p_type: "u32",
    p_offset: "word",
    p_vaddr: "word",
    p_paddr: "word",
    p_filesz: "word",
    p_memsz: "word",
    p_flags: "u32",
    p_align: "word",
  }),
  defineStruct<ProgramHeader>("program header", true, {
    p_type: "u32",
    p_flags: "u32",
    p_offset: "word",
    p_vaddr: "word",
    p_paddr: "word",
    p_filesz: "word",
    p_memsz: "word",
    p_align: "word",
  }),
);

/** A section header as stored (the reader adds the resolved `name`). */
export interface RawSectionHeader {
  readonly sh_name: number;
  readonly sh_type: number;
  readonly sh_flags: bigint;
  readonly sh_addr: bigint;
  readonly sh_offset: bigint;
  readonly sh_size: bigint;
  readonly sh_link: number;
  readonly sh_info: number;
  readonly sh_addralign: bigint;
  readonly sh_entsize: bigint;
}
const shdrSpec: StructSpec<RawSectionHeader> = {
  sh_name: "u32",
  sh_type: "u32",
  sh_flags: "word",
  sh_addr: "word",
  sh_offset: "word",
  sh_size: "word",
  sh_link: "u32",
  sh_info: "u32",
  sh_addralign: "word",
  sh_entsize: "word",
};
export const sectionHeaderLayout = perClass(defineStruct("section header", false, shdrSpec), defineStruct("section header", true, shdrSpec));

export interface DynamicEntry {
  readonly d_tag: bigint;
  /** d_val / d_ptr: one field, its meaning set by the tag. */
  readonly d_val: bigint;
}
const dynSpec: StructSpec<DynamicEntry> = { d_tag: "sword", d_val: "word" };
export const dynamicEntryLayout = perClass(defineStruct("dynamic entry", false, dynSpec), defineStruct("dynamic entry", true, dynSpec));

/** One entry of a symbol table, fields under their spec names. */
export interface RawSymbol {
  readonly st_name: number;
  readonly st_value: bigint;
  readonly st_size: bigint;
  readonly st_info: number;
  readonly st_other: number;
  readonly st_shndx: number;
}
export const symbolLayout = perClass<RawSymbol>(
  defineStruct<RawSymbol>("symbol", false, { st_name: "u32", st_value: "word", st_size: "word", st_info: "u8", st_other: "u8", st_shndx: "u16" }),
  defineStruct<RawSymbol>("symbol", true, { st_name: "u32", st_info: "u8", st_other: "u8", st_shndx: "u16", st_value: "word", st_size: "word" }),
);

/** Elf_Verdef: the same layout in both classes. */
export interface RawVerdef {
  readonly vd_version: number;
  readonly vd_flags: number;
  readonly vd_ndx: number;
  readonly vd_cnt: number;
  readonly vd_hash: number;
  readonly vd_aux: number;
  readonly vd_next: number;
}
export const VERDEF = defineStruct<RawVerdef>("verdef", false, {
  vd_version: "u16",
  vd_flags: "u16",
  vd_ndx: "u16",
  vd_cnt: "u16",
  vd_hash: "u32",
  vd_aux: "u32",
  vd_next: "u32",
});

export interface RawVerdaux {
  readonly vda_name: number;
  readonly vda_next: number;
}
export const VERDAUX = defineStruct<RawVerdaux>("verdaux", false, { vda_name: "u32", vda_next: "u32" });

export interface RawVerneed {
  readonly vn_version: number;
  readonly vn_cnt: number;
  readonly vn_file: number;
  readonly vn_aux: number;
  readonly vn_next: number;
}
export const VERNEED = defineStruct<RawVerneed>("verneed", false, {
  vn_version: "u16",
  vn_cnt: "u16",
  vn_file: "u32",
  vn_aux: "u32",
  vn_next: "u32",
});

export interface RawVernaux {
  readonly vna_hash: number;
  readonly vna_flags: number;
  readonly vna_other: number;
  readonly vna_name: number;
  readonly vna_next: number;
}
export const VERNAUX = defineStruct<RawVernaux>("vernaux", false, {
  vna_hash: "u32",
  vna_flags: "u16",
  vna_other: "u16",
  vna_name: "u32",
  vna_next: "u32",
});

/** Elf_Rel; r_info packs the symbol index and the relocation type (see relocationInfo). */
export interface RawRel {
  readonly r_offset: bigint;
  readonly r_info: bigint;
}
const relSpec: StructSpec<RawRel> = { r_offset: "word", r_info: "word" };
export const relLayout = perClass(defineStruct("Rel", false, relSpec), defineStruct("Rel", true, relSpec));

export interface RawRela extends RawRel {
  readonly r_addend: bigint;
}
const relaSpec: StructSpec<RawRela> = { r_offset: "word", r_info: "word", r_addend: "sword" };
export const relaLayout = perClass(defineStruct("Rela", false, relaSpec), defineStruct("Rela", true, relaSpec));

/** The symbol index and type packed in r_info (ELF32: 24 and 8 bits; ELF64: 32 and 32). */
export function relocationInfo(r_info: bigint, is64: boolean): { sym: number; type: number } {
  return is64
    ? { sym: Number(r_info >> 32n), type: Number(r_info & 0xffffffffn) }
    : { sym: Number((r_info >> 8n) & 0xffffffn), type: Number(r_info & 0xffn) };
}

/** r_info for a symbol index and type. */
export function packRelocationInfo(sym: number, type: number, is64: boolean): bigint {
  return is64 ? (BigInt(sym) << 32n) | BigInt(type >>> 0) : BigInt(((sym << 8) | (type & 0xff)) >>> 0);
}
