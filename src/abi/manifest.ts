import { InputError } from "../errors.js";
import {
  DF_1_PIE,
  ET_EXEC,
  ET_REL,
  PF_W,
  PT_GNU_RELRO,
  PT_LOAD,
  PT_TLS,
  SHF_WRITE,
  SHN_ABS,
  SHN_COMMON,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_NOBITS,
  STB_GNU_UNIQUE,
  STB_LOCAL,
  STB_WEAK,
  STT_COMMON,
  STT_FUNC,
  STT_GNU_IFUNC,
  STT_NOTYPE,
  STT_OBJECT,
  STT_TLS,
  STV_HIDDEN,
  STV_INTERNAL,
  VER_FLG_BASE,
  ElfError,
  MalformedError,
  decodeString,
  symbolBind,
  symbolSize,
  symbolType,
  type DynamicSymbol,
  type ElfFile,
} from "../elf/index.js";
import { sortByStringKey } from "./string-sort.js";

/** The ELF-level interface of a shared library: what a consumer links and binds against. */
export interface AbiManifest {
  soname: string | null;
  class: 32 | 64;
  data: "little" | "big";
  e_machine: number;
  ei_osabi: number;
  e_flags: number;
  /** The base version (VER_FLG_BASE, normally the SONAME), or null without .gnu.version_d. */
  baseVersion: string | null;
  /** Every other version name defined, sorted. */
  versions: string[];
  /**
   * The version of index 2, the first after the base: ld.so binds an unversioned reference
   * to a definition of this version even when it is hidden (`name@V`), and to one of a later
   * version only when it is the single default. Null without versions.
   */
  firstVersion: string | null;
  /** Exported symbols, in canonical order (see `compareSymbols`). */
  symbols: AbiSymbol[];
  /** Link hints, never hashed: present only when asked for. */
  hints?: LinkHints;
}

export type AbiSymbolType = "FUNC" | "OBJECT" | "TLS" | "NOTYPE";
export type AbiBinding = "GLOBAL" | "WEAK" | "GNU_UNIQUE";

export interface AbiSymbol {
  name: string;
  /** Version name, or null for an unversioned symbol. */
  version: string | null;
  /** `name@@version` (true) or hidden `name@version` (false); false when unversioned. */
  default: boolean;
  /** GNU_IFUNC is recorded as FUNC: consumers cannot tell them apart. */
  type: AbiSymbolType;
  bind: AbiBinding;
  /** The whole st_other byte: visibility plus processor flags (e.g. STO_AARCH64_VARIANT_PCS). */
  other: number;
  /** OBJECT and TLS only. */
  data?: AbiData;
}

export interface AbiData {
  size: number;
  /** Observed alignment, as GNU ld derives it for a copy relocation. */
  align: number;
  readonly: boolean;
  /**
   * Read-only through PT_GNU_RELRO only: its section is writable (`.data.rel.ro`), which GNU
   * ld reads as writable when it places a copy relocation, where lld and mold read the
   * program headers and see read-only. Never hashed (the hash folds it into `readonly`).
   */
  relro?: true;
  /**
   * When several names share this address: the key (`name@version`) of the group's first
   * member, on every other member. The first member has none: it is never its own alias.
   */
  alias?: string;
}

export interface LinkHints {
  needed: string[];
  /** Every imported symbol, sorted by `symbol`. */
  imports: HintImport[];
  /**
   * The library's .dynsym order, which GNU ld, gold and mold follow when they number the
   * output's dynamic symbols and strings: indexes into the symbols (canonical order), then
   * the imports, then the versions of versionOrder (GNU ld's ABS marker symbol of a version,
   * where the library has one); with the GNU hash bucket count under which it is valid.
   */
  order?: { buckets: number; indexes: number[] };
  /** st_size of each FUNC and NOTYPE symbol, in canonical order: mold and GNU ld copy it into programs. */
  sizes?: number[];
  /** Which of those (indexes among them) are GNU_IFUNC: mold copies the type into programs. */
  ifuncs?: number[];
  /** The version names from index 2 on, in index order: lld orders a program's requirements by it. */
  versionOrder?: string[];
  /**
   * The library's `.gnu.warning.SYMBOL` sections, in section order. GNU ld and gold print
   * the text when a program refers to SYMBOL. gold also enters each SYMBOL into its pool of
   * symbol names when it lays out the library's sections, before it reads the library's
   * .dynsym; that pool numbers names in the order it first sees them, the numbers are the
   * keys of gold's symbol hash table, and the table's iteration order is the order of the
   * program's .dynsym, .symtab and relocations. So the names, and their order, decide
   * gold's output (glibc's libc.so.6 has 27 such sections: gets, tmpnam, ...).
   */
  warnings?: HintWarning[];
}

/** A `.gnu.warning.SYMBOL` section: SYMBOL, and the text up to the first NUL ("" when empty). */
export interface HintWarning {
  symbol: string;
  text: string;
}

/** An undefined symbol of the library: linkers check that something defines it (unless weak). */
export interface HintImport {
  /** `name@version`, or `name` when unversioned. */
  symbol: string;
  /** The file named by the version requirement (`.gnu.version_r`) of a versioned import. */
  from?: string;
  /** A weak reference: nothing need define it. */
  weak?: true;
  /** The reference's symbol type, when not NOTYPE: linkers refuse a TLS reference to non-TLS data and the reverse. */
  type?: "FUNC" | "OBJECT" | "TLS";
}

/** `name@version`, `name@@version` or `name`: how readelf and the manifest write a symbol. */
export function symbolKey(s: Pick<AbiSymbol, "name" | "version" | "default">): string {
  return s.version === null ? s.name : `${s.name}${s.default ? "@@" : "@"}${s.version}`;
}

/** Identity of a symbol for comparisons: the name and version, not the @/@@ flag. */
export function symbolId(s: Pick<AbiSymbol, "name" | "version">): string {
  return s.version === null ? s.name : `${s.name}@${s.version}`;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The order of symbols with the same name. */
function compareVersions(a: AbiSymbol, b: AbiSymbol): number {
  return cmp(a.version ?? "", b.version ?? "") || Number(a.default) - Number(b.default);
}

const symbolName = (s: AbiSymbol) => s.name;

export function compareSymbols(a: AbiSymbol, b: AbiSymbol): number {
  return cmp(a.name, b.name) || compareVersions(a, b);
}

/** Symbol arrays extractManifest sorted itself: printing them skips the order check. */
const canonical = new WeakSet<readonly AbiSymbol[]>();

/** `symbols` in canonical order: the array itself when it already is (manifests are kept sorted). */
export function inCanonicalOrder(symbols: readonly AbiSymbol[]): readonly AbiSymbol[] {
  if (canonical.has(symbols)) return symbols;
  for (let i = 1; i < symbols.length; i++) {
    if (compareSymbols(symbols[i - 1]!, symbols[i]!) > 0) return [...symbols].sort(compareSymbols);
  }
  return symbols;
}

/** The manifest's type for an ELF symbol type, or null for a type that is not ABI. */
function abiType(stt: number): AbiSymbolType | null {
  switch (stt) {
    case STT_FUNC:
    case STT_GNU_IFUNC:
      return "FUNC";
    case STT_OBJECT:
    case STT_COMMON:
      return "OBJECT";
    case STT_TLS:
      return "TLS";
    case STT_NOTYPE:
      return "NOTYPE";
    default:
      return null;
  }
}

function abiBinding(stb: number): AbiBinding {
  return stb === STB_WEAK ? "WEAK" : stb === STB_GNU_UNIQUE ? "GNU_UNIQUE" : "GLOBAL";
}

/** Defined, not LOCAL, and visible outside the object (DEFAULT or PROTECTED). */
export function isExported(s: DynamicSymbol): boolean {
  return exportedRaw(s.st_info, s.st_other, s.st_shndx);
}

/** isExported on the raw fields: defined, not LOCAL, visibility default or protected. */
function exportedRaw(st_info: number, st_other: number, st_shndx: number): boolean {
  if (st_shndx === SHN_UNDEF || st_info >> 4 === STB_LOCAL) return false;
  const vis = st_other & 3;
  return vis !== STV_HIDDEN && vis !== STV_INTERNAL;
}


/** What DataLayout needs of a symbol. */
export type DataSymbol = Pick<DynamicSymbol, "st_shndx" | "st_value" | "type">;

/**
 * Where data symbols live and what that says about them, computed once per file: the
 * address a symbol stands for, its observed alignment and whether it is read-only.
 */
export class DataLayout {
  private readonly sections;
  private readonly tlsBase: bigint;
  private readonly tlsAlign: bigint;
  private readonly relro: { start: bigint; end: bigint }[];
  private readonly loads: { start: bigint; end: bigint; writable: boolean }[];

  constructor(elf: ElfFile) {
    this.sections = elf.sectionsIfUsable();
    const tls = elf.programHeaders.find((p) => p.p_type === PT_TLS);
    this.tlsBase = tls?.p_vaddr ?? 0n;
    this.tlsAlign = tls && tls.p_align > 0n ? tls.p_align : 1n;
    this.relro = elf.programHeaders
      .filter((p) => p.p_type === PT_GNU_RELRO)
      .map((p) => ({ start: p.p_vaddr, end: p.p_vaddr + p.p_memsz }));
    this.loads = elf.programHeaders
      .filter((p) => p.p_type === PT_LOAD)
      .map((p) => ({ start: p.p_vaddr, end: p.p_vaddr + p.p_memsz, writable: (p.p_flags & PF_W) !== 0 }));
  }

  private section(s: DataSymbol) {
    const secs = this.sections;
    return secs && s.st_shndx !== SHN_UNDEF && s.st_shndx < SHN_LORESERVE && s.st_shndx < secs.length ? secs[s.st_shndx]! : null;
  }

  /** The address a data symbol stands for: TLS values are offsets in the PT_TLS template. */
  address(s: DataSymbol): bigint {
    return s.type === "TLS" ? this.tlsBase + s.st_value : s.st_value;
  }

  /**
   * Alignment as GNU ld observes it for a copy relocation (_bfd_elf_adjust_dynamic_copy):
   * the containing section's alignment, halved while the symbol's offset in the section is
   * not a multiple of it. Without section headers the segment gives the bound.
   */
  alignment(s: DataSymbol, address: bigint): number {
    if (s.st_shndx === SHN_COMMON) return Number(s.st_value) || 1;
    const sec = this.section(s);
    let bound: bigint;
    let base = 0n;
    if (sec) {
      bound = sec.sh_addralign > 0n ? sec.sh_addralign : 1n;
      base = sec.sh_addr;
    } else if (s.type === "TLS") {
      bound = this.tlsAlign;
      base = this.tlsBase;
    } else {
      // No section to ask: the address itself, capped at a cache line.
      bound = 64n;
    }
    // GNU ld halves the section's alignment until it divides the offset: the smaller of
    // the two low bits. A bound that is not a power of two counts as its low bit.
    const limit = bound & -bound;
    const offset = address - base;
    const offsetBit = offset & -offset; // 0 for offset 0: divisible by anything
    const align = offsetBit === 0n || offsetBit > limit ? limit : offsetBit;
    return Number(align > 1n << 30n ? 1n << 30n : align);
  }

  /** In a section marked writable (SHF_WRITE), or, without sections, in a writable segment. */
  writableSection(s: DataSymbol): boolean {
    const sec = this.section(s);
    if (sec) return (sec.sh_flags & BigInt(SHF_WRITE)) !== 0n;
    const address = this.address(s);
    return this.loads.find((l) => address >= l.start && address < l.end)?.writable ?? false;
  }

  /** Read-only in the running process: outside writable sections, or inside PT_GNU_RELRO. */
  readonly(s: DataSymbol, address: bigint): boolean {
    if (s.type === "TLS") return false;
    if (this.relro.some((r) => address >= r.start && address < r.end)) return true;
    const sec = this.section(s);
    if (sec) return (sec.sh_flags & BigInt(SHF_WRITE)) === 0n;
    const load = this.loads.find((l) => address >= l.start && address < l.end);
    return load ? !load.writable : false;
  }
}

/**
 * A bound on the manifest's text. Its size is the sum of the names (with versions and
 * aliases) it repeats, and a hostile table can point thousands of symbols at one long
 * string, so that a small file asks for gigabytes of names, their sort and their text.
 * The 472 libraries of a Debian 12 /usr/lib/x86_64-linux-gnu stay under 1.3 times their
 * `.dynstr` (libpthread, whose names repeat under several versions); the bound is 16
 * times, plus 1 MiB.
 */
class TextBudget {
  private left: number;
  private readonly limit: number;

  constructor(private readonly elf: ElfFile) {
    this.limit = elf.dynsym ? 16 * elf.dynamicStrings.size + (1 << 20) : 0;
    this.left = this.limit;
  }

  spend(chars: number): void {
    this.left -= chars;
    if (this.left < 0) {
      throw new MalformedError(
        `exported names (with versions and aliases) add up to more than ${this.limit} characters, 16 times the dynamic string table: ` +
          "symbols point at the same long strings",
        this.elf.dynamicSymbolTable?.offset,
      );
    }
  }
}

export interface ExtractOptions {
  /** Add NEEDED and the imported symbols as link hints (never hashed). */
  hints?: boolean;
}

/**
 * Why a file is not a shared library, when it is not: a program (ET_EXEC, a PIE, or an
 * object with an interpreter) without a SONAME. Its manifest lists what it exports to the
 * plugins it loads, and no NEEDED entry can name it.
 */
export function notALibrary(elf: ElfFile): string | null {
  if (elf.dynamic?.soname) return null;
  const pie = ((elf.dynamic?.flags1 ?? 0) & DF_1_PIE) !== 0;
  if (elf.header.e_type === ET_EXEC || pie || elf.interpreter !== null) {
    return "is a program, not a shared library (no SONAME): its manifest lists only what it exports to plugins";
  }
  return null;
}

/**
 * The library's undefined symbols, once each, sorted: with the file their version comes from,
 * and weak ones marked; and the .dynsym index of each one's first entry.
 */
function hintImports(elf: ElfFile): { imports: HintImport[]; firstIndex: Map<HintImport, number> } {
  const seen = new Map<string, HintImport>();
  const firstIndex = new Map<HintImport, number>();
  for (const s of elf.dynamicSymbols) {
    if (s.defined || s.index === 0 || s.name === "") continue;
    const symbol = s.version ? `${s.name}@${s.version.name}` : s.name;
    if (seen.has(symbol)) continue;
    const h: HintImport = { symbol };
    if (s.version?.library) h.from = s.version.library;
    if (s.bind === "WEAK") h.weak = true;
    if (s.type === "FUNC" || s.type === "OBJECT" || s.type === "TLS") h.type = s.type;
    else if (s.type === "GNU_IFUNC") h.type = "FUNC";
    seen.set(symbol, h);
    firstIndex.set(h, s.index);
  }
  return { imports: [...seen.values()].sort((a, b) => cmp(a.symbol, b.symbol)), firstIndex };
}

const WARNING_PREFIX = ".gnu.warning.";

/**
 * The library's `.gnu.warning.SYMBOL` sections, in section order (LinkHints.warnings). A
 * section whose contents cannot be read keeps its name (what orders gold's output), with a
 * warning.
 */
function gnuWarnings(elf: ElfFile, budget: TextBudget): HintWarning[] {
  const out: HintWarning[] = [];
  for (const sec of elf.sectionsIfUsable() ?? []) {
    if (!sec.name.startsWith(WARNING_PREFIX) || sec.name.length === WARNING_PREFIX.length) continue;
    // Section names are read a byte a character; symbol names are UTF-8.
    const raw = Uint8Array.from(sec.name.slice(WARNING_PREFIX.length), (c) => c.charCodeAt(0));
    const symbol = decodeString(raw, 0, raw.length);
    let text = "";
    if (sec.sh_type !== SHT_NOBITS && sec.sh_size > 0n) {
      try {
        const bytes = elf.readAt(sec.sh_offset, sec.sh_size, `section ${sec.name}`).bytes;
        const end = bytes.indexOf(0);
        text = decodeString(bytes, 0, end < 0 ? bytes.length : end);
      } catch (e) {
        if (!(e instanceof ElfError)) throw e;
        elf.warnings.push(`${sec.name}: text ignored: ${e.message}`);
      }
    }
    budget.spend(symbol.length + text.length);
    out.push({ symbol, text });
  }
  return out;
}

/** The hint-order of a library: its .dynsym order over the manifest's symbols and imports, when it has a GNU hash table. */
function dynsymOrder(
  elf: ElfFile,
  symbols: readonly AbiSymbol[],
  dynIndex: Map<AbiSymbol, number>,
  imports: readonly HintImport[],
  firstIndex: Map<HintImport, number>,
  versionOrder: readonly string[],
  markers: Map<string, number>,
): LinkHints["order"] | null {
  const buckets = elf.gnuHashBuckets;
  if (buckets === null || buckets === 0) return null;
  const at: [number, number][] = [];
  symbols.forEach((s, i) => at.push([dynIndex.get(s)!, i]));
  imports.forEach((h, i) => at.push([firstIndex.get(h)!, symbols.length + i]));
  versionOrder.forEach((v, i) => {
    const d = markers.get(v);
    if (d !== undefined) at.push([d, symbols.length + imports.length + i]);
  });
  at.sort((a, b) => a[0] - b[0]);
  return { buckets, indexes: at.map(([, i]) => i) };
}

/**
 * Extracts the manifest of a shared library (or any linked ELF file with dynamic symbols).
 * A relocatable object (`.o`) is refused: its symbols are not an interface until linked.
 */
export function extractManifest(elf: ElfFile, options: ExtractOptions = {}): AbiManifest {
  if (elf.header.e_type === ET_REL) {
    throw new InputError("is a relocatable object (.o), not a linked library: link it into a shared library first");
  }
  const defs = elf.versionDefinitions;
  const base = defs.find((d) => (d.vd_flags & VER_FLG_BASE) !== 0);
  const versionNames = new Set(defs.filter((d) => d !== base).map((d) => d.name));
  const layout = new DataLayout(elf);
  const symbols: AbiSymbol[] = [];
  // Names at one address form an alias group; OBJECT and TLS addresses are separate spaces.
  const groups = { OBJECT: new Map<bigint, AbiSymbol[]>(), TLS: new Map<bigint, AbiSymbol[]>() };
  // Read field by field: imports (often most of a small library's table) are skipped on
  // their raw fields, and a function costs its name and version, no decoded entry.
  const table = elf.dynsym;
  const budget = new TextBudget(elf);
  const dynIndex = new Map<AbiSymbol, number>();
  const codeSizes = new Map<AbiSymbol, number>();
  const ifuncs = new Set<AbiSymbol>();
  // GNU ld's and gold's marker symbol of each version (ABS, named after it): hint-order places them.
  const markers = new Map<string, number>();
  for (let i = 1; table && i < table.count; i++) {
    const st_info = table.info(i);
    const st_shndx = table.shndx(i);
    const st_other = table.other(i);
    if (!exportedRaw(st_info, st_other, st_shndx)) continue;
    const type = abiType(symbolType(st_info));
    if (type === null) continue;
    const v = table.version(i);
    const version = v && v.library === null ? v.name : null;
    const name = table.name(i);
    // The linker's own marker for a version definition: `VERS_1.0` in ABS, named after its version.
    if (st_shndx === SHN_ABS && version !== null && name === version && table.size(i) === 0n) {
      if (options.hints && !markers.has(version)) markers.set(version, i);
      continue;
    }
    budget.spend(name.length + (version?.length ?? 0));
    const sym: AbiSymbol = {
      name,
      version,
      default: version !== null && !v!.hidden,
      type,
      bind: abiBinding(symbolBind(st_info)),
      other: st_other,
    };
    if (options.hints) {
      dynIndex.set(sym, i);
      if (type === "FUNC" || type === "NOTYPE") codeSizes.set(sym, symbolSize(table.size(i)));
      if (symbolType(st_info) === STT_GNU_IFUNC) ifuncs.add(sym);
    }
    if (type === "OBJECT" || type === "TLS") {
      const s: DataSymbol = { st_shndx, st_value: table.value(i), type: type === "TLS" ? "TLS" : "OBJECT" };
      const address = layout.address(s);
      sym.data = {
        size: symbolSize(table.size(i)),
        align: layout.alignment(s, address),
        readonly: layout.readonly(s, address),
      };
      if (sym.data.readonly && layout.writableSection(s)) sym.data.relro = true;
      const group = groups[type].get(address);
      if (group) group.push(sym);
      else groups[type].set(address, [sym]);
    }
    symbols.push(sym);
  }
  sortByStringKey(symbols, symbolName, compareVersions);
  canonical.add(symbols);
  for (const group of [...groups.OBJECT.values(), ...groups.TLS.values()]) {
    if (group.length < 2) continue;
    const first = group.map(symbolId).sort(cmp)[0]!;
    budget.spend(first.length * group.length);
    for (const s of group) if (symbolId(s) !== first) s.data!.alias = first;
  }

  const manifest: AbiManifest = {
    soname: elf.dynamic?.soname ?? null,
    class: elf.header.class,
    data: elf.header.little ? "little" : "big",
    e_machine: elf.header.e_machine,
    ei_osabi: elf.header.ei_osabi,
    e_flags: elf.header.e_flags,
    baseVersion: base?.name ?? null,
    versions: [...versionNames].sort(cmp),
    firstVersion: defs.find((d) => d !== base && d.vd_ndx === 2)?.name ?? null,
    symbols,
  };
  if (options.hints) {
    const { imports, firstIndex } = hintImports(elf);
    manifest.hints = { needed: elf.dynamic?.needed ?? [], imports };
    const byIndexOrder = defs.filter((d) => d !== base).sort((a, b) => a.vd_ndx - b.vd_ndx).map((d) => d.name);
    const order = dynsymOrder(elf, symbols, dynIndex, imports, firstIndex, byIndexOrder, markers);
    if (order) manifest.hints.order = order;
    const code = symbols.filter((s) => !s.data);
    const sizes = code.map((s) => codeSizes.get(s) ?? 0);
    if (sizes.some((n) => n !== 0)) manifest.hints.sizes = sizes;
    const ifuncIndexes = code.flatMap((s, i) => (ifuncs.has(s) ? [i] : []));
    if (ifuncIndexes.length > 0) manifest.hints.ifuncs = ifuncIndexes;
    if (byIndexOrder.length > 0) manifest.hints.versionOrder = byIndexOrder;
    const warnings = gnuWarnings(elf, budget);
    if (warnings.length > 0) manifest.hints.warnings = warnings;
  }
  return manifest;
}
