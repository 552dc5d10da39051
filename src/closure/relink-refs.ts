// `abilink relink`, references to an OLD prefix outside the dynamic fields: paths in the
// bytes of any file under the roots (strings in ELF files, scripts and wrappers, .pc and
// cmake files) and symbolic link targets. The rewriter moves the dynamic fields at any
// length; these others can only change where NEW has the same length as OLD (nothing
// moves). Every other one is reported with its file and offset.
//
// What counts as a reference (the README says the same):
// - In a file's bytes: the bytes of OLD wherever they occur, followed by a byte that cannot
//   continue a path component (`isNameByte` below is false for it: `/`, NUL, white space,
//   quotes, `:`, `;`, `=`, …) or by the end of the file. `/opt/a` matches in `/opt/a/lib`,
//   `prefix=/opt/a`, `"-L/opt/a/lib"`, but not in `/opt/ab` or `/opt/a.old`. What precedes
//   OLD does not matter. Matches are taken left to right without overlapping; where two
//   OLD prefixes match at one offset, the first replacement given wins (as in the dynamic
//   fields).
// - Not a reference: the bytes the rewriter already handles, in an ELF file: PT_INTERP's
//   range, and the dynamic strings named by DT_NEEDED, DT_RPATH, DT_RUNPATH and the file
//   names of the version requirements (a match starting inside one of them is skipped).
// - A symbolic link whose target is an absolute path starting with OLD (whole components,
//   as in the dynamic fields); a relative target never matches. Links are read with
//   lstat/readlink, never followed.
//
// Files are read in bounded chunks (SCAN_CHUNK), whatever their size; a match that
// straddles two chunks is found once.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { DT_NEEDED, DT_RPATH, DT_RUNPATH, PT_INTERP, isElf } from "../elf/index.js";
import { InputError, PatchError, describeError } from "../errors.js";
import { SourceFile, commitSync, prepareChangedCopy, relinkName, type FileIdentity } from "../io/atomic-write.js";
import { requireRegularFile, withElfFd } from "../io/file-source.js";
import { fsPath, pathFromBytes, pathToBytes, realPath } from "../io/paths.js";
import { replaceSymlink } from "../io/symlink-write.js";
import { replacePrefix } from "../patch/edits.js";
import { inStore } from "../patch/patch-file.js";
import type { Replacement } from "./relink.js";
import { walkFiles } from "./walk.js";

/** Bytes read at a time by the scanner. */
export const SCAN_CHUNK = 1 << 20;

/** One reference to an OLD prefix: in a file's bytes at `offset`, or in a symbolic link's target. */
export interface Reference {
  file: string;
  offset: number;
  old: string;
  new: string;
  /** OLD and NEW have the same length in bytes: the reference can be rewritten in place. */
  sameLength: boolean;
  kind: "bytes" | "symlink";
}

/**
 * Whether byte `b` can continue a path component, so that OLD followed by it names another
 * file (`/opt/a` in `/opt/ab`, `/opt/a-2`, `/opt/a.old`, `/opt/a+x`): ASCII letters and
 * digits, `.`, `-`, `_`, `+`, `~`, `@`, `%`, `,` and every byte from 0x80 (UTF-8 names).
 * Every other byte ends a component: `/`, NUL, control bytes and white space, quotes, and
 * `:;=$()[]{}<>|&*?!#^\`.
 */
export function isNameByte(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b >= 0x80 || b === 0x2e || b === 0x2d || b === 0x5f || b === 0x2b || b === 0x7e || b === 0x40 || b === 0x25 || b === 0x2c
  );
}

/** A match of `olds[index]` at `offset` (an absolute offset in the stream). */
export interface ByteMatch {
  offset: number;
  index: number;
}

/** Reads up to `length` bytes at `position` into `buf` at `at`; 0 at the end. */
export type ReadAt = (buf: Uint8Array, at: number, length: number, position: number) => number;

/**
 * Every match of the byte strings `olds` in a stream read through `read` (see the rules at
 * the top: followed by a non-name byte or the end, left to right, not overlapping, the
 * first of `olds` winning at one offset). Holds `chunk` bytes plus the longest OLD at a time.
 */
export function scanStream(read: ReadAt, olds: readonly Uint8Array[], chunk = SCAN_CHUNK): ByteMatch[] {
  if (olds.length === 0 || chunk < 1) return [];
  if (olds.some((o) => o.length === 0)) throw new Error("an empty prefix matches everywhere");
  // A decision at p needs OLD's bytes and the one after: `keep` bytes carried between chunks.
  const keep = Math.max(...olds.map((o) => o.length));
  const buf = Buffer.alloc(chunk + keep);
  const found: ByteMatch[] = [];
  let carry = 0;
  let base = 0; // absolute offset of buf[0]
  let nextAllowed = 0;
  let eof = false;
  while (!eof) {
    let len = carry;
    while (len < carry + chunk) {
      const n = read(buf, len, carry + chunk - len, base + len);
      if (n === 0) {
        eof = true;
        break;
      }
      len += n;
    }
    const limit = eof ? len : Math.max(0, len - keep);
    const view = buf.subarray(0, len);
    const candidates: ByteMatch[] = [];
    olds.forEach((old, index) => {
      for (let at = view.indexOf(old, Math.max(0, nextAllowed - base)); at >= 0 && at < limit; at = view.indexOf(old, at + 1)) {
        const next = at + old.length;
        if (next < len ? !isNameByte(view[next]!) : eof) candidates.push({ offset: base + at, index });
      }
    });
    candidates.sort((a, b) => a.offset - b.offset || a.index - b.index);
    for (const c of candidates) {
      if (c.offset < nextAllowed) continue;
      found.push(c);
      nextAllowed = c.offset + olds[c.index]!.length;
    }
    // The undecided tail moves to the front.
    buf.copy(buf, 0, limit, len);
    carry = len - limit;
    base += limit;
  }
  return found;
}

/** scanStream over bytes in memory (tests). */
export function scanBytes(bytes: Uint8Array, olds: readonly Uint8Array[], chunk = SCAN_CHUNK): ByteMatch[] {
  return scanStream(
    (buf, at, length, position) => {
      const n = Math.max(0, Math.min(length, bytes.length - position));
      buf.set(bytes.subarray(position, position + n), at);
      return n;
    },
    olds,
    chunk,
  );
}

interface Range {
  start: number;
  end: number;
}

/**
 * The byte ranges of an ELF file the dynamic-field rewrite handles: PT_INTERP, and the
 * dynamic strings of DT_NEEDED, DT_RPATH, DT_RUNPATH and of the version requirements'
 * file names (each to its NUL). Empty for a file that is not ELF.
 */
function dynamicFieldRanges(fd: number, path: string): Range[] {
  return (
    withElfFd(fd, path, (elf, source) => {
      const ranges: Range[] = [];
      for (const p of elf.programHeaders) if (p.p_type === PT_INTERP && p.p_filesz > 0n) ranges.push({ start: Number(p.p_offset), end: Number(p.p_offset + p.p_filesz) });
      const dyn = elf.dynamic;
      if (!dyn) return ranges;
      const table = elf.dynamicStrings;
      const offsets = new Set<number>();
      const tags = new Set([DT_NEEDED, DT_RPATH, DT_RUNPATH].map(BigInt));
      for (const e of dyn.entries) if (tags.has(e.d_tag)) offsets.add(Number(e.d_val));
      for (const v of elf.versionRequirements) offsets.add(v.vn_file);
      const bytes = source.read(table.fileOffset, table.size);
      for (const off of offsets) {
        if (off >= bytes.length) continue;
        const nul = bytes.indexOf(0, off);
        ranges.push({ start: table.fileOffset + off, end: table.fileOffset + (nul < 0 ? bytes.length : nul) });
      }
      return ranges;
    }) ?? []
  );
}

const bytesOf = (replacements: readonly Replacement[]) => replacements.map((r) => pathToBytes(r.from));

function toReference(file: string, m: ByteMatch, replacements: readonly Replacement[], kind: Reference["kind"]): Reference {
  const r = replacements[m.index]!;
  // Into a table, where a path goes depends on what it names and who names it: only reported.
  return { file, offset: m.offset, old: r.from, new: r.to, sameLength: !r.table && pathToBytes(r.from).length === pathToBytes(r.to).length, kind };
}

/** The references in the bytes of the open regular file `fd` (named `path`), dynamic fields left out. */
export function findReferencesInFd(fd: number, path: string, replacements: readonly Replacement[], chunk = SCAN_CHUNK): Reference[] {
  const size = fstatSync(fd).size;
  const head = Buffer.alloc(4);
  const elf = size >= 4 && readSync(fd, head, 0, 4, 0) === 4 && isElf(head);
  let skip: Range[] = [];
  if (elf) {
    try {
      skip = dynamicFieldRanges(fd, path);
    } catch {
      // A malformed ELF file: planRelink reports it; its bytes are scanned as they are.
    }
  }
  const matches = scanStream((buf, at, length, position) => readSync(fd, buf, at, length, position), bytesOf(replacements), chunk);
  return matches.filter((m) => !skip.some((s) => m.offset >= s.start && m.offset < s.end)).map((m) => toReference(path, m, replacements, "bytes"));
}

/** The reference in a symbolic link's target (read, never followed), or null. */
function symlinkReference(path: string, target: string, replacements: readonly Replacement[]): Reference | null {
  for (const [index, r] of replacements.entries()) {
    if (replacePrefix(target, r.from, r.to) !== null) return toReference(path, { offset: 0, index }, replacements, "symlink");
  }
  return null;
}

/**
 * The references in `path`: in the target of a symbolic link (never followed), else in
 * the bytes of a regular file (anything else: none). Throws a system error or InputError.
 */
export function findReferences(path: string, replacements: readonly Replacement[], options: { chunk?: number } = {}): Reference[] {
  const st = lstatSync(fsPath(path));
  if (st.isSymbolicLink()) {
    const ref = symlinkReference(path, pathFromBytes(readlinkSync(fsPath(path), { encoding: "buffer" })), replacements);
    return ref ? [ref] : [];
  }
  if (!st.isFile()) return [];
  const fd = openSync(fsPath(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    requireRegularFile(fstatSync(fd));
    return findReferencesInFd(fd, path, replacements, options.chunk);
  } finally {
    closeSync(fd);
  }
}

/**
 * The symbolic links below `roots`, in walkFiles' order, never followed; a root that is a
 * link is followed (the caller named it) and is not itself listed.
 */
export function* walkSymlinks(roots: readonly string[], onError?: (path: string, e: unknown) => void): Generator<string> {
  const seen = new Set<string>();
  for (const root of roots) {
    const stack = [root];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let entries;
      try {
        const ds = statSync(fsPath(dir), { bigint: true });
        if (!ds.isDirectory()) continue;
        const key = `${ds.dev}:${ds.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        entries = readdirSync(fsPath(dir), { withFileTypes: true, encoding: "buffer" });
      } catch (e) {
        onError?.(dir, e);
        continue;
      }
      entries.sort((a, b) => Buffer.compare(a.name, b.name));
      const subdirs: string[] = [];
      for (const e of entries) {
        const path = dir.endsWith("/") ? dir + pathFromBytes(e.name) : `${dir}/${pathFromBytes(e.name)}`;
        if (e.isSymbolicLink()) yield path;
        else if (e.isDirectory()) subdirs.push(path);
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }
}

/** What the plan says of references outside the dynamic fields. */
export interface ReferencePlan {
  /** Same-length references, to rewrite. */
  rewrite: Reference[];
  /** Different-length ones, and those in files left alone: reported, never written. */
  remaining: Reference[];
  errors: { path: string; message: string }[];
}

/**
 * Every reference under `roots` (regular files and symbolic links; links never followed).
 * Those in `leaveAlone` (static programs) are all remaining. Reads only.
 */
export function planReferences(
  roots: readonly string[],
  replacements: readonly Replacement[],
  options: { leaveAlone?: ReadonlySet<string>; chunk?: number; onFile?: () => void } = {},
): ReferencePlan {
  const plan: ReferencePlan = { rewrite: [], remaining: [], errors: [] };
  const fail = (path: string, e: unknown) => plan.errors.push({ path, message: describeError(e) });
  const take = (path: string) => {
    options.onFile?.();
    try {
      for (const ref of findReferences(path, replacements, options)) {
        (ref.sameLength && !options.leaveAlone?.has(path) ? plan.rewrite : plan.remaining).push(ref);
      }
    } catch (e) {
      fail(path, e);
    }
  };
  // Roots are files or directories: walkFiles reports what else they are (planRelink does).
  for (const path of walkFiles(roots, { onError: () => {} })) take(path);
  for (const path of walkSymlinks(roots)) take(path);
  return plan;
}

/** What applying the plan did. */
export interface ReferenceOutcome {
  /** References rewritten. */
  rewritten: number;
  errors: { path: string; message: string }[];
}

/**
 * Rewrites the same-length references of `plan` (after the dynamic-field rewrite, which
 * may have moved bytes): each file is scanned again through the descriptor it is copied
 * from, the NEW bytes written over each OLD in a copy, and the copy renamed over the file
 * (owner, mode and extended attributes kept; src/io's atomic write path). A file with
 * nothing left to rewrite is not touched, so a rerun changes nothing. Other names of a
 * rewritten file under the roots are linked to the new file. Symbolic links get a new link
 * renamed over them. Refused inside the Nix store without `force`.
 */
export function applyReferences(
  plan: ReferencePlan,
  replacements: readonly Replacement[],
  options: { force?: boolean; storeDir?: string; chunk?: number; stop?: () => boolean; within?: readonly string[] } = {},
): ReferenceOutcome {
  const outcome: ReferenceOutcome = { rewritten: 0, errors: [] };
  const storeDir = options.storeDir ?? process.env.NIX_STORE_DIR ?? "/nix/store";
  const files = [...new Set(plan.rewrite.filter((r) => r.kind === "bytes").map((r) => r.file))];
  const links = plan.rewrite.filter((r) => r.kind === "symlink");
  // One rewrite per inode: later names of it follow the first.
  const done = new Map<string, { dest: string; identity: FileIdentity }>();
  for (const path of files) {
    if (options.stop?.()) {
      outcome.errors.push({ path, message: "interrupted; left as it was" });
      continue;
    }
    try {
      const real = realPath(path);
      // A directory on the path replaced by a link since the scan would lead out of the roots.
      if (options.within && !options.within.some((r) => real === r || real.startsWith(r.endsWith("/") ? r : `${r}/`))) {
        throw new InputError(`is outside the roots now (${real}): a directory on its path was replaced; left as it was`);
      }
      if (!options.force && inStore(real, storeDir)) throw new PatchError(`is inside the Nix store (${storeDir}); store paths are immutable (use --force to rewrite anyway)`);
      const st = statSync(fsPath(real), { bigint: true });
      const first = done.get(`${st.dev}:${st.ino}`);
      if (first) {
        if (!relinkName(first.dest, path, first.identity)) throw new InputError(`no longer names the file rewritten as ${first.dest}; left as it is`);
        continue;
      }
      const source = SourceFile.open(real, { lock: true });
      let pending;
      let count = 0;
      try {
        const refs = findReferencesInFd(source.fd, real, replacements, options.chunk ?? SCAN_CHUNK).filter((r) => r.sameLength);
        if (refs.length === 0) {
          source.close();
          continue;
        }
        const writes = refs.map((r) => ({ offset: r.offset, bytes: pathToBytes(r.new) }));
        pending = prepareChangedCopy(source, real, { writes, shift: 0, size: Number(source.stat.size) });
        count = refs.length;
      } catch (e) {
        source.close();
        throw e;
      }
      // The pending commit owns the source's descriptor from here: it checks and closes it.
      commitSync(pending);
      outcome.rewritten += count;
      done.set(`${st.dev}:${st.ino}`, { dest: real, identity: source.identity });
    } catch (e) {
      outcome.errors.push({ path, message: describeError(e) });
    }
  }
  for (const ref of links) {
    try {
      const dir = ref.file.slice(0, Math.max(1, ref.file.lastIndexOf("/")));
      if (!options.force && inStore(realPath(dir), storeDir)) throw new PatchError(`is inside the Nix store (${storeDir}); store paths are immutable (use --force to rewrite anyway)`);
      const target = pathFromBytes(readlinkSync(fsPath(ref.file), { encoding: "buffer" }));
      const to = replacePrefix(target, ref.old, ref.new);
      if (to === null) continue; // rewritten already
      replaceSymlink(ref.file, pathToBytes(target), pathToBytes(to));
      outcome.rewritten++;
    } catch (e) {
      outcome.errors.push({ path: ref.file, message: describeError(e) });
    }
  }
  return outcome;
}
