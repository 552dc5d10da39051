import type { Decoder } from "./bytes.js";
import { SHN_UNDEF } from "./section-headers.js";
import type { StringTable } from "./strings.js";
import {
  decodeSymbol,
  symbolBind,
  symbolBindName,
  symbolType,
  symbolTypeName,
  symbolVisibilityName,
  type RawSymbol,
} from "./symbols.js";
import { symbolLayout, type StructLayout } from "./structs.js";
import { resolveVersion, type SymbolVersion, type VersionDefinition, type VersionRequirementAux } from "./versions.js";

/** A dynamic symbol with its name, decoded attributes and resolved version. */
export interface DynamicSymbol extends RawSymbol {
  readonly index: number;
  readonly name: string;
  /** `GLOBAL`, `WEAK`, `GNU_UNIQUE`, `LOCAL`, or `STB_0x…`. */
  readonly bind: string;
  /** `FUNC`, `OBJECT`, `TLS`, `GNU_IFUNC`, `NOTYPE`, … or `STT_0x…`. */
  readonly type: string;
  readonly visibility: string;
  readonly defined: boolean;
  readonly version: SymbolVersion | null;
}

/** What an undefined symbol asks for: its name, the version and library required (null when unversioned), weak or not, its type. */
export interface SymbolReference {
  name: string;
  /** The version required, or null for an unversioned reference. */
  version: string | null;
  /** The library the version is required from (.gnu.version_r), when versioned. */
  library: string | null;
  weak: boolean;
  type: string;
}

/** The reference an undefined dynamic symbol makes. */
export function symbolReference(s: DynamicSymbol): SymbolReference {
  return { name: s.name, version: s.version?.name ?? null, library: s.version?.library ?? null, weak: s.bind === "WEAK", type: s.type };
}

/** Version definitions and requirements by version index, as a symbol's versym refers to them. */
export interface VersionIndex {
  readonly defs: ReadonlyMap<number, VersionDefinition>;
  readonly needs: ReadonlyMap<number, { aux: VersionRequirementAux; file: string }>;
}

/**
 * The dynamic symbol table read field by field. A scan over a large table (a library can
 * export tens of thousands of names) decodes only the fields it looks at and makes no
 * object per symbol; `symbol(i)` decodes a whole entry when one is wanted.
 */
export class DynamicSymbolTable {
  private readonly layout: StructLayout<RawSymbol>["offset"];
  private readonly entsize: number;
  /** Resolved versions by raw versym value (plus 0x10000 for a definition): few distinct values, shared. */
  private readonly versions = new Map<number, SymbolVersion | null>();

  /**
   * The string table, the versym table and the version index are asked for on first use:
   * a caller that wants only st_name or st_size never reads (or fails on) the others.
   */
  constructor(
    private readonly d: Decoder,
    /** Entries, the null entry 0 included. */
    readonly count: number,
    private readonly is64: boolean,
    private readonly tables: {
      strings: () => StringTable;
      versym: () => Decoder | null;
      versionIndex: () => VersionIndex;
    },
  ) {
    const l = symbolLayout(is64);
    this.layout = l.offset;
    this.entsize = l.size;
  }

  private stringTable: StringTable | null = null;
  /** undefined until first asked for. */
  private versymTable: Decoder | null | undefined = undefined;

  private strings(): StringTable {
    return (this.stringTable ??= this.tables.strings());
  }

  private at(i: number, field: number): number {
    return i * this.entsize + field;
  }

  info(i: number): number {
    return this.d.u8(this.at(i, this.layout.st_info));
  }

  other(i: number): number {
    return this.d.u8(this.at(i, this.layout.st_other));
  }

  shndx(i: number): number {
    return this.d.u16(this.at(i, this.layout.st_shndx));
  }

  nameOffset(i: number): number {
    return this.d.u32(this.at(i, this.layout.st_name));
  }

  value(i: number): bigint {
    return this.d.word(this.at(i, this.layout.st_value), this.is64);
  }

  size(i: number): bigint {
    return this.d.word(this.at(i, this.layout.st_size), this.is64);
  }

  name(i: number): string {
    return this.strings().get(this.nameOffset(i), this.d.base + this.at(i, 0));
  }

  /** The raw `.gnu.version` entry, or null without DT_VERSYM. */
  versymValue(i: number): number | null {
    if (this.versymTable === undefined) this.versymTable = this.tables.versym();
    return this.versymTable ? this.versymTable.u16(i * 2) : null;
  }

  /** The resolved version; the object is shared by every symbol with the same versym value. */
  version(i: number): SymbolVersion | null {
    const raw = this.versymValue(i);
    if (raw === null) return null;
    const defined = this.shndx(i) !== SHN_UNDEF;
    const key = defined ? raw | 0x10000 : raw;
    let v = this.versions.get(key);
    if (v === undefined) {
      const index = this.tables.versionIndex();
      v = resolveVersion(raw, defined, index.defs, index.needs);
      if (v) Object.freeze(v);
      this.versions.set(key, v);
    }
    return v;
  }

  /** Entry `i` decoded whole. */
  symbol(i: number): DynamicSymbol {
    const { st_name, st_value, st_size, st_info, st_other, st_shndx } = decodeSymbol(this.d, i, this.is64);
    return {
      st_name,
      st_value,
      st_size,
      st_info,
      st_other,
      st_shndx,
      index: i,
      name: this.strings().get(st_name, this.d.base + this.at(i, 0)),
      bind: symbolBindName(symbolBind(st_info)),
      type: symbolTypeName(symbolType(st_info)),
      visibility: symbolVisibilityName(st_other),
      defined: st_shndx !== SHN_UNDEF,
      version: this.version(i),
    };
  }
}
