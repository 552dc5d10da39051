// The NixOS resolution cache (patchelf 0.19's --build-resolution-cache): where each
// DT_NEEDED library would be found on the run path, recorded in a `.note.nixos.ldcache`
// note so that a loader that reads it can skip the run-path search. The resolution and the
// note's bytes, without I/O: the file system is asked through a probe.
import { Encoder } from "../elf/write/index.js";

export const LDCACHE_SECTION = ".note.nixos.ldcache";
export const LDCACHE_OWNER = "NixOS";
/** The note type patchelf writes (n_type). */
export const NT_NIXOS_LDCACHE = 0x63a86cb6;

/** What the resolution asks of the file system (at patch time). */
export interface DirectoryProbe {
  /** `dir` is an absolute directory that exists and can be searched. */
  searchable(dir: string): boolean;
  /** `dir` holds a `glibc-hwcaps` entry (the loader may pick a CPU-specific variant there). */
  hasHwcaps(dir: string): boolean;
  /** `path` names a file (not a directory). */
  isFile(path: string): boolean;
}

/** One library's entry: `=PATH` (found there) or `?DIR` (the loader must search DIR itself), in run-path order. */
export interface CacheEntry {
  needed: string;
  paths: string[];
}

/** Why a run-path directory cannot be resolved at patch time, or null when it can. */
export function hintReason(dir: string, probe: DirectoryProbe): string | null {
  if (dir === "") return "empty (the current directory)";
  if (!dir.startsWith("/")) return "relative";
  if (dir.includes("$")) return "a $ token";
  if (!probe.searchable(dir)) return "not a searchable directory now";
  if (probe.hasHwcaps(dir)) return "has glibc-hwcaps";
  return null;
}

/**
 * The cache for `needed` (names with a slash are skipped: the loader opens them directly)
 * on `runPath`: for each directory in order, each library gets `?DIR` when the directory
 * cannot be resolved now (empty, relative, with a `$` token, absent or not searchable, or
 * holding glibc-hwcaps), else `=DIR/LIB` when the library is there. Entries are sorted by
 * library name (byte order); libraries found nowhere are left out.
 */
export function resolveRunPath(needed: readonly string[], runPath: readonly string[], probe: DirectoryProbe): CacheEntry[] {
  const libs = [...new Set(needed.filter((n) => n !== "" && !n.includes("/")))];
  const found = new Map<string, string[]>(libs.map((l) => [l, []]));
  for (const dir of runPath) {
    const hint = hintReason(dir, probe) !== null;
    for (const lib of libs) {
      if (hint) found.get(lib)!.push(`?${dir}`);
      else {
        const path = dir.endsWith("/") ? `${dir}${lib}` : `${dir}/${lib}`;
        if (probe.isFile(path)) found.get(lib)!.push(`=${path}`);
      }
    }
  }
  return [...found]
    .filter(([, paths]) => paths.length > 0)
    .map(([lib, paths]) => ({ needed: lib, paths }))
    .sort((a, b) => Buffer.compare(utf8.encode(a.needed), utf8.encode(b.needed)));
}

const utf8 = new TextEncoder();

/** The note's descriptor: for each entry, its name and its paths joined by `:`, each NUL-terminated; then one more NUL. */
export function encodeDescriptor(entries: readonly CacheEntry[]): Uint8Array {
  const parts = entries.flatMap((e) => [e.needed, e.paths.join(":")]).map((s) => utf8.encode(s + "\0"));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0) + 1);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The descriptor read back (for messages and tests); null when it is not one. */
export function decodeDescriptor(desc: Uint8Array): CacheEntry[] | null {
  const strings = new TextDecoder().decode(desc).split("\0");
  // Pairs, then the terminating NUL (an empty string) and the one after it.
  if (strings.length < 2 || strings.at(-1) !== "" || strings.at(-2) !== "" || (strings.length - 2) % 2 !== 0) return null;
  const out: CacheEntry[] = [];
  for (let i = 0; i + 1 < strings.length - 2; i += 2) out.push({ needed: strings[i]!, paths: strings[i + 1]!.split(":") });
  return out;
}

const pad4 = (n: number) => (n + 3) & ~3;

/** The whole note record: n_namesz, n_descsz, n_type, "NixOS\0" and the descriptor, each padded to 4 bytes. */
export function encodeLdCacheNote(desc: Uint8Array, little: boolean): Uint8Array {
  const name = utf8.encode(LDCACHE_OWNER + "\0");
  const out = new Uint8Array(12 + pad4(name.length) + pad4(desc.length));
  const e = new Encoder(out, little);
  e.u32(0, name.length);
  e.u32(4, desc.length);
  e.u32(8, NT_NIXOS_LDCACHE);
  out.set(name, 12);
  out.set(desc, 12 + pad4(name.length));
  return out;
}
