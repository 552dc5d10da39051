import { Decoder, checkedNumber, checkedRange, decodeString, type ByteSource } from "./bytes.js";
import { ElfError, MalformedError, TruncatedError } from "./errors.js";
import {
  EM_ALPHA,
  EM_MIPS,
  EM_S390,
  PN_XNUM,
  parseHeader,
  type ElfHeader,
} from "./header.js";
import {
  PT_DYNAMIC,
  PT_INTERP,
  PT_LOAD,
  parseProgramHeaders,
  type ProgramHeader,
} from "./program-headers.js";
import {
  SHF_ALLOC,
  SHN_XINDEX,
  SHT_DYNAMIC,
  SHT_DYNSYM,
  SHT_GNU_verdef,
  SHT_GNU_verneed,
  SHT_NOBITS,
  parseSectionHeaders,
  readSectionZero,
  type SectionHeader,
} from "./section-headers.js";
import {
  DT_FLAGS,
  DT_FLAGS_1,
  DT_GNU_HASH,
  DT_HASH,
  DT_MIPS_SYMTABNO,
  DT_NEEDED,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMENT,
  DT_SYMTAB,
  DT_VERDEF,
  DT_VERDEFNUM,
  DT_VERNEED,
  DT_VERNEEDNUM,
  DT_VERSYM,
  decodeDynamicEntries,
  dynamicReadLength,
  type DynamicEntry,
} from "./dynamic.js";
import { StringTable } from "./strings.js";
import { consistentDynamicSection } from "./dynamic-section.js";
import { DynamicSymbolTable, type DynamicSymbol, type VersionIndex } from "./dynamic-symbols.js";

export type { DynamicSymbol };
import { symbolEntrySize } from "./symbols.js";
import { countFromGnuHash, countFromSysvHash } from "./hash.js";
import {
  parseVersionDefinitions,
  parseVersionRequirements,
  type VersionDefinition,
  type VersionReadContext,
  type VersionRequirement,
  type VersionRequirementAux,
} from "./versions.js";

/** Where a table was found: through the dynamic table (normal) or section headers (fallback). */
export type TableOrigin = "dynamic" | "sections";

/** The decoded dynamic table: entries plus the facts most callers want. */
export interface DynamicInfo {
  readonly entries: readonly DynamicEntry[];
  /** File offset of the first entry. */
  readonly offset: number;
  readonly origin: TableOrigin;
  readonly needed: string[];
  readonly soname: string | null;
  /** Colon-separated entries of DT_RPATH / DT_RUNPATH; an empty string gives []. */
  readonly rpath: string[];
  readonly runpath: string[];
  readonly flags: number;
  readonly flags1: number;
}

interface Memo<T> {
  value?: T;
  error?: unknown;
  done: boolean;
}

/**
 * An ELF file read lazily from a ByteSource: the header is parsed at once, every
 * other table on first use, each reading only its own byte range.
 */
export class ElfFile {
  readonly header: ElfHeader;
  /** Non-fatal oddities met while reading (e.g. unusable section headers). */
  readonly warnings: string[] = [];
  private readonly memos = new Map<string, Memo<unknown>>();
  /** The `.dynamic` section read in place of an absent PT_DYNAMIC (adoptDynamicSection). */
  private adoptedDynamic: SectionHeader | null = null;

  private constructor(readonly source: ByteSource) {
    this.header = parseHeader(source);
  }

  /** Parses the ELF header; throws NotElfError, TruncatedError, … for bad input. */
  static parse(source: ByteSource): ElfFile {
    return new ElfFile(source);
  }

  get is64(): boolean {
    return this.header.class === 64;
  }

  get little(): boolean {
    return this.header.little;
  }

  private memo<T>(key: string, compute: () => T): T {
    let m = this.memos.get(key) as Memo<T> | undefined;
    if (m && !m.done) throw new Error(`internal: ${key} depends on itself`);
    if (!m) {
      m = { done: false };
      this.memos.set(key, m as Memo<unknown>);
      try {
        m.value = compute();
      } catch (e) {
        m.error = e;
      }
      m.done = true;
    }
    if (m.error !== undefined) throw m.error;
    return m.value as T;
  }

  /** Reads `length` bytes at a file offset, range-checked, as a decoder. */
  readAt(offset: bigint | number, length: bigint | number, what: string): Decoder {
    const r = checkedRange(offset, length, this.source.size, what);
    return new Decoder(this.source.read(r.offset, r.length), this.little, r.offset);
  }

  private get sectionZero() {
    return this.memo("section0", () => readSectionZero(this.source, this.header));
  }

  /** Number of program headers, resolving PN_XNUM through section 0. */
  get phnum(): number {
    if (this.header.e_phnum !== PN_XNUM) return this.header.e_phnum;
    const s0 = this.sectionZero;
    if (!s0) throw new MalformedError("e_phnum is PN_XNUM but there is no section 0", 0);
    return s0.sh_info;
  }

  get shnum(): number {
    if (this.header.e_shnum !== 0 || this.header.e_shoff === 0n) return this.header.e_shnum;
    const s0 = this.sectionZero;
    return s0 ? checkedNumber(s0.sh_size, "extended section count") : 0;
  }

  get shstrndx(): number {
    if (this.header.e_shstrndx !== SHN_XINDEX) return this.header.e_shstrndx;
    return this.sectionZero?.sh_link ?? 0;
  }

  get programHeaders(): readonly ProgramHeader[] {
    return this.memo("phdrs", () =>
      this.header.e_phoff === 0n ? [] : parseProgramHeaders(this.source, this.header, this.phnum),
    );
  }

  /** Section headers; throws for a malformed table. See `sectionsIfUsable` for the lenient form. */
  get sectionHeaders(): readonly SectionHeader[] {
    return this.memo("shdrs", () => parseSectionHeaders(this.source, this.header, this.shnum, this.shstrndx));
  }

  /** Section headers for use as a fallback: null (with a warning) when absent or unusable. */
  sectionsIfUsable(): readonly SectionHeader[] | null {
    return this.memo("shdrs-lenient", () => {
      try {
        const s = this.sectionHeaders;
        return s.length > 0 ? s : null;
      } catch (e) {
        if (!(e instanceof ElfError)) throw e;
        this.warnings.push(`section headers ignored: ${e.message}`);
        return null;
      }
    });
  }

  private sectionOfType(type: number): SectionHeader | null {
    return this.sectionsIfUsable()?.find((s) => s.sh_type === type) ?? null;
  }

  /**
   * Maps a virtual address to a file offset through the PT_LOAD segments (the view
   * ld.so has); only a file without program headers falls back to section addresses.
   * `length` bytes from the address must be backed by file contents.
   */
  addressToOffset(addr: bigint, length: bigint | number, what: string): number {
    const len = BigInt(length);
    const loads = this.programHeaders.filter((p) => p.p_type === PT_LOAD);
    for (const p of loads) {
      if (addr >= p.p_vaddr && addr + len <= p.p_vaddr + p.p_filesz) {
        return checkedRange(p.p_offset + (addr - p.p_vaddr), len, this.source.size, what).offset;
      }
    }
    if (loads.length === 0) {
      for (const s of this.sectionsIfUsable() ?? []) {
        if (s.sh_type === SHT_NOBITS || (s.sh_flags & BigInt(SHF_ALLOC)) === 0n) continue;
        if (addr >= s.sh_addr && addr + len <= s.sh_addr + s.sh_size) {
          return checkedRange(s.sh_offset + (addr - s.sh_addr), len, this.source.size, what).offset;
        }
      }
    }
    throw new MalformedError(`${what} at address 0x${addr.toString(16)} is not in any loaded segment`);
  }

  /** PT_INTERP's path, or null for files without one (libraries, static programs). */
  get interpreter(): string | null {
    return this.memo("interp", () => {
      const p = this.programHeaders.find((h) => h.p_type === PT_INTERP);
      if (!p) return null;
      // A separate debug file keeps the program headers but none of the loaded bytes.
      if (p.p_filesz === 0n) {
        this.warnings.push("PT_INTERP has no bytes in the file (p_filesz 0; a separate debug file?)");
        return null;
      }
      const d = this.readAt(p.p_offset, p.p_filesz, "PT_INTERP");
      const end = d.bytes.indexOf(0);
      if (end < 0) throw new MalformedError("PT_INTERP path has no terminating NUL", d.base);
      return decodeString(d.bytes, 0, end);
    });
  }

  /** The raw dynamic entries and where they were found, or null for a file without a dynamic table. */
  private get dynamicTable(): { entries: DynamicEntry[]; offset: number; origin: TableOrigin } | null {
    return this.memo("dyn-entries", () => {
      const p = this.programHeaders.find((h) => h.p_type === PT_DYNAMIC);
      if (p) {
        const d = this.readAt(p.p_offset, dynamicReadLength(p.p_filesz, this.is64), "PT_DYNAMIC");
        return { entries: decodeDynamicEntries(d, this.is64), offset: d.base, origin: "dynamic" as const };
      }
      // Without PT_DYNAMIC the file is not loaded dynamically; only a section can tell
      // (and, in a file with program headers, only once adopted: adoptDynamicSection).
      if (this.programHeaders.length > 0 && !this.adoptedDynamic) return null;
      const s = this.adoptedDynamic ?? this.sectionOfType(SHT_DYNAMIC);
      if (!s) return null;
      const d = this.readAt(s.sh_offset, dynamicReadLength(s.sh_size, this.is64), "dynamic section");
      return { entries: decodeDynamicEntries(d, this.is64), offset: d.base, origin: "sections" as const };
    });
  }

  /**
   * For a file whose program headers have no PT_DYNAMIC: reads the dynamic table through
   * its `.dynamic` section from now on, as patchelf does, when that section is consistent
   * (dynamic-section.ts) and its DT_STRTAB names the string table it is linked to; returns
   * that section. Null when there is nothing to adopt (PT_DYNAMIC present, no section);
   * throws MalformedError when the section headers disagree.
   */
  adoptDynamicSection(): SectionHeader | null {
    if (this.adoptedDynamic) return this.adoptedDynamic;
    if (this.programHeaders.some((h) => h.p_type === PT_DYNAMIC)) return null;
    const secs = this.sectionsIfUsable();
    const s = secs && consistentDynamicSection(secs, this.programHeaders, this.source.size, this.is64 ? 16 : 8);
    if (!s) return null;
    const entries = decodeDynamicEntries(this.readAt(s.sh_offset, dynamicReadLength(s.sh_size, this.is64), "dynamic section"), this.is64);
    const strtab = entries.find((e) => e.d_tag === BigInt(DT_STRTAB))?.d_val;
    if (strtab !== secs[s.sh_link]!.sh_addr) {
      throw new MalformedError("has no PT_DYNAMIC, and the DT_STRTAB of its dynamic section is not the string table the section is linked to");
    }
    this.adoptedDynamic = s;
    // Whatever was read through the absent dynamic table is read again.
    this.memos.clear();
    return s;
  }

  /** The value of the first entry with `tag`, or undefined. */
  dynamicValue(tag: number): bigint | undefined {
    const t = BigInt(tag);
    return this.dynamicTable?.entries.find((e) => e.d_tag === t)?.d_val;
  }

  /** The dynamic string table (DT_STRTAB, DT_STRSZ). */
  get dynamicStrings(): StringTable {
    return this.memo("dynstr", () => {
      const addr = this.dynamicValue(DT_STRTAB);
      const size = this.dynamicValue(DT_STRSZ);
      if (addr === undefined || size === undefined) {
        throw new MalformedError("dynamic table lacks DT_STRTAB or DT_STRSZ", this.dynamicTable?.offset);
      }
      if (size > BigInt(this.source.size)) {
        throw new TruncatedError(`DT_STRSZ ${size} exceeds the file size`, this.dynamicTable?.offset);
      }
      const offset = this.addressToOffset(addr, size, "DT_STRTAB");
      return new StringTable(this.source, offset, Number(size), "dynamic string table");
    });
  }

  get dynamic(): DynamicInfo | null {
    return this.memo("dynamic", () => {
      const t = this.dynamicTable;
      if (!t) return null;
      const needed: string[] = [];
      let soname: string | null = null;
      const rpath: string[] = [];
      const runpath: string[] = [];
      let flags = 0;
      let flags1 = 0;
      const str = (e: DynamicEntry, i: number) =>
        this.dynamicStrings.get(checkedNumber(e.d_val, "string offset"), t.offset + i * (this.is64 ? 16 : 8));
      t.entries.forEach((e, i) => {
        switch (Number(e.d_tag)) {
          case DT_NEEDED:
            needed.push(str(e, i));
            break;
          case DT_SONAME:
            soname ??= str(e, i);
            break;
          case DT_RPATH:
            rpath.push(...splitPath(str(e, i)));
            break;
          case DT_RUNPATH:
            runpath.push(...splitPath(str(e, i)));
            break;
          case DT_FLAGS:
            flags = Number(e.d_val & 0xffffffffn);
            break;
          case DT_FLAGS_1:
            flags1 = Number(e.d_val & 0xffffffffn);
            break;
        }
      });
      return { entries: t.entries, offset: t.offset, origin: t.origin, needed, soname, rpath, runpath, flags, flags1 };
    });
  }

  /** Where the dynamic symbol table is (file offset) and how many entries it has, entry 0 included. */
  get dynamicSymbolTable(): { offset: number; count: number; entsize: number } | null {
    return this.memo("dynsym-loc", () => {
      const entsize = symbolEntrySize(this.is64);
      const t = this.dynamicTable;
      const addr = this.dynamicValue(DT_SYMTAB);
      if (!t || addr === undefined) return null;
      const syment = this.dynamicValue(DT_SYMENT);
      if (syment !== undefined && syment !== BigInt(entsize)) {
        throw new MalformedError(`DT_SYMENT ${syment} is not ${entsize}`, t.offset);
      }
      const count = this.countDynamicSymbols(addr, entsize);
      const offset = this.addressToOffset(addr, BigInt(count) * BigInt(entsize), "DT_SYMTAB");
      return { offset, count, entsize };
    });
  }

  /**
   * The dynamic table does not record the symbol count. The section header is exact
   * when it describes the same table; otherwise the hash tables give it.
   */
  private countDynamicSymbols(addr: bigint, entsize: number): number {
    const s = this.sectionOfType(SHT_DYNSYM);
    if (s && s.sh_addr === addr && s.sh_entsize === BigInt(entsize) && s.sh_size % BigInt(entsize) === 0n) {
      const count = Number(s.sh_size / BigInt(entsize));
      try {
        this.addressToOffset(addr, s.sh_size, "DT_SYMTAB");
        return count;
      } catch (e) {
        if (!(e instanceof ElfError)) throw e;
        this.warnings.push(`.dynsym section size disagrees with the loaded segments: ${e.message}`);
      }
    }
    const read = (offset: number, length: number) => this.readAt(offset, length, "hash table");
    if (this.header.e_machine === EM_MIPS) {
      const n = this.dynamicValue(DT_MIPS_SYMTABNO);
      if (n !== undefined) return checkedNumber(n, "DT_MIPS_SYMTABNO");
    }
    const hash = this.dynamicValue(DT_HASH);
    if (hash !== undefined) {
      const wide = this.is64 && (this.header.e_machine === EM_S390 || this.header.e_machine === EM_ALPHA);
      const entry = wide ? 8 : 4;
      return countFromSysvHash(read, this.addressToOffset(hash, 2 * entry, "DT_HASH"), entry);
    }
    const gnu = this.dynamicValue(DT_GNU_HASH);
    if (gnu !== undefined) {
      return countFromGnuHash(read, this.addressToOffset(gnu, 16, "DT_GNU_HASH"), this.is64, this.source.size);
    }
    this.warnings.push("no section header, DT_HASH or DT_GNU_HASH gives the dynamic symbol count");
    return 0;
  }

  /** DT_GNU_HASH's bucket count, or null without the table. */
  get gnuHashBuckets(): number | null {
    const gnu = this.dynamicValue(DT_GNU_HASH);
    if (gnu === undefined) return null;
    return this.readAt(this.addressToOffset(gnu, 16, "DT_GNU_HASH"), 4, "DT_GNU_HASH").u32(0);
  }

  private get symbolBytes(): Decoder | null {
    return this.memo("dynsym", () => {
      const t = this.dynamicSymbolTable;
      return t ? this.readAt(t.offset, t.count * t.entsize, "dynamic symbol table") : null;
    });
  }

  private get versymBytes(): Decoder | null {
    return this.memo("versym", () => {
      const addr = this.dynamicValue(DT_VERSYM);
      const t = this.dynamicSymbolTable;
      if (addr === undefined || !t) return null;
      return this.readAt(this.addressToOffset(addr, t.count * 2, "DT_VERSYM"), t.count * 2, "DT_VERSYM");
    });
  }

  private versionTable<T>(
    addrTag: number,
    numTag: number,
    sectionType: number,
    parse: (ctx: VersionReadContext, start: number, count: number) => T[],
  ): T[] {
    const ctx: VersionReadContext = {
      read: (o, l) => this.readAt(o, l, "version table"),
      str: (offset, at) => this.dynamicStrings.get(offset, at),
      fileSize: this.source.size,
      is32: !this.is64,
    };
    const addr = this.dynamicValue(addrTag);
    if (addr !== undefined) {
      const num = this.dynamicValue(numTag);
      if (num === undefined) {
        throw new MalformedError(`dynamic table has tag 0x${addrTag.toString(16)} without its count`, this.dynamicTable?.offset);
      }
      const count = checkedNumber(num, "version count", this.dynamicTable?.offset);
      if (count === 0) return [];
      return parse(ctx, this.addressToOffset(addr, 1, "version table"), count);
    }
    if (this.dynamicTable?.origin === "sections") {
      const s = this.sectionOfType(sectionType);
      if (s && s.sh_info > 0) {
        return parse(ctx, checkedRange(s.sh_offset, 1, this.source.size, "version section").offset, s.sh_info);
      }
    }
    return [];
  }

  /** `.gnu.version_d`: versions this object defines. */
  get versionDefinitions(): readonly VersionDefinition[] {
    return this.memo("verdef", () => this.versionTable(DT_VERDEF, DT_VERDEFNUM, SHT_GNU_verdef, parseVersionDefinitions));
  }

  /** `.gnu.version_r`: versions this object requires, per library. */
  get versionRequirements(): readonly VersionRequirement[] {
    return this.memo("verneed", () =>
      this.versionTable(DT_VERNEED, DT_VERNEEDNUM, SHT_GNU_verneed, parseVersionRequirements),
    );
  }

  private get versionIndex(): VersionIndex {
    return this.memo("version-index", () => {
      const defs = new Map<number, VersionDefinition>();
      for (const d of this.versionDefinitions) if (!defs.has(d.vd_ndx)) defs.set(d.vd_ndx, d);
      const needs = new Map<number, { aux: VersionRequirementAux; file: string }>();
      for (const r of this.versionRequirements) {
        for (const aux of r.versions) if (!needs.has(aux.vna_other)) needs.set(aux.vna_other, { aux, file: r.file });
      }
      return { defs, needs };
    });
  }

  /** Number of dynamic symbols, entry 0 included. */
  get dynamicSymbolCount(): number {
    return this.dynamicSymbolTable?.count ?? 0;
  }

  /** The dynamic symbol table, field by field (null without DT_SYMTAB). */
  get dynsym(): DynamicSymbolTable | null {
    return this.memo("dynsym-table", () => {
      const d = this.symbolBytes;
      if (!d) return null;
      return new DynamicSymbolTable(d, this.dynamicSymbolCount, this.is64, {
        strings: () => this.dynamicStrings,
        versym: () => this.versymBytes,
        versionIndex: () => this.versionIndex,
      });
    });
  }

  /** Decodes dynamic symbol `index` on demand. */
  dynamicSymbol(index: number): DynamicSymbol {
    const t = this.dynsym;
    if (!t || index < 0 || index >= t.count) {
      throw new Error(`dynamic symbol index ${index} out of range`);
    }
    return t.symbol(index);
  }

  /** st_name of every dynamic symbol, entry 0 included, without decoding the rest. */
  symbolNameOffsets(): Uint32Array {
    const t = this.dynsym;
    const out = new Uint32Array(t?.count ?? 0);
    for (let i = 0; i < out.length; i++) out[i] = t!.nameOffset(i);
    return out;
  }

  /** The largest st_size among the dynamic symbols (0 without symbols). */
  maxDynamicSymbolSize(): bigint {
    const t = this.dynsym;
    let max = 0n;
    for (let i = 0; t && i < t.count; i++) {
      const size = t.size(i);
      if (size > max) max = size;
    }
    return max;
  }

  /** The raw `.gnu.version` entries (one per dynamic symbol), or null without DT_VERSYM. */
  versymValues(): Uint16Array | null {
    const d = this.versymBytes;
    if (!d) return null;
    const out = new Uint16Array(d.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = d.u16(i * 2);
    return out;
  }

  /** Every dynamic symbol after the null entry 0. */
  get dynamicSymbols(): readonly DynamicSymbol[] {
    return this.memo("dynsyms", () => {
      const t = this.dynsym;
      const out: DynamicSymbol[] = [];
      if (t) for (let i = 1; i < t.count; i++) out.push(t.symbol(i));
      return out;
    });
  }

}

function splitPath(value: string): string[] {
  return value === "" ? [] : value.split(":");
}
