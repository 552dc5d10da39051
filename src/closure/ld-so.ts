import { existsSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import picomatch from "picomatch";
import { checkCompat, compatObject, type CompatObject, type CompatReport } from "../abi/compat.js";
import { EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64, ElfFile } from "../elf/index.js";
import { withElfFile, withFileSource } from "../io/file-source.js";

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

export interface LoadOptions {
  /** Libraries to use for NEEDED entries with the same SONAME (or file name), before any search. */
  libs?: string[];
  /** Replaces the system's default directories (tests; sysroots). */
  defaultDirs?: string[];
  /** Objects already read, by path: share one map across the binaries of a run. */
  cache?: Map<string, CompatObject | null>;
}

export interface LoadResult {
  binary: CompatObject;
  /** ld.so's breadth-first load order, the binary first. */
  scope: CompatObject[];
  /** NEEDED names that no search found, with the object that needed them. */
  missing: { name: string; neededBy: string }[];
}

function readObject(path: string): CompatObject {
  return withFileSource(path, (src) => compatObject(ElfFile.parse(src), path));
}

/** The ELF object at `path` if there is one (unreadable or non-ELF files count as absent, as for ld.so). */
function probe(path: string, cache: Map<string, CompatObject | null>): CompatObject | null {
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
  const cache = options.cache ?? new Map<string, CompatObject | null>();
  const binary = readObject(binaryPath);
  const given: CompatObject[] = (options.libs ?? []).map((p) => {
    const o = cache.get(p) ?? readObject(p);
    cache.set(p, o);
    return o;
  });
  // ld.so skips files of another class or machine and keeps searching.
  const isCompatibleElf = (path: string, of: CompatObject): CompatObject | null => {
    const o = probe(path, cache);
    return o && o.class === of.class && o.e_machine === of.e_machine ? o : null;
  };
  const defaults = options.defaultDirs ?? defaultLibraryDirs(binary.e_machine, binary.class);
  const scope: CompatObject[] = [binary];
  const missing: { name: string; neededBy: string }[] = [];
  const origin = (o: CompatObject) => dirname(o === binary ? realpathSync(o.path) : o.path);
  // NEEDED names already satisfied, so an object is loaded once however many ask for it.
  const satisfied = new Set<string>();
  const isLoaded = (name: string) =>
    satisfied.has(name) ||
    scope.some((o) => o.soname === name || o.path === name || (name.includes("/") ? false : o.path.endsWith(`/${name}`)));

  // musl's dynamic loader is its libc: the interpreter satisfies NEEDED libc.so.
  const musl = (binary.interpreter ?? "").includes("ld-musl");
  const find = (name: string, by: CompatObject): CompatObject | null => {
    if (musl && name === "libc.so" && binary.interpreter) {
      const g = given.find((o) => o.soname === "libc.so");
      if (g) return g;
      const interp = isCompatibleElf(binary.interpreter, binary);
      if (interp) return interp;
    }
    if (name.includes("/")) {
      const p = expand(name, origin(by));
      return p ? isCompatibleElf(resolve(p), binary) : null;
    }
    const g = given.find((o) => (o.soname === name || o.path.endsWith(`/${name}`)) && o.class === binary.class && o.e_machine === binary.e_machine);
    if (g) return g;
    const dirs: string[] = [];
    if (by.runpath.length === 0) {
      dirs.push(...by.rpath.flatMap((d) => expand(d, origin(by)) ?? []));
      if (by !== binary && binary.runpath.length === 0) dirs.push(...binary.rpath.flatMap((d) => expand(d, origin(binary)) ?? []));
    }
    dirs.push(...by.runpath.flatMap((d) => expand(d, origin(by)) ?? []));
    dirs.push(...defaults);
    for (const d of dirs) {
      const o = isCompatibleElf(join(d === "" ? "." : d, name), binary);
      if (o) return o;
    }
    return null;
  };

  // The queue grows as objects are found; the index bounds the walk by the number of distinct objects.
  for (let i = 0; i < scope.length && i < 10_000; i++) {
    const obj = scope[i]!;
    for (const name of obj.needed) {
      if (isLoaded(name)) continue;
      const found = find(name, obj);
      if (!found) {
        if (!missing.some((m) => m.name === name)) missing.push({ name, neededBy: obj.path });
        continue;
      }
      satisfied.add(name);
      if (scope.includes(found) || (found.soname !== null && scope.some((o) => o.soname === found.soname))) continue;
      scope.push(found);
    }
  }
  return { binary, scope, missing };
}

/** `compat` for one binary: find what ld.so would load, then check every requirement. */
export function compatCheck(binaryPath: string, options: LoadOptions = {}): CompatReport {
  const { binary, scope, missing } = loadOrder(binaryPath, options);
  const musl =
    (binary.interpreter ?? "").includes("ld-musl") || (binary.interpreter === null && binary.needed.includes("libc.so"));
  return checkCompat(
    binary,
    scope,
    missing.map((m) => (m.neededBy === binary.path ? m.name : `${m.name} (needed by ${m.neededBy})`)),
    { musl },
  );
}
