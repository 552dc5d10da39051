import { ManifestError } from "../errors.js";
import { machineFromName, machineName, osabiName } from "../elf/index.js";
import {
  compareSymbols,
  inCanonicalOrder,
  symbolId,
  symbolKey,
  type AbiBinding,
  type AbiManifest,
  type AbiSymbol,
  type AbiSymbolType,
  type HintImport,
} from "./manifest.js";

/**
 * The manifest's text form: a versioned header line, then one fact per line in a fixed
 * order, symbols sorted, single spaces. Reviewed in pull requests like glibc's .abilist.
 *
 *   abilink-abi 2
 *   soname libvers.so.1
 *   class 64
 *   data little
 *   machine x86_64
 *   osabi SYSV
 *   flags 0x0
 *   base-version libvers.so.1
 *   first-version VERS_1.0               (the version of index 2: see AbiManifest.firstVersion)
 *   version VERS_1.0
 *   symbol vers_compute@VERS_1.0 FUNC GLOBAL
 *   symbol vers_counter@@VERS_1.0 OBJECT GLOBAL size=16 align=16 writable
 *   symbol vers_protected@@VERS_1.0 FUNC GLOBAL other=0x3
 *   symbol vers_names@@VERS_1.0 OBJECT GLOBAL size=16 align=8 relro   (writable section, PT_GNU_RELRO)
 *   hint-needed libc.so.6                (only with --hints; never hashed)
 *   hint-import puts@GLIBC_2.2.5 from=libc.so.6
 *   hint-import __gmon_start__ weak
 *   hint-warning gets the%20`gets'%20function%20is%20dangerous%20and%20should%20not%20be%20used.
 *                                        (a .gnu.warning.SYMBOL section: SYMBOL, then its text unless empty)
 */
export const MANIFEST_HEADER = "abilink-abi 2";

export { ManifestError };

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: false });

/** Escapes bytes outside printable ASCII, and `%` and `@`, as %XX so names stay one token. */
export function escapeName(s: string): string {
  if (/^[\x21-\x24\x26-\x3f\x41-\x7e]+$/.test(s)) return s;
  let out = "";
  for (const b of utf8.encode(s)) {
    out += b > 0x20 && b < 0x7f && b !== 0x25 && b !== 0x40 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function unescapeName(s: string): string {
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...utf8.encode(s[i]!));
    }
  }
  return utf8d.decode(new Uint8Array(bytes));
}

const hex = (n: number) => `0x${n.toString(16)}`;

function symbolLine(s: AbiSymbol, align: (size: number, align: number) => number, versions: Map<string, string>, relro: boolean): string {
  let line = `symbol ${escapeName(s.name)}`;
  if (s.version !== null) {
    // A library has few versions and many symbols: each version is escaped once.
    let v = versions.get(s.version);
    if (v === undefined) versions.set(s.version, (v = escapeName(s.version)));
    line += `${s.default ? "@@" : "@"}${v}`;
  }
  line += ` ${s.type} ${s.bind}`;
  if (s.other !== 0) line += ` other=${hex(s.other)}`;
  if (s.data) {
    line += ` size=${s.data.size} align=${align(s.data.size, s.data.align)} ${dataKind(s, relro)}`;
    if (s.data.alias !== undefined) line += ` alias=${escapeAlias(s.data.alias)}`;
  }
  return line;
}

const dataKind = (s: AbiSymbol, relro: boolean) => (s.data!.readonly ? (s.data!.relro && relro ? "relro" : "readonly") : "writable");

/** Alias keys are `name@version` ids; escape each half so `@` stays the separator. */
function escapeAlias(id: string): string {
  const at = id.indexOf("@");
  return at < 0 ? escapeName(id) : `${escapeName(id.slice(0, at))}@${escapeName(id.slice(at + 1))}`;
}

function unescapeAlias(s: string): string {
  const at = s.indexOf("@");
  return at < 0 ? unescapeName(s) : `${unescapeName(s.slice(0, at))}@${unescapeName(s.slice(at + 1))}`;
}

export interface PrintOptions {
  /** Print the link hints too (default: when present). */
  hints?: boolean;
  /** Rewrites each data symbol's alignment as printed (the hash prints normalized values). */
  alignment?: (size: number, align: number) => number;
  /** Print `relro` for data read-only through PT_GNU_RELRO only (default); false prints `readonly` (the hash). */
  relro?: boolean;
}

const asObserved = (_size: number, align: number) => align;

/** Lines handed to a writer at once. */
const CHUNK_LINES = 1024;

/** The canonical text of a manifest. Printing a parsed manifest gives the same bytes back. */
export function printManifest(m: AbiManifest, options: PrintOptions = {}): string {
  const parts: string[] = [];
  writeManifest(m, options, (text) => parts.push(text));
  return parts.join("");
}

/**
 * The canonical text of a manifest, handed to `write` in pieces of whole lines (a large
 * library's text runs to megabytes; a digest need not hold it all at once).
 */
export function writeManifest(m: AbiManifest, options: PrintOptions, write: (text: string) => void): void {
  const lines = [
    MANIFEST_HEADER,
    `soname ${m.soname === null ? "-" : escapeName(m.soname)}`,
    `class ${m.class}`,
    `data ${m.data}`,
    `machine ${machineName(m.e_machine, m.class)}`,
    `osabi ${osabiName(m.ei_osabi)}`,
    `flags ${hex(m.e_flags)}`,
  ];
  if (m.baseVersion !== null) lines.push(`base-version ${escapeName(m.baseVersion)}`);
  if (m.firstVersion !== null || m.versions.length > 0) lines.push(`first-version ${m.firstVersion === null ? "-" : escapeName(m.firstVersion)}`);
  for (const v of [...m.versions].sort()) lines.push(`version ${escapeName(v)}`);
  const align = options.alignment ?? asObserved;
  const versions = new Map<string, string>();
  for (const s of inCanonicalOrder(m.symbols)) {
    lines.push(symbolLine(s, align, versions, options.relro !== false));
    if (lines.length >= CHUNK_LINES) {
      write(lines.join("\n") + "\n");
      lines.length = 0;
    }
  }
  if (m.hints && options.hints !== false) {
    for (const n of m.hints.needed) lines.push(`hint-needed ${escapeName(n)}`);
    for (const i of m.hints.imports) lines.push(`hint-import ${escapeAlias(i.symbol)}${i.from !== undefined ? ` from=${escapeName(i.from)}` : ""}${i.weak ? " weak" : ""}${i.type !== undefined ? ` type=${i.type}` : ""}`);
    if (m.hints.order) lines.push(`hint-order buckets=${m.hints.order.buckets}${m.hints.order.indexes.map((i) => ` ${i}`).join("")}`);
    if (m.hints.sizes) lines.push(`hint-sizes${m.hints.sizes.map((n) => ` ${n}`).join("")}`);
    if (m.hints.ifuncs) lines.push(`hint-ifunc${m.hints.ifuncs.map((n) => ` ${n}`).join("")}`);
    if (m.hints.versionOrder) lines.push(`hint-versions${m.hints.versionOrder.map((v) => ` ${escapeName(v)}`).join("")}`);
    for (const w of m.hints.warnings ?? []) lines.push(`hint-warning ${escapeName(w.symbol)}${w.text !== "" ? ` ${escapeName(w.text)}` : ""}`);
  }
  if (lines.length > 0) write(lines.join("\n") + "\n");
}


const osabiNumbers = new Map<string, number>();
for (let v = 0; v < 256; v++) osabiNumbers.set(osabiName(v), v);

const symbolTypes: readonly AbiSymbolType[] = ["FUNC", "OBJECT", "TLS", "NOTYPE"];
const bindings: readonly AbiBinding[] = ["GLOBAL", "WEAK", "GNU_UNIQUE"];

/** True when the text starts like a manifest (after optional comments). */
export function looksLikeManifest(text: string): boolean {
  for (const line of text.split("\n", 50)) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    return t.startsWith("abilink-abi ");
  }
  return false;
}

/**
 * Parses a manifest. Blank lines and `#` comments are allowed anywhere; facts may come
 * in any order (printing puts them back in canonical order). Errors name the line.
 */
export function parseManifest(text: string, file?: string): AbiManifest {
  const fail = (line: number, msg: string): never => {
    throw new ManifestError(msg, line, file);
  };
  const m: Partial<AbiManifest> & { versions: string[]; symbols: AbiSymbol[] } = { versions: [], symbols: [] };
  const seen = new Set<string>();
  const symbolIds = new Map<string, number>();
  let header = false;
  let firstVersionLine = 0;
  let orderLine = 0;
  let sizesLine = 0;
  let ifuncLine = 0;
  let versionsLine = 0;
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    const words = line.split(" ");
    if (words.some((w) => w === "")) fail(n, "fields must be separated by single spaces");
    if (!header) {
      if (line === "abilink-abi 1") {
        fail(n, `format 1 is an older abilink's, without "first-version": write the manifest again with \`abilink abi\``);
      }
      if (line !== MANIFEST_HEADER) {
        fail(n, line.startsWith("abilink-abi ") ? `unsupported manifest format "${line}" (expected "${MANIFEST_HEADER}")` : `expected "${MANIFEST_HEADER}"`);
      }
      header = true;
      return;
    }
    const [key, ...args] = words as [string, ...string[]];
    const single = () => {
      if (args.length !== 1) fail(n, `"${key}" takes one value`);
      if (seen.has(key)) fail(n, `"${key}" given twice`);
      seen.add(key);
      return args[0]!;
    };
    switch (key) {
      case "soname": {
        const v = single();
        m.soname = v === "-" ? null : unescapeName(v);
        break;
      }
      case "class": {
        const v = single();
        if (v !== "32" && v !== "64") fail(n, `class must be 32 or 64, not "${v}"`);
        m.class = Number(v) as 32 | 64;
        break;
      }
      case "data": {
        const v = single();
        if (v !== "little" && v !== "big") fail(n, `data must be "little" or "big", not "${v}"`);
        m.data = v as "little" | "big";
        break;
      }
      case "machine": {
        const v = single();
        const em = /^\d+$/.test(v) ? Number(v) : machineFromName(v);
        if (em === undefined || em > 0xffff) fail(n, `unknown machine "${v}"`);
        m.e_machine = em!;
        break;
      }
      case "osabi": {
        const v = single();
        const o = osabiNumbers.get(v);
        if (o === undefined) fail(n, `unknown osabi "${v}"`);
        m.ei_osabi = o!;
        break;
      }
      case "flags": {
        const v = single();
        if (!/^0x[0-9a-f]+$/.test(v) || parseInt(v, 16) > 0xffffffff) fail(n, `flags must be lower-case hex like 0x0, not "${v}"`);
        m.e_flags = parseInt(v, 16);
        break;
      }
      case "base-version":
        m.baseVersion = unescapeName(single());
        break;
      case "first-version": {
        const v = single();
        m.firstVersion = v === "-" ? null : unescapeName(v);
        firstVersionLine = n;
        break;
      }
      case "version": {
        if (args.length !== 1) fail(n, `"version" takes one name`);
        const v = unescapeName(args[0]!);
        if (m.versions.includes(v)) fail(n, `version "${v}" listed twice`);
        m.versions.push(v);
        break;
      }
      case "symbol": {
        const s = parseSymbol(args, (msg) => fail(n, msg));
        const id = symbolId(s);
        if (symbolIds.has(id)) fail(n, `symbol "${symbolKey(s)}" listed twice (first on line ${symbolIds.get(id)})`);
        symbolIds.set(id, n);
        m.symbols.push(s);
        break;
      }
      case "hint-needed":
        if (args.length !== 1) fail(n, `"hint-needed" takes one name`);
        (m.hints ??= { needed: [], imports: [] }).needed.push(unescapeName(args[0]!));
        break;
      case "hint-import": {
        if (args.length < 1) fail(n, `"hint-import" takes a symbol, then from=FILE and weak when they apply`);
        const h: HintImport = { symbol: unescapeAlias(args[0]!) };
        const at = h.symbol.indexOf("@");
        if (h.symbol === "" || at === 0 || at === h.symbol.length - 1) fail(n, `bad symbol "${args[0]}" for "hint-import"`);
        for (const f of args.slice(1)) {
          if (f.startsWith("from=") && f.length > 5 && h.from === undefined && args[0]!.includes("@")) h.from = unescapeName(f.slice(5));
          else if (f === "weak" && !h.weak) h.weak = true;
          else if (/^type=(FUNC|OBJECT|TLS)$/.test(f) && h.type === undefined) h.type = f.slice(5) as HintImport["type"];
          else fail(n, `bad field "${f}" for "hint-import" (from=FILE for a versioned symbol, weak, type=FUNC|OBJECT|TLS)`);
        }
        const hints = (m.hints ??= { needed: [], imports: [] });
        if (hints.imports.some((x) => x.symbol === h.symbol)) fail(n, `"hint-import ${args[0]}" given twice`);
        hints.imports.push(h);
        break;
      }
      case "hint-order": {
        if (m.hints?.order) fail(n, `"hint-order" given twice`);
        const buckets = /^buckets=([1-9]\d*)$/.exec(args[0] ?? "");
        if (!buckets || !args.slice(1).every((a) => /^(0|[1-9]\d*)$/.test(a))) fail(n, `"hint-order" takes buckets=N, then symbol indexes`);
        (m.hints ??= { needed: [], imports: [] }).order = { buckets: Number(buckets![1]), indexes: args.slice(1).map(Number) };
        orderLine = n;
        break;
      }
      case "hint-sizes":
        if (m.hints?.sizes) fail(n, `"hint-sizes" given twice`);
        if (!args.every((a) => /^(0|[1-9]\d*)$/.test(a) && Number.isSafeInteger(Number(a)))) fail(n, `"hint-sizes" takes sizes`);
        (m.hints ??= { needed: [], imports: [] }).sizes = args.map(Number);
        sizesLine = n;
        break;
      case "hint-ifunc":
        if (m.hints?.ifuncs) fail(n, `"hint-ifunc" given twice`);
        if (args.length === 0 || !args.every((a) => /^(0|[1-9]\d*)$/.test(a))) fail(n, `"hint-ifunc" takes indexes of FUNC and NOTYPE symbols`);
        (m.hints ??= { needed: [], imports: [] }).ifuncs = args.map(Number);
        ifuncLine = n;
        break;
      case "hint-versions":
        if (m.hints?.versionOrder) fail(n, `"hint-versions" given twice`);
        if (args.length === 0) fail(n, `"hint-versions" takes version names`);
        (m.hints ??= { needed: [], imports: [] }).versionOrder = args.map(unescapeName);
        versionsLine = n;
        break;
      case "hint-warning": {
        // In section order, as the lines come: gold's output depends on it (LinkHints.warnings).
        if (args.length < 1 || args.length > 2) fail(n, `"hint-warning" takes a symbol, then the warning's text when it has one`);
        const hints = (m.hints ??= { needed: [], imports: [] });
        (hints.warnings ??= []).push({ symbol: unescapeName(args[0]!), text: args.length === 2 ? unescapeName(args[1]!) : "" });
        break;
      }
      default:
        fail(n, `unknown fact "${key}"`);
    }
  });
  const hints = m.hints;
  if (hints?.ifuncs) {
    const code = (m.symbols ?? []).filter((s) => !s.data).length;
    if (hints.ifuncs.some((i) => i >= code) || new Set(hints.ifuncs).size !== hints.ifuncs.length) fail(ifuncLine, `"hint-ifunc" names a symbol that is not one of the ${code} FUNC and NOTYPE symbols, or one twice`);
  }
  if (hints?.versionOrder) {
    const same = hints.versionOrder.length === (m.versions ?? []).length && [...hints.versionOrder].sort().join("\0") === [...(m.versions ?? [])].sort().join("\0");
    if (!same) fail(versionsLine, `"hint-versions" must list each "version" once`);
    if (m.firstVersion !== undefined && m.firstVersion !== null && hints.versionOrder[0] !== m.firstVersion) fail(versionsLine, `"hint-versions" must start with the first version (${m.firstVersion})`);
  }

  if (hints?.order) {
    const total = (m.symbols?.length ?? 0) + hints.imports.length;
    const limit = total + (hints.versionOrder?.length ?? 0);
    const seen = new Set(hints.order.indexes);
    if (seen.size !== hints.order.indexes.length || hints.order.indexes.some((i) => i >= limit) || hints.order.indexes.filter((i) => i < total).length !== total) {
      fail(orderLine, `"hint-order" must list each of the ${total} symbols and imports once (then version markers, by their place in "hint-versions")`);
    }
    // Linkers choose at most a few buckets per symbol; a larger count is not a library's.
    if (hints.order.buckets > 4 * hints.order.indexes.length + 1024) fail(orderLine, `"hint-order" has ${hints.order.buckets} buckets for ${hints.order.indexes.length} symbols`);
  }
  if (hints?.sizes) {
    const code = (m.symbols ?? []).filter((s) => !s.data).length;
    if (hints.sizes.length !== code) fail(sizesLine, `"hint-sizes" must give one size for each of the ${code} FUNC and NOTYPE symbols`);
  }
  if (!header) fail(1, `expected "${MANIFEST_HEADER}"`);
  for (const [k, field] of [["class", "class"], ["data", "data"], ["machine", "e_machine"]] as const) {
    if (m[field] === undefined) fail(lines.length || 1, `missing "${k}"`);
  }
  for (const s of m.symbols) {
    if (s.version !== null && s.version !== m.baseVersion && !m.versions.includes(s.version)) {
      fail(symbolIds.get(symbolId(s))!, `symbol "${symbolKey(s)}" uses version "${s.version}", which no "version" line defines`);
    }
  }
  if (m.firstVersion !== undefined && m.firstVersion !== null && !m.versions.includes(m.firstVersion)) {
    fail(firstVersionLine, `"first-version ${m.firstVersion}" names a version no "version" line defines`);
  }
  if (m.firstVersion === undefined && m.versions.length > 0) fail(lines.length || 1, `missing "first-version" (the version of index 2)`);
  for (const s of m.symbols) if (s.data?.alias === symbolId(s)) delete s.data.alias;
  m.versions.sort();
  m.symbols.sort(compareSymbols);
  return {
    soname: m.soname ?? null,
    class: m.class!,
    data: m.data!,
    e_machine: m.e_machine!,
    ei_osabi: m.ei_osabi ?? 0,
    e_flags: m.e_flags ?? 0,
    baseVersion: m.baseVersion ?? null,
    versions: m.versions,
    firstVersion: m.firstVersion ?? null,
    symbols: m.symbols,
    ...(m.hints ? { hints: m.hints } : {}),
  };
}

function parseSymbol(args: string[], fail: (msg: string) => never): AbiSymbol {
  if (args.length < 3) fail(`"symbol" needs a name, a type and a binding`);
  const [key, type, bind, ...rest] = args as [string, string, string, ...string[]];
  const at2 = key.indexOf("@@");
  const at1 = key.indexOf("@");
  let name: string;
  let version: string | null = null;
  let isDefault = false;
  if (at2 >= 0) {
    name = key.slice(0, at2);
    version = key.slice(at2 + 2);
    isDefault = true;
  } else if (at1 >= 0) {
    name = key.slice(0, at1);
    version = key.slice(at1 + 1);
  } else {
    name = key;
  }
  if (name === "" || version === "" || (version !== null && version.includes("@"))) fail(`bad symbol "${key}"`);
  if (!symbolTypes.includes(type as AbiSymbolType)) fail(`unknown symbol type "${type}" (expected ${symbolTypes.join(", ")})`);
  if (!bindings.includes(bind as AbiBinding)) fail(`unknown binding "${bind}" (expected ${bindings.join(", ")})`);
  const s: AbiSymbol = {
    name: unescapeName(name),
    version: version === null ? null : unescapeName(version),
    default: isDefault,
    type: type as AbiSymbolType,
    bind: bind as AbiBinding,
    other: 0,
  };
  const isData = type === "OBJECT" || type === "TLS";
  let size: number | undefined;
  let align: number | undefined;
  let readonly: boolean | undefined;
  let relro = false;
  let alias: string | undefined;
  for (const f of rest) {
    const [k, v] = f.includes("=") ? [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)] : [f, undefined];
    if (k === "other" && v !== undefined && /^0x[0-9a-f]+$/.test(v) && parseInt(v, 16) <= 0xff && parseInt(v, 16) !== 0) s.other = parseInt(v, 16);
    else if (isData && k === "size" && v !== undefined && /^(0|[1-9]\d*)$/.test(v) && Number.isSafeInteger(Number(v))) size = Number(v);
    else if (isData && k === "align" && v !== undefined && /^[1-9]\d*$/.test(v) && Number(v) <= 2 ** 30 && Number.isInteger(Math.log2(Number(v)))) align = Number(v);
    else if (isData && (k === "readonly" || k === "writable" || k === "relro") && v === undefined && readonly === undefined) {
      readonly = k !== "writable";
      relro = k === "relro";
    }
    else if (isData && k === "alias" && v) alias = unescapeAlias(v);
    else fail(`bad field "${f}" for a ${type} symbol`);
  }
  if (isData) {
    if (size === undefined || align === undefined || readonly === undefined) {
      fail(`a ${type} symbol needs size=, align= and readonly, relro or writable`);
    }
    s.data = { size: size!, align: align!, readonly: readonly! };
    if (relro) s.data.relro = true;
    if (alias !== undefined) s.data.alias = alias;
  }
  return s;
}

/** A manifest symbol as JSON: inspect's field names (`visibility` besides the raw `other`), data fields flat. */
export interface ManifestSymbolJson {
  name: string;
  version: string | null;
  default: boolean;
  type: AbiSymbolType;
  bind: AbiBinding;
  visibility: string;
  other: number;
  size?: number;
  align?: number;
  readonly?: boolean;
  relro?: true;
  alias?: string;
}

/** A manifest as JSON, with the field names and value spellings of `inspect` and `scan` (machine and OS/ABI by name). */
export interface ManifestJson {
  soname: string | null;
  class: 32 | 64;
  endian: "little" | "big";
  machine: string | number;
  osabi: string;
  e_flags: number;
  baseVersion: string | null;
  firstVersion: string | null;
  versions: string[];
  symbols: ManifestSymbolJson[];
  hints?: AbiManifest["hints"];
}

const VISIBILITY = ["DEFAULT", "INTERNAL", "HIDDEN", "PROTECTED"] as const;

export function manifestJson(m: AbiManifest, options: PrintOptions = {}): ManifestJson {
  const align = options.alignment ?? asObserved;
  const out: ManifestJson = {
    soname: m.soname,
    class: m.class,
    endian: m.data,
    machine: machineName(m.e_machine, m.class),
    osabi: osabiName(m.ei_osabi),
    e_flags: m.e_flags,
    baseVersion: m.baseVersion,
    firstVersion: m.firstVersion,
    versions: m.versions,
    symbols: inCanonicalOrder(m.symbols).map((s) => ({
      name: s.name,
      version: s.version,
      default: s.default,
      type: s.type,
      bind: s.bind,
      visibility: VISIBILITY[s.other & 3]!,
      other: s.other,
      ...(s.data
        ? {
            size: s.data.size,
            align: align(s.data.size, s.data.align),
            readonly: s.data.readonly,
            ...(s.data.relro && options.relro !== false ? { relro: true as const } : {}),
            ...(s.data.alias !== undefined ? { alias: s.data.alias } : {}),
          }
        : {}),
    })),
  };
  if (m.hints && options.hints !== false) out.hints = m.hints;
  return out;
}
