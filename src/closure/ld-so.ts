import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import picomatch from "picomatch";
import { checkCompat, compatObject, type CompatObject, type CompatOptions, type CompatReport } from "../abi/compat.js";
import { EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64, ET_DYN, ElfFile } from "../elf/index.js";
import { InputError, describeError } from "../errors.js";
import { withElfFile, withFileSource } from "../io/file-source.js";
import { fsPath, realPath } from "../io/paths.js";

/** glibc's libraries: they exchange GLIBC_PRIVATE symbols, so one build serves a process. */
export const GLIBC_SONAMES: ReadonlySet<string> = new Set([
  "libc.so.6",
  "libm.so.6",
  "libpthread.so.0",
  "libdl.so.2",
  "librt.so.1",
  "libresolv.so.2",
  "libanl.so.1",
  "libutil.so.1",
  "libnsl.so.1",
  "libBrokenLocale.so.1",
  "libmvec.so.1",
  "libthread_db.so.1",
]);

/** Whether a file name is glibc's dynamic loader's (ld-linux-x86-64.so.2, ld64.so.1, ld.so.1, …). */
export const isGlibcLoader = (name: string): boolean => /^ld(-linux[-\w.]*|64)?\.so(\.\d+)*$/.test(name);

/** Debian's multiarch directory name per machine and class. */
function multiarch(e_machine: number, cls: 32 | 64): string | null {
  switch (e_machine) {
    case EM_X86_64:
      return "x86_64-linux-gnu";
    case EM_386:
      return "i386-linux-gnu";
    case EM_AARCH64:
      return "aarch64-linux-gnu";
    case EM_ARM:
      return "arm-linux-gnueabihf";
    case EM_RISCV:
      return cls === 64 ? "riscv64-linux-gnu" : null;
    case EM_PPC64:
      return "powerpc64-linux-gnu";
    case EM_S390:
      return cls === 64 ? "s390x-linux-gnu" : null;
    default:
      return null;
  }
}

/** Directories listed in /etc/ld.so.conf and the files it includes (what ldconfig caches). */
export function ldSoConfDirs(conf = "/etc/ld.so.conf", depth = 0): string[] {
  if (depth > 8 || !existsSync(conf)) return [];
  const out: string[] = [];
  for (const raw of readFileSync(conf, "utf8").split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    if (line.startsWith("include ")) {
      const pattern = resolve(dirname(conf), line.slice(8).trim());
      const dir = dirname(pattern);
      const match = picomatch(pattern);
      let names: string[] = [];
      try {
        names = readdirSync(dir).sort();
      } catch {
        continue;
      }
      for (const n of names) if (match(join(dir, n))) out.push(...ldSoConfDirs(join(dir, n), depth + 1));
    } else if (line.startsWith("/")) {
      out.push(line);
    }
  }
  return out;
}

/** The system's library directories for a machine, in ld.so's order after the cache. */
export function defaultLibraryDirs(e_machine: number, cls: 32 | 64): string[] {
  const tri = multiarch(e_machine, cls);
  const dirs = [...ldSoConfDirs()];
  if (tri) dirs.push(`/lib/${tri}`, `/usr/lib/${tri}`);
  if (cls === 64) dirs.push("/lib64", "/usr/lib64");
  dirs.push("/lib", "/usr/lib");
  return [...new Set(dirs)];
}

/** musl's built-in library path, used when its path file does not exist. */
export const MUSL_DEFAULT_PATH = ["/lib", "/usr/local/lib", "/usr/lib"];

/**
 * musl's search path after RPATH/RUNPATH: the directories in `/etc/ld-musl-ARCH.path`
 * (separated by newlines or colons; ARCH from the loader's file name) when that file
 * exists, else musl's built-in default. `source` says which, for reports.
 */
export function muslLibraryPath(interpreter: string | null, etc = "/etc"): { dirs: string[]; source: string } {
  const arch = interpreter ? /^ld-musl-(.+)\.so\.1$/.exec(basename(interpreter))?.[1] : undefined;
  const file = join(etc, `ld-musl-${arch ?? "ARCH"}.path`);
  if (arch !== undefined) {
    try {
      const dirs = readFileSync(file, "utf8").split(/[\n:]/).map((d) => d.trim()).filter((d) => d !== "");
      return { dirs, source: file };
    } catch {
      // musl falls back to its default when the file cannot be read.
    }
  }
  return { dirs: MUSL_DEFAULT_PATH, source: `musl's built-in default, as ${file} does not exist` };
}

export interface LoadOptions {
  /** Libraries to use for NEEDED entries with the same SONAME (or file name), before any search (see readLibraries). */
  libs?: CompatObject[];
  /** Replaces the system's default directories (tests; sysroots). */
  defaultDirs?: string[];
  /** Objects already read, by path: share one across the binaries of a run (a Map, or a bounded ObjectCache). */
  cache?: ObjectMap;
  /**
   * What a run-path directory or a NEEDED path becomes before it is searched (relink: the
   * references a rewrite will move, OLD -> NEW, so the check sees the NEW libraries).
   */
  mapPath?: (path: string, kind: "dir" | "file") => string;
}

export interface LoadResult {
  binary: CompatObject;
  /** ld.so's breadth-first load order, the binary first. */
  scope: CompatObject[];
  /** NEEDED names that no search found, with the object that needed them and where the search looked. */
  missing: MissingLibrary[];
}

export interface MissingLibrary {
  name: string;
  neededBy: string;
  /** Where ld.so would have looked, as a sentence for reports. */
  searched: string;
}

function readObject(path: string): CompatObject {
  return withFileSource(path, (src) => compatObject(ElfFile.parse(src), path));
}

/**
 * The libraries `compat --lib` names: each file, and for a directory every ELF shared
 * library directly in it (by name order; symbolic links in it are read through, so that
 * `libfoo.so.1 -> libfoo.so.1.2.3` is found under its SONAME's name). An unreadable path
 * or a named file that is not ELF throws, naming that path.
 */
export function readLibraries(paths: readonly string[]): CompatObject[] {
  const out: CompatObject[] = [];
  const seen = new Set<string>();
  const add = (path: string, o: CompatObject) => {
    const real = realPath(path);
    if (seen.has(real)) return;
    seen.add(real);
    out.push(o);
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(fsPath(p));
    } catch (e) {
      throw new InputError(`--lib ${p}: ${describeError(e)}`);
    }
    if (!st.isDirectory()) {
      try {
        add(p, readObject(p));
      } catch (e) {
        throw new InputError(`--lib ${p}: ${describeError(e)}`);
      }
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(fsPath(p)).sort();
    } catch (e) {
      throw new InputError(`--lib ${p}: ${describeError(e)}`);
    }
    for (const n of names) {
      const path = join(p, n);
      try {
        const o = withElfFile(path, (elf) => (elf.header.e_type === ET_DYN ? compatObject(elf, path) : null));
        if (o) add(path, o);
      } catch {
        // not a library: a directory of libraries holds other files too
      }
    }
  }
  return out;
}

/** What loadOrder keeps the objects it has read in: a Map does, without bound. */
export interface ObjectMap {
  has(path: string): boolean;
  get(path: string): CompatObject | null | undefined;
  set(path: string, o: CompatObject | null): unknown;
}

/**
 * Objects read, by path, the least recently used dropped once those kept hold more than
 * `limit` symbols (exports and imports): a check over a large tree reads every library once
 * per thread, but keeps in memory only the ones asked for again and again (libc, libstdc++).
 */
export class ObjectCache implements ObjectMap {
  private readonly map = new Map<string, { o: CompatObject | null; weight: number }>();
  private total = 0;
  constructor(readonly limit = 200_000) {}
  has(path: string): boolean {
    return this.map.has(path);
  }
  /** Forgets every object (files may have been rewritten since they were read). */
  clear(): void {
    this.map.clear();
    this.total = 0;
  }
  get(path: string): CompatObject | null | undefined {
    const e = this.map.get(path);
    if (!e) return undefined;
    this.map.delete(path);
    this.map.set(path, e);
    return e.o;
  }
  set(path: string, o: CompatObject | null): this {
    const old = this.map.get(path);
    if (old) {
      this.total -= old.weight;
      this.map.delete(path);
    }
    const weight = 16 + (o === null ? 0 : o.exports.size + o.imports.length);
    this.map.set(path, { o, weight });
    this.total += weight;
    for (const [p, e] of this.map) {
      if (this.total <= this.limit || p === path) break;
      this.map.delete(p);
      this.total -= e.weight;
    }
    return this;
  }
}

/** The ELF object at `path` if there is one (unreadable or non-ELF files count as absent, as for ld.so). */
function probe(path: string, cache: ObjectMap): CompatObject | null {
  if (cache.has(path)) return cache.get(path)!;
  let o: CompatObject | null = null;
  try {
    o = withElfFile(path, (elf) => compatObject(elf, path));
  } catch {
    o = null;
  }
  cache.set(path, o);
  return o;
}

/** A library of glibc's own (libm, libpthread, … or ld.so), by its SONAME or file name. */
const isGlibcMember = (o: CompatObject): boolean => (o.soname !== null && (GLIBC_SONAMES.has(o.soname) || isGlibcLoader(o.soname))) || isGlibcLoader(basename(o.path));

/** A musl binary: its loader is musl's, or it has none and needs musl's libc.so. */
function isMusl(o: CompatObject): boolean {
  return (o.interpreter ?? "").includes("ld-musl") || (o.interpreter === null && o.needed.includes("libc.so"));
}

function expand(dir: string, origin: string): string | null {
  const d = dir.replace(/\$(ORIGIN|\{ORIGIN\})/g, origin);
  // $LIB and $PLATFORM depend on the running loader; an entry using them is not searched.
  return /\$/.test(d) ? null : d;
}

/**
 * The objects ld.so would load for `binaryPath`, found without running anything: NEEDED
 * entries breadth first; each looked up among `libs` by SONAME, then, as ld.so does, in
 * the object's DT_RPATH and its loader's (only when it has no DT_RUNPATH), its DT_RUNPATH,
 * and the system's directories. `$ORIGIN` is the directory of the object that asks.
 */
export function loadOrder(binaryPath: string, options: LoadOptions = {}): LoadResult {
  const cache: ObjectMap = options.cache ?? new Map<string, CompatObject | null>();
  const binary = readObject(binaryPath);
  const given = options.libs ?? [];
  // ld.so skips files of another class or machine and keeps searching.
  const isCompatibleElf = (path: string, of: CompatObject): CompatObject | null => {
    const o = probe(path, cache);
    return o && o.class === of.class && o.e_machine === of.e_machine ? o : null;
  };
  // musl's dynamic loader is its libc: the interpreter satisfies NEEDED libc.so.
  const musl = isMusl(binary);
  const muslPath = musl ? muslLibraryPath(binary.interpreter) : null;
  const defaults = options.defaultDirs ?? muslPath?.dirs ?? defaultLibraryDirs(binary.e_machine, binary.class);
  const defaultsSource = options.defaultDirs
    ? "the given default directories"
    : (muslPath?.source ?? "/etc/ld.so.conf and the system's directories");
  const map = options.mapPath;
  const mapped = <T extends string | null>(p: T, kind: "dir" | "file" = "file"): T => (p === null || !map ? p : (map(p, kind) as T));
  let interpObject: CompatObject | null | undefined;
  const interpreter = (): CompatObject | null => {
    if (interpObject === undefined) interpObject = binary.interpreter && !musl ? isCompatibleElf(mapped(binary.interpreter), binary) : null;
    return interpObject;
  };
  const scope: CompatObject[] = [binary];
  const missing: MissingLibrary[] = [];
  const origin = (o: CompatObject) => dirname(o === binary ? realPath(o.path) : o.path);
  // NEEDED names already satisfied, so an object is loaded once however many ask for it.
  const satisfied = new Set<string>();
  const isLoaded = (name: string) =>
    satisfied.has(name) ||
    scope.some((o) => o.soname === name || o.path === name || (name.includes("/") ? false : o.path.endsWith(`/${name}`)));

  // The directories searched for a NEEDED name of `by`, in ld.so's order (musl: each
  // object's RPATH or RUNPATH alike, then its path file or default).
  const pathDirs = (by: CompatObject): string[] => {
    const own = (o: CompatObject, list: string[]) => list.flatMap((d) => mapped(expand(d, origin(o)), "dir") ?? []);
    const dirs: string[] = [];
    if (musl) {
      dirs.push(...own(by, by.rpath), ...own(by, by.runpath));
      if (by !== binary) dirs.push(...own(binary, binary.rpath), ...own(binary, binary.runpath));
    } else {
      if (by.runpath.length === 0) {
        dirs.push(...own(by, by.rpath));
        if (by !== binary && binary.runpath.length === 0) dirs.push(...own(binary, binary.rpath));
      }
      dirs.push(...own(by, by.runpath));
    }
    return dirs;
  };
  const find = (name: string, by: CompatObject): CompatObject | null => {
    if (musl && name === "libc.so") {
      const g = given.find((o) => o.soname === "libc.so");
      if (g) return g;
      const interp = binary.interpreter ? isCompatibleElf(mapped(binary.interpreter), binary) : null;
      if (interp) return interp;
    }
    if (name.includes("/")) {
      const p = mapped(expand(name, origin(by)));
      return p ? isCompatibleElf(resolve(p), binary) : null;
    }
    const g = given.find((o) => (o.soname === name || o.path.endsWith(`/${name}`)) && o.class === binary.class && o.e_machine === binary.e_machine);
    if (g) return g;
    // ld.so is loaded before anything else, as the interpreter: it answers for its own SONAME.
    const interp = interpreter();
    if (interp && (interp.soname === name || interp.path.endsWith(`/${name}`))) return interp;
    // A library checked on its own has no interpreter, and no program that loaded libc
    // before it: the loader that runs it is the one of the libc that needs it, and the libc
    // a glibc library needs (libm's libc.so.6) is the one of its own build — both from the
    // asker's directory, as in any process that loads them (glibc comes from one build).
    if (!binary.interpreter && !musl && (isGlibcLoader(name) || (GLIBC_SONAMES.has(name) && isGlibcMember(by)))) {
      const sibling = isCompatibleElf(join(origin(by), name), binary);
      if (sibling) return sibling;
    }
    for (const d of [...pathDirs(by), ...defaults]) {
      const o = isCompatibleElf(join(d === "" ? "." : d, name), binary);
      if (o) return o;
    }
    return null;
  };
  const describeSearch = (name: string, by: CompatObject): string => {
    if (name.includes("/")) return `no ${binary.class}-bit ELF file for this machine is at that path`;
    const own = [...new Set(pathDirs(by))];
    const where =
      `${own.length > 0 ? `not in the RPATH/RUNPATH directories ${own.join(", ")}, ` : ""}` +
      `not in ${defaults.length > 0 ? defaults.join(", ") : "any default directory"} (${defaultsSource})`;
    if (musl && name === "libc.so") return `musl's loader ${binary.interpreter ?? "(none named)"}, which is its libc.so, does not exist; ${where}`;
    return where;
  };

  // The queue grows as objects are found; the index bounds the walk by the number of distinct objects.
  for (let i = 0; i < scope.length && i < 10_000; i++) {
    const obj = scope[i]!;
    for (const name of obj.needed) {
      if (isLoaded(name)) continue;
      const found = find(name, obj);
      if (!found) {
        if (!missing.some((m) => m.name === name)) missing.push({ name, neededBy: obj.path, searched: describeSearch(name, obj) });
        continue;
      }
      satisfied.add(name);
      // By path too: an object the cache dropped and read again is a new object for the same file.
      if (scope.includes(found) || scope.some((o) => o.path === found.path) || (found.soname !== null && scope.some((o) => o.soname === found.soname))) continue;
      scope.push(found);
    }
  }
  return { binary, scope, missing };
}

/** `compat` for one binary: find what ld.so would load, then check every object in that set. */
export function compatCheck(binaryPath: string, options: LoadOptions & Omit<CompatOptions, "musl"> = {}): CompatReport {
  const { binary, scope, missing } = loadOrder(binaryPath, options);
  return checkCompat(scope, missing, { ...options, musl: isMusl(binary) });
}
