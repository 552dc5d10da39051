// `abilink table`: an indirection table, the directory downstream programs point at (RUNPATH,
// and for glibc their interpreter) instead of one build of a library. One directory per ELF
// class and machine (`lib/elf64-x86_64/`, `lib/elf32-i386/`: a multilib closure has both,
// with the same SONAMEs), one entry per SONAME, and a record (`abilink-table`) of each
// entry's SONAME, class/machine, ABI hash and implementation.
//
// An entry must behave as the implementation at its own path. ld.so takes $ORIGIN from the
// path it opened, without resolving symbolic links, so a library whose RUNPATH, RPATH or
// NEEDED uses $ORIGIN gets a copy with $ORIGIN expanded to its real directory (the rewriter
// of `abilink patch`); every other entry is a symbolic link to the implementation's real path.
//
// The table is built beside DIR in a private directory (relink-out.ts's helpers: a name of
// the pattern `NAME.abilink-XXXXXXXX`, mode 0700, held with flock, a killed run's tree removed
// by the next) and renamed to DIR once complete, so a DIR is always a finished table.
import { chmodSync, closeSync, constants, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, rmdirSync, statSync, symlinkSync } from "node:fs";
import { posix } from "node:path";
import { diffExitStatus, diffManifests, DIFF_INCOMPATIBLE, type AbiChange } from "../abi/diff.js";
import { escapeName } from "../abi/format.js";
import { abiHash } from "../abi/hash.js";
import { loadManifest } from "../abi/load.js";
import { extractManifest, notALibrary, type AbiManifest } from "../abi/manifest.js";
import { ET_DYN, ET_REL } from "../elf/index.js";
import { describeError, describeFailure, InputError } from "../errors.js";
import { writeAll } from "../io/atomic-write.js";
import { withElfFile } from "../io/file-source.js";
import { fdPath, fsPath, realPath } from "../io/paths.js";
import { tableGroup, type Edit } from "../patch/edits.js";
import { applyPlan, planFile } from "../patch/patch-file.js";
import { GLIBC_SONAMES, isGlibcLoader as isLoader } from "./ld-so.js";
import { glibcBuilds } from "./relink.js";
import { makeTree, removeContents, removeStaleTrees } from "./relink-out.js";
import { RelinkOutError } from "./relink-tree.js";
import { TABLE_HEADER, TABLE_RECORD } from "./table-record.js";

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;

/** A failure writing the table, about `path` (DIR, or an implementation): nothing is left at DIR. */
export class TableError extends InputError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export { TABLE_HEADER, TABLE_RECORD } from "./table-record.js";

/** One entry of a table: `lib/<group>/<soname>` in DIR. */
export interface TableEntry {
  soname: string;
  /** The class/machine directory: `elf64-x86_64`, `elf32-i386`. */
  group: string;
  /** `abilink hash` of the implementation. */
  hash: string;
  /** A symbolic link to the implementation, or a copy with $ORIGIN expanded. */
  kind: "link" | "copy";
  /** glibc's ld.so: the entry programs name as their interpreter. */
  interpreter: boolean;
  /** The implementation's real path (a link's target; a copy's source). */
  target: string;
  /** The entry's path relative to DIR. */
  entry: string;
}

/** A problem with the inputs: one line each, nothing written. */
export interface TableInputProblem {
  path: string;
  message: string;
}

/** An implementation that does not provide an expected manifest (`--expect`). */
export interface TableExpectProblem {
  manifest: string;
  soname: string;
  group: string;
  /** The implementation, or null when no LIB has this SONAME for this class/machine. */
  path: string | null;
  changes: AbiChange[];
}

export type TableResult =
  | { kind: "written"; dir: string; entries: TableEntry[]; record: string }
  /** A LIB is not a shared library, two LIBs have one SONAME, glibc from two builds, DIR cannot be made. */
  | { kind: "invalid"; problems: TableInputProblem[] }
  /** Some implementation does not provide its expected manifest (diff's incompatible). */
  | { kind: "abi-refused"; problems: TableExpectProblem[] }
  /** A signal stopped the run: the temporary tree was removed, DIR does not exist. */
  | { kind: "interrupted" };

export interface TableOptions {
  /** Manifests (or libraries) the implementations of their SONAME must provide. */
  expect?: readonly string[];
  /** fsync the entries and directories before the rename (default true). */
  fsync?: boolean;
  /** A flag an interrupted run sets (cli/signals.ts): the temporary tree goes, DIR never appears. */
  abort?: Int32Array;
}

/** What is read of one LIB. */
interface Implementation {
  path: string;
  real: string;
  soname: string;
  group: string;
  hash: string;
  manifest: AbiManifest;
  interpreter: string | null;
  /** Where it uses $ORIGIN (empty when it does not): its run path, and NEEDED entries, as they are. */
  origin: OriginUse[];
}

/** A use of $ORIGIN in a library: its whole run path (RUNPATH, else RPATH), or one NEEDED entry. */
type OriginUse = { field: "search"; kind: "runpath" | "rpath"; paths: string[] } | { field: "needed"; name: string };

/** The class/machine directory's name: `elf64-x86_64` (the rewriter's, which moves references into a table). */
export const groupName = tableGroup;

const ORIGIN = /\$(ORIGIN\b|\{ORIGIN\})/g;
const usesOrigin = (value: string) => /\$(ORIGIN\b|\{ORIGIN\})/.test(value);

/** `value` with $ORIGIN and ${ORIGIN} replaced by `dir`. */
export const expandOrigin = (value: string, dir: string): string => value.replace(ORIGIN, () => dir);

/**
 * The edits that make a copy in the table's directory `tableDir` find what the library finds
 * from its own directory `implDir`, the table first: each run-path entry with $ORIGIN becomes
 * two, expanded to the table's directory (what a link there would search: the table's own
 * entries for its siblings) and then to the implementation's (the siblings the table does not
 * have); a NEEDED with $ORIGIN names the table's entry when the table has one of that name
 * (`inTable`), else the implementation's file.
 */
export function originEdits(origin: readonly OriginUse[], tableDir: string, implDir: string, inTable: (name: string) => boolean): Edit[] {
  return origin.map((u): Edit => {
    if (u.field === "search") {
      const paths = [...new Set(u.paths.flatMap((p) => (usesOrigin(p) ? [expandOrigin(p, tableDir), expandOrigin(p, implDir)] : [p])))];
      return { op: "set-search-path", paths, kind: u.kind };
    }
    const viaTable = expandOrigin(u.name, tableDir);
    const base = viaTable.slice(viaTable.lastIndexOf("/") + 1);
    const to = posix.dirname(viaTable) === tableDir && inTable(base) ? viaTable : expandOrigin(u.name, implDir);
    return { op: "replace-needed", from: u.name, to };
  });
}

/**
 * glibc's libraries: those relink's "one build" check knows, its loader, and the modules
 * libc loads itself and glibc builds (its NSS modules, the malloc debugger), which must come
 * from libc's build too. NSS modules of other packages (libnss_systemd, libnss_mymachines)
 * are libraries like any other.
 */
const isGlibcExtra = (soname: string) => /^libnss_(files|dns|compat|db|hesiod|nis|nisplus)\.so\.\d+$/.test(soname) || /^libc_malloc_debug\.so\.\d+$/.test(soname);
export const isGlibcPart = (soname: string): boolean => GLIBC_SONAMES.has(soname) || isLoader(soname) || isGlibcExtra(soname);

/** Reads one LIB; throws InputError (or a system or ELF error) when it is no shared library. */
function readImplementation(path: string): Implementation {
  const real = realPath(path);
  const got = withElfFile(real, (elf) => {
    if (elf.header.e_type !== ET_DYN) throw new InputError(elf.header.e_type === ET_REL ? "is a relocatable object (.o), not a shared library" : "is a program, not a shared library");
    const program = notALibrary(elf);
    if (program !== null) throw new InputError("is a program, not a shared library (no SONAME)");
    const soname = elf.dynamic?.soname;
    if (!soname) throw new InputError("has no SONAME: no NEEDED entry can name it, so no table entry can stand for it");
    if (soname.includes("/") || soname === "." || soname === "..") throw new InputError(`has a SONAME that cannot be a file name (${soname})`);
    const dir = posix.dirname(real);
    const origin: OriginUse[] = [];
    const runpath = elf.dynamic?.runpath ?? [];
    const paths = runpath.length > 0 ? runpath : (elf.dynamic?.rpath ?? []);
    if (paths.some(usesOrigin)) origin.push({ field: "search", kind: runpath.length > 0 ? "runpath" : "rpath", paths });
    for (const n of elf.dynamic?.needed ?? []) if (usesOrigin(n)) origin.push({ field: "needed", name: n });
    // A run path cannot hold a directory whose name has ":" (it would split there), nor a "$"
    // (a token ld.so would expand): such a library cannot be copied with $ORIGIN expanded.
    if (origin.length > 0 && /[:$]/.test(dir)) throw new InputError(`uses $ORIGIN and lies in a directory whose name holds ":" or "$" (${dir}): a copy could not name it in a run path`);
    const manifest = extractManifest(elf);
    return { soname, group: groupName(elf.header.class, elf.header.e_machine), manifest, hash: abiHash(manifest), interpreter: elf.interpreter, origin };
  });
  if (got === null) throw new InputError("is not an ELF file (a static library, a script or data?): not a shared library");
  return { path, real, ...got };
}

const exists = (path: string) => {
  try {
    return statSync(fsPath(path)).isFile();
  } catch {
    return false;
  }
};

/**
 * Checks the LIBs as one table: each a shared library, one per SONAME and class/machine,
 * glibc from one build (its loader added from libc's directory when not given). Returns the
 * implementations in table order, or the problems.
 */
export function planTable(libs: readonly string[]): { kind: "planned"; implementations: Implementation[] } | { kind: "invalid"; problems: TableInputProblem[] } {
  const problems: TableInputProblem[] = [];
  const read: Implementation[] = [];
  for (const path of libs) {
    try {
      read.push(readImplementation(path));
    } catch (e) {
      problems.push({ path, message: describeError(e) });
    }
  }
  if (problems.length > 0) return { kind: "invalid", problems };
  // One entry per SONAME and class/machine; the same file named twice is one input.
  const byKey = new Map<string, Implementation>();
  for (const impl of read) {
    const key = `${impl.group}/${impl.soname}`;
    const had = byKey.get(key);
    if (had === undefined) byKey.set(key, impl);
    else if (had.real !== impl.real) {
      const [a, b] = [had.path, impl.path].sort();
      problems.push({ path: b!, message: `has SONAME ${impl.soname} (${impl.group}) as ${a} has: give one implementation per SONAME` });
    }
  }
  // glibc, per class/machine: ld.so beside libc when not given, then one build.
  const groups = new Set([...byKey.values()].map((i) => i.group));
  for (const group of [...groups].sort()) {
    const parts = [...byKey.values()].filter((i) => i.group === group && isGlibcPart(i.soname));
    if (parts.length === 0) continue;
    const libc = parts.find((i) => i.soname === "libc.so.6" || /^libc\.so\.\d+$/.test(i.soname));
    if (!parts.some((i) => isLoader(i.soname)) && libc !== undefined) {
      const interp = libc.interpreter === null ? null : posix.join(posix.dirname(libc.real), posix.basename(libc.interpreter));
      if (interp === null || !exists(interp)) {
        problems.push({ path: libc.path, message: `glibc without its loader: give its ld.so (${libc.interpreter ?? "the program interpreter"}) from the same build` });
        continue;
      }
      try {
        const loader = readImplementation(interp);
        if (loader.group === group) {
          byKey.set(`${group}/${loader.soname}`, loader);
          parts.push(loader);
        }
      } catch (e) {
        problems.push({ path: interp, message: describeError(e) });
        continue;
      }
    }
    // relink's check: the first entry stands for the program, as compat's `loaded` lists it.
    const core = parts.filter((i) => !isGlibcExtra(i.soname));
    const mixed = glibcBuilds(null, [{ name: "", path: "" }, ...[...core].sort(byPath).map((i) => ({ name: i.soname, path: i.real }))]);
    const coreDir = core.length > 0 ? posix.dirname(core[0]!.real) : posix.dirname(parts[0]!.real);
    const strays = mixed === null ? parts.filter((i) => isGlibcExtra(i.soname) && posix.dirname(i.real) !== coreDir).sort(byPath) : [];
    if (mixed !== null) problems.push({ path: group, message: `${mixed}: a table takes glibc from one build` });
    else if (strays.length > 0) {
      problems.push({ path: group, message: `glibc from 2 builds: ${strays.map((s) => s.soname).join(", ")} from ${posix.dirname(strays[0]!.real)}; the others from ${coreDir}: a table takes glibc from one build` });
    }
  }
  if (problems.length > 0) return { kind: "invalid", problems };
  const implementations = [...byKey.values()].sort((a, b) => cmp(a.group, b.group) || cmp(a.soname, b.soname));
  return { kind: "planned", implementations };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byPath = (a: Implementation, b: Implementation) => cmp(a.real, b.real);

/** The expected manifests each implementation must provide: problems, none when all do. */
function checkExpected(implementations: readonly Implementation[], expect: readonly string[]): { problems: TableExpectProblem[]; invalid: TableInputProblem[] } {
  const problems: TableExpectProblem[] = [];
  const invalid: TableInputProblem[] = [];
  for (const manifestPath of expect) {
    let expected: AbiManifest;
    try {
      expected = loadManifest(manifestPath).manifest;
    } catch (e) {
      const f = describeFailure(manifestPath, e);
      invalid.push({ path: f.subject, message: f.message });
      continue;
    }
    if (expected.soname === null) {
      invalid.push({ path: manifestPath, message: "has no SONAME: --expect needs a library's manifest" });
      continue;
    }
    const group = groupName(expected.class, expected.e_machine);
    const impl = implementations.find((i) => i.soname === expected.soname && i.group === group);
    if (impl === undefined) {
      problems.push({ manifest: manifestPath, soname: expected.soname, group, path: null, changes: [] });
      continue;
    }
    const changes = diffManifests(expected, impl.manifest);
    if ((diffExitStatus(changes) & DIFF_INCOMPATIBLE) !== 0) problems.push({ manifest: manifestPath, soname: impl.soname, group, path: impl.path, changes: changes.filter((c) => !c.compatible) });
  }
  return { problems, invalid };
}

/** The record: a header line, then one line per entry in table order (see README). */
export function printRecord(entries: readonly TableEntry[]): string {
  const lines = entries.map((e) => [e.interpreter ? "interpreter" : "lib", e.group, escapeName(e.soname), e.hash, e.kind, escapeName(e.target)].join(" "));
  return [TABLE_HEADER, ...lines].join("\n") + "\n";
}

/** The table's entries for implementations in table order. */
function entriesOf(implementations: readonly Implementation[]): TableEntry[] {
  return implementations.map((i) => ({
    soname: i.soname,
    group: i.group,
    hash: i.hash,
    kind: i.origin.length > 0 ? "copy" : "link",
    interpreter: isLoader(i.soname),
    target: i.real,
    entry: `lib/${i.group}/${i.soname}`,
  }));
}

/**
 * Builds the table of `libs` at `out` (which must not exist), unless an input is refused
 * or an implementation does not provide its expected manifest: then nothing is written.
 */
export function buildTable(out: string, libs: readonly string[], options: TableOptions = {}): TableResult {
  if (libs.length === 0) return { kind: "invalid", problems: [{ path: out, message: "no library given" }] };
  const where = checkOut(out);
  if ("message" in where) return { kind: "invalid", problems: [where] };
  const planned = planTable(libs);
  if (planned.kind === "invalid") return planned;
  const { implementations } = planned;
  const expected = checkExpected(implementations, options.expect ?? []);
  if (expected.invalid.length > 0) return { kind: "invalid", problems: expected.invalid };
  if (expected.problems.length > 0) return { kind: "abi-refused", problems: expected.problems };
  const entries = entriesOf(implementations);
  const record = printRecord(entries);
  try {
    if (writeTable(where, implementations, entries, record, options)) return { kind: "interrupted" };
  } catch (e) {
    const path = e instanceof TableError || e instanceof RelinkOutError ? e.path : out;
    return { kind: "invalid", problems: [{ path, message: describeError(e) }] };
  }
  return { kind: "written", dir: where.dir, entries, record };
}

/** DIR: absolute, its parent and name; refused when it exists or cannot be made. */
function checkOut(out: string): { dir: string; parent: string; name: string } | TableInputProblem {
  const dir = posix.resolve(out);
  const parent = posix.dirname(dir);
  const name = posix.basename(dir);
  if (dir === "/" || name === "" || name === "." || name === "..") return { path: out, message: "is not a name a new directory can have" };
  try {
    lstatSync(fsPath(dir));
    return { path: out, message: "exists already: a table is written as a new directory (remove it, or name another); nothing written" };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return { path: out, message: describeError(e) };
  }
  try {
    if (!statSync(fsPath(parent)).isDirectory()) return { path: parent, message: "is not a directory" };
  } catch (e) {
    return { path: parent, message: `${describeError(e)} (the directory the table is made in)` };
  }
  return { dir, parent, name };
}

/**
 * Writes the table in a private directory beside DIR and renames it to DIR. Returns true
 * when interrupted; on failure or interruption the temporary tree is removed.
 */
function writeTable(
  where: { dir: string; parent: string; name: string },
  implementations: readonly Implementation[],
  entries: readonly TableEntry[],
  record: string,
  options: TableOptions,
): boolean {
  const durable = options.fsync !== false;
  const aborted = () => options.abort !== undefined && Atomics.load(options.abort, 0) !== 0;
  const parentFd = openSync(fsPath(where.parent), O_RDONLY | O_DIRECTORY);
  let treeFd = -1;
  let treeName = "";
  try {
    removeStaleTrees(parentFd, where.parent, where.name, where.dir);
    ({ fd: treeFd, name: treeName } = makeTree(parentFd, where));
    const at = (rel: string) => fsPath(`${fdPath(treeFd)}/${rel}`);
    const dirs = ["lib", ...[...new Set(entries.map((e) => `lib/${e.group}`))]];
    // Modes set, not asked of mkdir and open: the umask must not make a table others cannot read.
    for (const d of dirs) {
      mkdirSync(at(d), 0o755);
      chmodSync(at(d), 0o755);
    }
    for (const [i, e] of entries.entries()) {
      if (aborted()) return true;
      const impl = implementations[i]!;
      if (e.kind === "link") symlinkSync(fsPath(e.target), at(e.entry));
      else {
        try {
          const inTable = (name: string) => entries.some((x) => x.group === e.group && x.soname === name);
          writeCopy(impl, at(e.entry), durable, posix.join(where.dir, "lib", e.group), inTable);
        } catch (err) {
          throw new TableError(impl.path, `${describeError(err)}; nothing written`);
        }
      }
    }
    const fd = openSync(at(TABLE_RECORD), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    try {
      fchmodSync(fd, 0o644);
      writeAll(fd, new TextEncoder().encode(record), 0);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    for (const d of [...dirs].reverse()) syncDir(at(d), durable);
    if (durable) fsyncSync(treeFd);
    fchmodSync(treeFd, 0o755);
    if (aborted()) return true;
    // DIR must still not exist: rename(2) would replace an empty directory someone made meanwhile.
    try {
      lstatSync(fsPath(`${fdPath(parentFd)}/${where.name}`));
      throw new TableError(where.dir, "was made by another program while abilink wrote the table; nothing written");
    } catch (err) {
      if (err instanceof TableError) throw err;
    }
    renameSync(fsPath(`${fdPath(parentFd)}/${treeName}`), fsPath(`${fdPath(parentFd)}/${where.name}`));
    treeName = "";
    if (durable) fsyncSync(parentFd);
    return false;
  } finally {
    if (treeFd >= 0) {
      if (treeName !== "") {
        try {
          removeContents(treeFd);
          rmdirSync(fsPath(`${fdPath(parentFd)}/${treeName}`));
        } catch {
          // left for the next run, which removes it
        }
      }
      closeSync(treeFd);
    }
    closeSync(parentFd);
  }
}

function syncDir(path: string | Buffer, durable: boolean): void {
  if (!durable) return;
  const fd = openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A copy of the implementation with $ORIGIN expanded (the rewriter, originEdits), made with O_EXCL at `dest`. */
function writeCopy(impl: Implementation, dest: string | Buffer, durable: boolean, tableDir: string, inTable: (name: string) => boolean): void {
  const planned = planFile(impl.real, originEdits(impl.origin, tableDir, posix.dirname(impl.real), inTable));
  const mode = Number(planned.source.stat.mode) & 0o755;
  const fd = openSync(dest, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    applyPlan(planned, { kind: "into", fd });
    fchmodSync(fd, mode);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
