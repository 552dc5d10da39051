// Linking programs with each of the four ELF linkers through the gcc/g++ driver, and reading
// back what a link took from the shared libraries: NEEDED, versioned imports, copy
// relocations. Shared by the stub tests (test/stub/) and, later, cross-architecture ones
// (set `driver` to a cross gcc).
import { readFileSync } from "node:fs";
import { execa } from "execa";

/** A linker as the gcc driver selects it (`-fuse-ld=NAME`). */
export interface Linker {
  name: "bfd" | "gold" | "lld" | "mold";
  /** The program `hasTool` checks, and the Debian package that has it. */
  tool: string;
  pkg: string;
}

export const LINKERS: readonly Linker[] = [
  { name: "bfd", tool: "ld.bfd", pkg: "binutils" },
  { name: "gold", tool: "ld.gold", pkg: "binutils" },
  { name: "lld", tool: "ld.lld", pkg: "lld" },
  { name: "mold", tool: "mold", pkg: "mold" },
];

/** Position-dependent or -independent executables: how objects are compiled and linked. */
export interface LinkMode {
  name: "pie" | "nopie";
  cflags: readonly string[];
  ldflags: readonly string[];
}

export const LINK_MODES: readonly LinkMode[] = [
  { name: "pie", cflags: ["-fPIE"], ldflags: ["-pie"] },
  { name: "nopie", cflags: ["-fno-pie"], ldflags: ["-no-pie"] },
];

export type Lang = "c" | "c++";
const driverFor = (lang: Lang, prefix = "") => `${prefix}${lang === "c" ? "gcc" : "g++"}`;

/** Compiles one source file to an object for `mode` (`-O2`, deterministic: no -g). */
export async function compile(src: string, out: string, opts: { lang: Lang; mode: LinkMode; include?: string[]; prefix?: string }): Promise<string> {
  const inc = (opts.include ?? []).map((d) => `-I${d}`);
  await execa(driverFor(opts.lang, opts.prefix), ["-O2", ...opts.mode.cflags, ...inc, "-c", src, "-o", out], { env: { LC_ALL: "C" } });
  return out;
}

export interface LinkRequest {
  linker: Linker;
  mode: LinkMode;
  lang: Lang;
  objects: readonly string[];
  /** `-L` directories, searched before the driver's own (so a stub `libc.so` there wins over the system's). */
  libDirs: readonly string[];
  /** `-lfoo`, `-l:libz.so.1`, … after the objects. */
  libs: readonly string[];
  out: string;
  /** Further driver arguments (e.g. `-Wl,-rpath,DIR`, `-Wl,--trace`). */
  extra?: readonly string[];
  prefix?: string;
}

export interface LinkResult {
  ok: boolean;
  out: string;
  /** stdout and stderr of the driver: the linker's diagnostics and `--trace` lines. */
  output: string;
}

/** Links through the gcc/g++ driver; never throws on a failed link (ok: false). */
export async function link(r: LinkRequest): Promise<LinkResult> {
  const args = [
    `-fuse-ld=${r.linker.name}`,
    ...r.mode.ldflags,
    ...r.libDirs.map((d) => `-L${d}`),
    ...r.objects,
    ...r.libs,
    ...(r.extra ?? []),
    "-o",
    r.out,
  ];
  const p = await execa(driverFor(r.lang, r.prefix), args, { reject: false, all: true, env: { LC_ALL: "C" }, stdin: "ignore" });
  return { ok: p.exitCode === 0, out: r.out, output: p.all ?? "" };
}

/** The shared objects (ELF files, not scripts or archives) a link read, from its `-Wl,--trace` lines. */
export function tracedSharedObjects(output: string): string[] {
  const seen = new Set<string>();
  for (let line of output.split("\n")) {
    line = line.replace(/^trace: /, "").trim();
    if (!/^\/\S*\.so(\.[0-9.]+)?$/.test(line) || !isElf(line)) continue;
    seen.add(line);
  }
  return [...seen];
}

function isElf(path: string): boolean {
  try {
    return readFileSync(path).subarray(0, 4).toString("latin1") === "\x7fELF";
  } catch {
    return false;
  }
}

async function readelfText(args: string[], path: string): Promise<string> {
  return (await execa("readelf", ["-W", ...args, path], { env: { LC_ALL: "C" }, maxBuffer: 256 * 1024 * 1024 })).stdout;
}

/** DT_NEEDED, in order. */
export async function needed(path: string): Promise<string[]> {
  return [...(await readelfText(["-d"], path)).matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1]!);
}

export interface DynSym {
  index: number;
  value: bigint;
  size: bigint;
  type: string;
  bind: string;
  vis: string;
  ndx: string;
  name: string;
  /** Null: unversioned. */
  version: string | null;
}

// readelf spells unknown types and bindings `<OS specific>: 10` (mold's IFUNC imports, UNIQUE).
const field = String.raw`(<[^>]+>: \d+|\S+)`;
const symRow = new RegExp(String.raw`^\s*(\d+):\s+([0-9a-f]+)\s+(\d+|0x[0-9a-f]+)\s+${field}\s+${field}\s+` + String.raw`(DEFAULT|HIDDEN|INTERNAL|PROTECTED)(?:\s+\[[^\]]*\])?\s+(\S+)\s?(.*)$`);

/** The `.dynsym` rows, as `readelf --dyn-syms -W` prints them (the version index in parentheses dropped). */
export async function dynamicSymbols(path: string): Promise<DynSym[]> {
  const rows: DynSym[] = [];
  for (const line of (await readelfText(["--dyn-syms"], path)).split("\n")) {
    const m = line.match(symRow);
    if (!m || m[1] === "0") continue;
    const full = m[8]!.replace(/ \(\d+\)$/, "");
    const vm = full.match(/^(.*?)@@?([^@]+)$/);
    rows.push({
      index: Number(m[1]),
      value: BigInt(`0x${m[2]}`),
      size: BigInt(m[3]!),
      type: m[4]!,
      bind: m[5]!,
      vis: m[6]!,
      ndx: m[7]!,
      name: vm ? vm[1]! : full,
      version: vm ? vm[2]! : null,
    });
  }
  return rows;
}

/**
 * What a program imports: `name@version bind` of each undefined dynamic symbol, sorted. Not
 * the type or size: mold copies st_type (IFUNC) and st_size of the library's definition into
 * the program's undefined entry, which ld.so does not read.
 */
export async function versionedImports(path: string): Promise<string[]> {
  return (await dynamicSymbols(path))
    .filter((s) => s.ndx === "UND")
    .map((s) => `${s.name}@${s.version ?? "(none)"} ${s.bind}`)
    .sort();
}

/** The program's `.gnu.version_r`: `file: version…` per library, files and versions sorted (indexes dropped). */
export async function versionNeeds(path: string): Promise<string[]> {
  const out: string[] = [];
  let cur: { file: string; versions: string[] } | null = null;
  const flush = () => cur && out.push(`${cur.file}: ${cur.versions.sort().join(" ")}`);
  let inNeeds = false;
  for (const line of (await readelfText(["-V"], path)).split("\n")) {
    if (/^Version needs section/.test(line)) inNeeds = true;
    else if (/^Version (definition|symbols) section/.test(line)) inNeeds = false;
    if (!inNeeds) continue;
    let m;
    if ((m = line.match(/Version: \d+\s+File: (\S+)\s+Cnt: \d+/))) {
      flush();
      cur = { file: m[1]!, versions: [] };
    } else if ((m = line.match(/Name: (\S+)\s+Flags: .*Version: \d+/))) cur?.versions.push(m[1]!);
  }
  flush();
  return out.sort();
}

/**
 * The copy relocations: `name@version size=N` per R_*_COPY, sorted; the size is st_size of
 * the program's (copied) definition, which is the number of bytes ld.so copies.
 */
export async function copyRelocations(path: string): Promise<string[]> {
  const syms = await dynamicSymbols(path);
  const relocs = await readelfText(["-r"], path);
  const out: string[] = [];
  for (const m of relocs.matchAll(/^\s*[0-9a-f]+\s+[0-9a-f]+\s+R_\w+_COPY\s+([0-9a-f]+)\s+(\S+)/gm)) {
    const value = BigInt(`0x${m[1]}`);
    const name = m[2]!.replace(/@.*$/, "");
    const s = syms.find((x) => x.name === name && x.value === value && x.ndx !== "UND");
    out.push(`${m[2]} size=${s?.size ?? "?"}`);
  }
  return out.sort();
}

/** The exported (defined, non-LOCAL) dynamic symbols of a program: `name@version type bind`, sorted. */
export async function exportedDefinitions(path: string): Promise<string[]> {
  return (await dynamicSymbols(path))
    .filter((s) => s.ndx !== "UND" && s.bind !== "LOCAL")
    .map((s) => `${s.name}@${s.version ?? "(none)"} ${s.type} ${s.bind}`)
    .sort();
}

/** Runs `tasks` with at most `limit` at a time; results in order. */
export async function pool<T>(limit: number, tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** Shared objects and linker scripts a GNU ld script names (absolute paths), with whether each is AS_NEEDED. */
export function linkerScriptInputs(text: string): string[] {
  const body = text.replace(/\/\*[\s\S]*?\*\//g, " ");
  return [...body.matchAll(/(?:^|[\s(])(\/[^\s()]+)/g)].map((m) => m[1]!);
}
