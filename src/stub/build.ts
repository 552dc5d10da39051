// A stub: a shared object built from a manifest alone, which linkers read as they read the
// real library and ld.so refuses to load. Pure function of the manifest: no I/O, no clock.
//
// Layout (addresses in brackets):
//   segment 1, R: ELF header, program headers, .hash, .gnu.hash, .dynsym, .dynstr and the
//     version tables [file offset + 16]
//   segment 2, RW: .opd (ppc64 ELFv1 function descriptors, zeros), .dynamic, then no file
//     bytes: .data.rel.ro (in PT_GNU_RELRO with .dynamic), .bss, .tbss (PT_TLS)
//   segment 3, R, no file bytes: .stub.text (functions; not on ppc64 ELFv1), .stub.rodata
//     (read-only data)
//   .gnu.warning.SYMBOL sections (hint-warning), .shstrtab and the section headers, not loaded.
// Nothing is executable, and nothing holds a byte of the real library's code or data (the
// warning texts are the manifest's hint-warning lines). Segment 1 maps its
// offset 0 at address 16: valid ELF (p_vaddr ≡ p_offset modulo its p_align of 16), which
// linkers, readelf and eu-elflint accept, but ld.so requires PT_LOAD offsets and addresses
// congruent modulo the page size and refuses the file ("ELF load command address/offset not
// page-aligned") before mapping anything, whether it is loaded as a dependency or dlopen'd.
import type { AbiManifest } from "../abi/manifest.js";
import {
  DT_GNU_HASH,
  DT_HASH,
  DT_NEEDED,
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
  EI_NIDENT,
  EM_PPC64,
  EM_S390,
  ET_DYN,
  PF_R,
  PF_W,
  PT_DYNAMIC,
  PT_GNU_RELRO,
  PT_GNU_STACK,
  PT_TLS,
  SHF_ALLOC,
  SHF_TLS,
  SHF_WRITE,
  SHN_ABS,
  SHN_UNDEF,
  SHT_DYNAMIC,
  SHT_DYNSYM,
  SHT_GNU_HASH,
  SHT_GNU_verdef,
  SHT_GNU_verneed,
  SHT_GNU_versym,
  SHT_HASH,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_STRTAB,
  STB_GLOBAL,
  STB_GNU_UNIQUE,
  STB_WEAK,
  STT_FUNC,
  STT_GNU_IFUNC,
  STT_NOTYPE,
  STT_OBJECT,
  STT_TLS,
  elfHeaderLayout,
  symbolLayout,
  type DynamicEntry,
  type ProgramHeader,
  type RawSectionHeader,
} from "../elf/index.js";
import {
  Encoder,
  FileBuilder,
  StringTableBuilder,
  alignUpBig,
  buildGnuHash,
  buildSysvHash,
  dynamicEntrySize,
  encodeDynamicTable,
  encodeProgramHeader,
  encodeSectionHeader,
  programHeaderSize,
  sectionHeaderSize,
  writeStruct,
  type Reservation,
} from "../elf/write/index.js";
import { InputError } from "../errors.js";
import { layoutData, kindOf, type DataKind } from "./data-layout.js";
import { concat, encodeVerdefs, encodeVerneeds, load, sysvBuckets } from "./tables.js";
import { symbolTable, exportId, type StubSymbol } from "./symbols.js";

/** Segment 1's address minus its file offset: not a multiple of any page size. */
export const STUB_SKEW = 16n;
/** The largest page size of any target (aarch64, ppc64): segments never share one. */
const MAX_PAGE = 0x10000n;
/** Alignment of function addresses: each function its own address, none shared. */
const FUNCTION_STRIDE = 16n;
/** A ppc64 ELFv1 function descriptor: entry, TOC, environment. */
const OPD_ENTRY = 24n;

const utf8 = new TextEncoder();

const BIND = { GLOBAL: STB_GLOBAL, WEAK: STB_WEAK, GNU_UNIQUE: STB_GNU_UNIQUE } as const;
const TYPE = { FUNC: STT_FUNC, OBJECT: STT_OBJECT, TLS: STT_TLS, NOTYPE: STT_NOTYPE } as const;
const DATA_SECTION: Record<DataKind, { name: string; flags: number }> = {
  readonly: { name: ".stub.rodata", flags: SHF_ALLOC },
  relro: { name: ".data.rel.ro", flags: SHF_ALLOC | SHF_WRITE },
  writable: { name: ".bss", flags: SHF_ALLOC | SHF_WRITE },
  tls: { name: ".tbss", flags: SHF_ALLOC | SHF_WRITE | SHF_TLS },
};

/** ppc64 ELFv1 (big-endian AIX-style ABI): functions are descriptors in .opd. */
const usesOpd = (m: AbiManifest) => m.e_machine === EM_PPC64 && m.class === 64 && (m.e_flags & 3) !== 2;

interface Section {
  name: string;
  header: Omit<RawSectionHeader, "sh_name">;
}

/**
 * The stub's bytes. Throws InputError for a manifest no ELF file can hold: sizes beyond the
 * address space, more than 65,279 sections or 32,766 versions; Error for a name with NUL.
 */
export function buildStub(m: AbiManifest): Uint8Array {
  const is64 = m.class === 64;
  const little = m.data === "little";
  const word = is64 ? 8 : 4;
  const opd = usesOpd(m);
  const table = symbolTable(m, is64);
  // Version indexes are 15 bits (the 16th marks a hidden version).
  if (table.defs.length + table.needs.reduce((n, x) => n + x.versions.length, 0) > 0x7ffe) throw new InputError("has more versions than an ELF version index can number (32,766)");
  const syms = table.symbols;
  const count = syms.length + 1;
  const data = layoutData(m.symbols);

  // Strings.
  const dynstr = new StringTableBuilder();
  const needed = m.hints?.needed ?? [];
  for (const n of needed) dynstr.add(n);
  if (m.soname !== null) dynstr.add(m.soname);
  syms.forEach((s, i) => dynstr.add(s.name, table.names[i + 1]));
  for (const d of table.defs) dynstr.add(d.name);
  for (const n of table.needs) {
    dynstr.add(n.file);
    for (const v of n.versions) dynstr.add(v.name);
  }
  const dynstrBytes = dynstr.finish();

  // The dynamic table's entries, addresses filled in below.
  const hasVersions = table.defs.length > 0 || table.needs.length > 0;
  const dynTags: number[] = [...needed.map(() => DT_NEEDED), ...(m.soname !== null ? [DT_SONAME] : [])];
  dynTags.push(DT_HASH, DT_GNU_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT);
  if (hasVersions) dynTags.push(DT_VERSYM);
  if (table.defs.length > 0) dynTags.push(DT_VERDEF, DT_VERDEFNUM);
  if (table.needs.length > 0) dynTags.push(DT_VERNEED, DT_VERNEEDNUM);

  const functions = syms.filter((s) => s.kind === "export" && s.symbol.type === "FUNC");
  const others = syms.filter((s) => s.kind === "export" && s.symbol.type === "NOTYPE");
  const textFns = opd ? [] : functions;
  const hasText = textFns.length + others.length > 0;
  const hasReadOnlySegment = hasText || data.has("readonly");

  // Segment 1: everything with file contents that is read-only.
  // PT_LOAD × 2 or 3, PT_DYNAMIC, PT_TLS, PT_GNU_RELRO, PT_GNU_STACK.
  const phdrCount = (hasReadOnlySegment ? 3 : 2) + 1 + (data.has("tls") ? 1 : 0) + 2;
  const fb = new FileBuilder();
  fb.segment(STUB_SKEW, STUB_SKEW);
  const ehdrSize = EI_NIDENT + elfHeaderLayout(is64).size;
  const rEhdr = fb.reserve("ELF header", ehdrSize, word);
  const rPhdrs = fb.reserve("program headers", phdrCount * programHeaderSize(is64), word);
  const hashEntry = m.e_machine === EM_S390 && is64 ? 8 : 4;
  const nbucket = sysvBuckets(count);
  const rHash = fb.reserve(".hash", (2 + nbucket + count) * hashEntry, hashEntry);
  const names = table.names;
  const gnuHash = buildGnuHash(names, table.shape, is64, little, table.hashes);
  const rGnuHash = fb.reserve(".gnu.hash", gnuHash.length, word);
  const symSize = symbolLayout(is64).size;
  const rDynsym = fb.reserve(".dynsym", count * symSize, word);
  const rDynstr = fb.reserve(".dynstr", dynstrBytes.length, 1);
  const rVersym = hasVersions ? fb.reserve(".gnu.version", count * 2, 2) : null;
  const verdefBytes = encodeVerdefs(table.defs, dynstr, little);
  const rVerdef = table.defs.length > 0 ? fb.reserve(".gnu.version_d", verdefBytes.length, 4) : null;
  const verneedBytes = encodeVerneeds(table.needs, dynstr, little);
  const rVerneed = table.needs.length > 0 ? fb.reserve(".gnu.version_r", verneedBytes.length, 4) : null;
  const headEnd = fb.size;

  // A section without file bytes: its offset is where its address maps in its segment
  // (congruent modulo its alignment, as PT_TLS needs), past the end of the file's bytes.
  let cursor = 0n;
  const nobits = (name: string, size: bigint, align: bigint, flags: number, base: { offset: number; vaddr: bigint }): Section & { addr: bigint } => {
    cursor = alignUpBig(cursor, align);
    const addr = cursor;
    cursor += size;
    const offset = BigInt(base.offset) + (addr - base.vaddr);
    return { name, addr, header: { sh_type: SHT_NOBITS, sh_flags: BigInt(flags), sh_addr: addr, sh_offset: offset, sh_size: size, sh_link: 0, sh_info: 0, sh_addralign: align, sh_entsize: 0n } };
  };
  const dataSections = new Map<DataKind, Section & { addr: bigint }>();
  const placeData = (kind: DataKind, base: { offset: number; vaddr: bigint }) => {
    const d = data.get(kind);
    if (d) dataSections.set(kind, nobits(DATA_SECTION[kind].name, BigInt(d.size), BigInt(d.align), DATA_SECTION[kind].flags, base));
  };

  // Segment 2, `rw`: .opd and .dynamic (the file ends with them), then writable
  // data without file bytes.
  // Segments 2 and 3 are aligned to the largest page or the largest data alignment (a TLS
  // object may ask for more than a page), so that offsets and addresses stay congruent.
  const page = [...data.values()].reduce((p, d) => (BigInt(d.align) > p ? BigInt(d.align) : p), MAX_PAGE);
  const rw = fb.segment(STUB_SKEW + BigInt(headEnd), page, word);
  const rOpd = opd && functions.length > 0 ? fb.reserve(".opd", functions.length * Number(OPD_ENTRY), 8) : null;
  const dynSize = dynamicEntrySize(is64);
  const rDynamic = fb.reserve(".dynamic", (dynTags.length + 1) * dynSize, word);
  const fileEnd = fb.size;
  cursor = rDynamic.vaddr + BigInt(rDynamic.size);
  placeData("relro", rw);
  const relroEnd = cursor;
  placeData("writable", rw);
  // TLS addresses are a template of their own: after everything else, as its own block.
  const tlsData = data.get("tls");
  let tls: (Section & { addr: bigint }) | null = null;
  if (tlsData) {
    tls = nobits(".tbss", BigInt(tlsData.size), BigInt(tlsData.align), DATA_SECTION.tls.flags, rw);
    dataSections.set("tls", tls);
  }
  const rwMemEnd = cursor;

  // Segment 3, `ro`: functions and read-only data, memory only. Its offsets start where segment
  // 2's memory ends, so that no two segments' offset ranges meet (eu-elflint places
  // sections in segments by offset).
  const roOffset = rw.offset + Number(rwMemEnd - rw.vaddr);
  const roStart = alignUpBig(rwMemEnd, page) + (BigInt(roOffset) % page);
  cursor = roStart;
  const ro = { offset: roOffset, vaddr: roStart };
  // Each function its own address, with room for its size (sizes come from the hints).
  const codeSymbols = [...textFns, ...others];
  // Per-symbol arithmetic in numbers (a stub's addresses stay far below 2^53).
  const codeSize = (s: StubSymbol, otherwise: number) => (s.kind === "export" ? s.size : null) ?? otherwise;
  const stride = Number(FUNCTION_STRIDE);
  const codeOffsets: number[] = [];
  let codeEnd = 0;
  for (const s of codeSymbols) {
    codeOffsets.push(codeEnd);
    codeEnd += Math.ceil((codeSize(s, 1) || 1) / stride) * stride;
  }
  const text = nobits(".stub.text", BigInt(codeEnd), FUNCTION_STRIDE, SHF_ALLOC, ro);
  placeData("readonly", ro);
  const roEnd = cursor;
  // The sizes a manifest gives must fit the class's address space (and exact arithmetic).
  const limit = is64 ? 2n ** 53n : 2n ** 32n;
  if (roEnd >= limit || rwMemEnd >= limit) throw new InputError(`its symbols' sizes and alignments do not fit a ${m.class}-bit address space`);

  // Symbols, now that addresses are known.
  const values = new Map<StubSymbol, { value: number; size: number; shndx: number }>();
  // Section indexes, in the order the headers are written below.
  const warnings = m.hints?.warnings ?? [];
  const sections = sectionList();
  // e_shnum and section indexes are 16 bits below SHN_LORESERVE (0xff00).
  if (sections.length >= 0xff00) throw new InputError(`would need ${sections.length} sections (hint-warning lines), more than an ELF section index can number`);
  const firstWarning = sections.length - 1 - warnings.length;
  const indexOf = (name: string) => sections.findIndex((s) => s.name === name);
  const textIndex = indexOf(".stub.text");
  const textAddr = Number(text.addr);
  codeSymbols.forEach((s, i) => values.set(s, { value: textAddr + codeOffsets[i]!, size: codeSize(s, 0), shndx: textIndex }));
  const opdIndex = indexOf(".opd");
  if (rOpd) functions.forEach((s, i) => values.set(s, { value: Number(rOpd.vaddr) + i * Number(OPD_ENTRY), size: codeSize(s, Number(OPD_ENTRY)), shndx: opdIndex }));
  const dataIndex = new Map([...dataSections].map(([k, sec]) => [k, indexOf(sec.name)]));
  for (const s of syms) {
    if (s.kind !== "export" || !s.symbol.data) continue;
    const kind = kindOf(s.symbol);
    const sec = dataSections.get(kind)!;
    const offset = data.get(kind)!.offsets.get(exportId(s)!)!;
    // TLS values are offsets in the TLS template.
    values.set(s, { value: kind === "tls" ? offset : Number(sec.addr) + offset, size: s.symbol.data.size, shndx: dataIndex.get(kind)! });
  }

  function sectionList(): Section[] {
    const progbits = (name: string, r: Reservation, type: number, flags: number, align: number, entsize = 0): Section => ({
      name,
      header: { sh_type: type, sh_flags: BigInt(flags), sh_addr: r.vaddr, sh_offset: BigInt(r.offset), sh_size: BigInt(r.size), sh_link: 0, sh_info: 0, sh_addralign: BigInt(align), sh_entsize: BigInt(entsize) },
    });
    const list: Section[] = [{ name: "", header: { sh_type: 0, sh_flags: 0n, sh_addr: 0n, sh_offset: 0n, sh_size: 0n, sh_link: 0, sh_info: 0, sh_addralign: 0n, sh_entsize: 0n } }];
    list.push(progbits(".hash", rHash, SHT_HASH, SHF_ALLOC, hashEntry, hashEntry));
    // GNU ld gives .gnu.hash an entry size in ELF32 only (eu-elflint expects it there).
    list.push(progbits(".gnu.hash", rGnuHash, SHT_GNU_HASH, SHF_ALLOC, word, is64 ? 0 : 4));
    list.push(progbits(".dynsym", rDynsym, SHT_DYNSYM, SHF_ALLOC, word, symSize));
    list.push(progbits(".dynstr", rDynstr, SHT_STRTAB, SHF_ALLOC, 1));
    if (rVersym) list.push(progbits(".gnu.version", rVersym, SHT_GNU_versym, SHF_ALLOC, 2, 2));
    if (rVerdef) list.push(progbits(".gnu.version_d", rVerdef, SHT_GNU_verdef, SHF_ALLOC, 4));
    if (rVerneed) list.push(progbits(".gnu.version_r", rVerneed, SHT_GNU_verneed, SHF_ALLOC, 4));
    if (rOpd) list.push(progbits(".opd", rOpd, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8));
    list.push(progbits(".dynamic", rDynamic, SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, word, dynSize));
    for (const k of ["relro", "writable", "tls"] as const) if (dataSections.has(k)) list.push(dataSections.get(k)!);
    if (hasText) list.push(text);
    if (dataSections.has("readonly")) list.push(dataSections.get("readonly")!);
    // The library's warning sections, in its order: gold reads their names before the
    // .dynsym, and its output's symbol order depends on them (LinkHints.warnings).
    for (const w of warnings) list.push({ name: `.gnu.warning.${w.symbol}`, header: { sh_type: SHT_PROGBITS, sh_flags: 0n, sh_addr: 0n, sh_offset: 0n, sh_size: 0n, sh_link: 0, sh_info: 0, sh_addralign: 1n, sh_entsize: 0n } });
    list.push({ name: ".shstrtab", header: { sh_type: SHT_STRTAB, sh_flags: 0n, sh_addr: 0n, sh_offset: 0n, sh_size: 0n, sh_link: 0, sh_info: 0, sh_addralign: 1n, sh_entsize: 0n } });
    return list;
  }
  // Links between sections.
  const link = (name: string, to: string, info = 0) => {
    const s = sections[indexOf(name)];
    if (s) s.header = { ...s.header, sh_link: indexOf(to), sh_info: info };
  };
  link(".hash", ".dynsym");
  link(".gnu.hash", ".dynsym");
  // Only the null symbol is local.
  link(".dynsym", ".dynstr", 1);
  link(".gnu.version", ".dynsym");
  link(".gnu.version_d", ".dynstr", table.defs.length);
  link(".gnu.version_r", ".dynstr", table.needs.length);
  link(".dynamic", ".dynstr");

  // Non-loaded: the warnings' texts, section names, then the section header table.
  const shstr = new StringTableBuilder();
  for (const s of sections) shstr.add(s.name);
  const shstrBytes = shstr.finish();
  fb.segment(0n, 1n);
  const warningTexts = warnings.map((w) => utf8.encode(`${w.text}\0`));
  const rWarnings = warningTexts.map((t, i) => {
    const r = fb.reserve(`.gnu.warning section ${i}`, t.length, 1);
    const sec = sections[firstWarning + i]!;
    sec.header = { ...sec.header, sh_offset: BigInt(r.offset), sh_size: BigInt(r.size) };
    return r;
  });
  const rShstr = fb.reserve(".shstrtab", shstrBytes.length, 1);
  const shentsize = sectionHeaderSize(is64);
  const rShdrs = fb.reserve("section headers", sections.length * shentsize, word);
  const shstrSec = sections[sections.length - 1]!;
  shstrSec.header = { ...shstrSec.header, sh_offset: BigInt(rShstr.offset), sh_size: BigInt(rShstr.size) };

  // Bytes.
  const symBytes = new Uint8Array(count * symSize);
  const versym = new Uint8Array(count * 2);
  const ve = new Encoder(versym, little);
  ve.u16(0, 0);
  // Written field by field: libLLVM's table has 90,000 entries.
  const view = new DataView(symBytes.buffer, symBytes.byteOffset, symBytes.byteLength);
  const word64 = (at: number, v: number) => {
    const lo = v % 0x100000000;
    const hi = Math.floor(v / 0x100000000);
    view.setUint32(at + (little ? 0 : 4), lo, little);
    view.setUint32(at + (little ? 4 : 0), hi, little);
  };
  const writeSymbol = (at: number, name: number, value: number, size: number, info: number, other: number, shndx: number) => {
    view.setUint32(at, name, little);
    if (is64) {
      view.setUint8(at + 4, info);
      view.setUint8(at + 5, other);
      view.setUint16(at + 6, shndx, little);
      word64(at + 8, value);
      word64(at + 16, size);
    } else {
      view.setUint32(at + 4, value, little);
      view.setUint32(at + 8, size, little);
      view.setUint8(at + 12, info);
      view.setUint8(at + 13, other);
      view.setUint16(at + 14, shndx, little);
    }
  };
  syms.forEach((s, i) => {
    const at = (i + 1) * symSize;
    const st_name = dynstr.offsetOf(s.name);
    if (s.kind === "marker") {
      writeSymbol(at, st_name, 0, 0, (STB_GLOBAL << 4) | STT_OBJECT, 0, SHN_ABS);
    } else if (s.kind === "import") {
      writeSymbol(at, st_name, 0, 0, ((s.hint.weak ? STB_WEAK : STB_GLOBAL) << 4) | (s.hint.type ? TYPE[s.hint.type] : STT_NOTYPE), 0, SHN_UNDEF);
    } else {
      const v = values.get(s)!;
      const info = (BIND[s.symbol.bind] << 4) | (s.ifunc && s.symbol.type === "FUNC" ? STT_GNU_IFUNC : TYPE[s.symbol.type]);
      writeSymbol(at, st_name, v.value, v.size, info, s.symbol.other, v.shndx);
    }
    ve.u16((i + 1) * 2, s.versym);
  });

  const dynEntries: DynamicEntry[] = [];
  let neededAt = 0;
  for (const tag of dynTags) {
    const val = (() => {
      switch (tag) {
        case DT_NEEDED:
          return BigInt(dynstr.offsetOf(needed[neededAt++]!));
        case DT_SONAME:
          return BigInt(dynstr.offsetOf(m.soname!));
        case DT_HASH:
          return rHash.vaddr;
        case DT_GNU_HASH:
          return rGnuHash.vaddr;
        case DT_STRTAB:
          return rDynstr.vaddr;
        case DT_SYMTAB:
          return rDynsym.vaddr;
        case DT_STRSZ:
          return BigInt(dynstrBytes.length);
        case DT_SYMENT:
          return BigInt(symSize);
        case DT_VERSYM:
          return rVersym!.vaddr;
        case DT_VERDEF:
          return rVerdef!.vaddr;
        case DT_VERDEFNUM:
          return BigInt(table.defs.length);
        case DT_VERNEED:
          return rVerneed!.vaddr;
        default:
          return BigInt(table.needs.length);
      }
    })();
    dynEntries.push({ d_tag: BigInt(tag), d_val: val });
  }

  const relroStart = rDynamic.vaddr;
  const phdrs: ProgramHeader[] = [
    load(0, STUB_SKEW, headEnd, BigInt(headEnd), PF_R, STUB_SKEW),
    load(rw.offset, rw.vaddr, fileEnd - rw.offset, rwMemEnd - rw.vaddr, PF_R | PF_W, page),
    ...(hasReadOnlySegment ? [load(roOffset, roStart, 0, roEnd - roStart, PF_R, page)] : []),
    { p_type: PT_DYNAMIC, p_flags: PF_R | PF_W, p_offset: BigInt(rDynamic.offset), p_vaddr: rDynamic.vaddr, p_paddr: rDynamic.vaddr, p_filesz: BigInt(rDynamic.size), p_memsz: BigInt(rDynamic.size), p_align: BigInt(word) },
  ];
  if (tls) phdrs.push({ p_type: PT_TLS, p_flags: PF_R, p_offset: tls.header.sh_offset, p_vaddr: tls.addr, p_paddr: tls.addr, p_filesz: 0n, p_memsz: tls.header.sh_size, p_align: tls.header.sh_addralign });
  phdrs.push({ p_type: PT_GNU_RELRO, p_flags: PF_R, p_offset: BigInt(rDynamic.offset), p_vaddr: relroStart, p_paddr: relroStart, p_filesz: BigInt(rDynamic.size), p_memsz: relroEnd - relroStart, p_align: 1n });
  phdrs.push({ p_type: PT_GNU_STACK, p_flags: PF_R | PF_W, p_offset: 0n, p_vaddr: 0n, p_paddr: 0n, p_filesz: 0n, p_memsz: 0n, p_align: 16n });

  const ehdr = new Uint8Array(ehdrSize);
  ehdr.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, little ? 1 : 2, 1, m.ei_osabi, 0]);
  writeStruct(new Encoder(ehdr, little), EI_NIDENT, elfHeaderLayout(is64), {
    e_type: ET_DYN,
    e_machine: m.e_machine,
    e_version: 1,
    e_entry: 0n,
    e_phoff: BigInt(rPhdrs.offset),
    e_shoff: BigInt(rShdrs.offset),
    e_flags: m.e_flags,
    e_ehsize: ehdrSize,
    e_phentsize: programHeaderSize(is64),
    e_phnum: phdrs.length,
    e_shentsize: shentsize,
    e_shnum: sections.length,
    e_shstrndx: sections.length - 1,
  });

  fb.write(rEhdr, ehdr);
  fb.write(rPhdrs, concat(phdrs.map((p) => encodeProgramHeader(p, is64, little)), rPhdrs.size));
  fb.write(rHash, buildSysvHash(names, nbucket, hashEntry as 4 | 8, little));
  fb.write(rGnuHash, gnuHash);
  fb.write(rDynsym, symBytes);
  fb.write(rDynstr, dynstrBytes);
  if (rVersym) fb.write(rVersym, versym);
  if (rVerdef) fb.write(rVerdef, verdefBytes);
  if (rVerneed) fb.write(rVerneed, verneedBytes);
  if (rOpd) fb.write(rOpd, new Uint8Array(rOpd.size));
  fb.write(rDynamic, encodeDynamicTable(dynEntries, dynTags.length + 1, is64, little));
  rWarnings.forEach((r, i) => fb.write(r, warningTexts[i]!));
  fb.write(rShstr, shstrBytes);
  fb.write(rShdrs, concat(sections.map((s) => encodeSectionHeader({ ...s.header, sh_name: s.name === "" ? 0 : shstr.offsetOf(s.name) }, is64, little)), rShdrs.size));
  return fb.finish();
}
