// Files written so that readers, a run killed part-way and other users in the same
// directory see either the old file or the complete new one. The one place abilink makes,
// fills and commits temporary files.
//
// A new file is built in a private directory (mode 0700, made by mkdtemp beside the
// destination, so the final rename stays on one file system): nobody else can enter it, so
// nobody can swap the temporary file or its name. Every step acts on descriptors: the
// source opened once (O_NOFOLLOW), the directories opened once, the temporary file created
// with O_CREAT|O_EXCL|O_NOFOLLOW; paths are resolved through /proc/self/fd/N, which names
// the opened object itself, never by walking a name someone could have changed since.
// Its bytes are complete before it gets its owner, its mode (set-user-ID bits) and its
// extended attributes (file capabilities); before the rename, the file it replaces is
// checked to be still the one that was planned from.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from "node:fs";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { getAttributeSync, listAttributesSync, setAttributeSync } from "fs-xattr";
import { ChangedFileError, InputError, describeError } from "../errors.js";
import { forgetTemporary, rememberTemporary } from "./cleanup.js";
import { native } from "./native.js";
import { fdPath, fsPath } from "./paths.js";
import { requireRegularFile } from "./file-source.js";

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;
const fsyncAsync = promisify(fsync);
/** node:crypto, loaded on first use (about 2 ms): only a new private directory needs it. */
let crypto: typeof import("node:crypto") | undefined;
const randomBytes = (n: number): Buffer => (crypto ??= createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto")).randomBytes(n);

/** Writes all of `bytes` at `offset` (or at the file position when null), looping over short writes. */
export function writeAll(fd: number, bytes: Uint8Array, offset: number | null = null): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset === null ? null : offset + done);
}

/** Reads all of `len` bytes at `offset` into `buf`; throws EIO when the file is shorter. */
export function readAll(fd: number, buf: Uint8Array, len: number, offset: number): void {
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, done, len - done, offset + done);
    if (n === 0) throw Object.assign(new Error("file shrank while being read"), { code: "EIO" });
    done += n;
  }
}

/** How long a run waits for another abilink run that holds a file, before it gives up. */
const LOCK_WAIT_MS = 60_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** What identifies a file's contents as planned from: its inode, size and modification time. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

const identityOf = (st: BigIntStats): FileIdentity => ({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs });
const sameInode = (a: { dev: bigint; ino: bigint }, b: { dev: bigint; ino: bigint }) => a.dev === b.dev && a.ino === b.ino;

/**
 * An input file opened once (O_NOFOLLOW: a name swapped for a symbolic link is refused);
 * planning, copying and the final checks all go through this descriptor. With `lock`, it
 * holds an exclusive flock, so that two abilink runs on one file take turns, and the
 * second one sees whether the first replaced it.
 */
export class SourceFile {
  private closed = false;

  private constructor(
    readonly fd: number,
    /** The path it was opened by (symbolic links already resolved by the caller). */
    readonly path: string,
    readonly stat: BigIntStats,
  ) {}

  static open(path: string, options: { lock?: boolean } = {}): SourceFile {
    const fd = openSync(fsPath(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      let st = fstatSync(fd, { bigint: true });
      requireRegularFile(st);
      if (options.lock) {
        lockWaiting(fd);
        // The lock was free: whoever held it may have replaced the file meanwhile.
        const now = statSync(fsPath(path), { bigint: true });
        if (!sameInode(now, st)) throw new ChangedFileError("was replaced by another program while abilink waited for it; nothing was written (run again)");
        st = fstatSync(fd, { bigint: true });
      }
      return new SourceFile(fd, path, st);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  get identity(): FileIdentity {
    return identityOf(this.stat);
  }

  /** Throws ChangedFileError when the file was written since it was opened. */
  assertUnchanged(): void {
    const now = identityOf(fstatSync(this.fd, { bigint: true }));
    if (now.size !== this.stat.size || now.mtimeNs !== this.stat.mtimeNs) {
      throw new ChangedFileError("was changed by another program while being patched; nothing was written (run again)");
    }
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}

function lockWaiting(fd: number): void {
  const until = Date.now() + LOCK_WAIT_MS;
  while (!native.flock(fd, true, false)) {
    if (Date.now() > until) throw new ChangedFileError("is held by another abilink run for over a minute; nothing was written");
    Atomics.wait(sleeper, 0, 0, 20);
  }
}

/**
 * A private directory (mode 0700) beside destinations of one directory, shared by this
 * thread's temporary files there while any is in flight (one mkdir for a batch, not one per
 * file), removed with the last of them.
 */
export interface WorkDir {
  /** The destinations' directory, opened once, and its name for messages. */
  destDirFd: number;
  dir: string;
  /** The private directory and its name in `dir`. */
  workDirFd: number;
  workDirName: string;
  /** Temporary files and links in it now. */
  refs: number;
  /** For the next temporary name (`t0`, `t1`, …, short whatever the destination's name). */
  next: number;
  /** Names in it that a signal handler must remove. */
  names: Set<string>;
  /** Its key in this thread's table (the directory's dev:ino). */
  key: string;
}

/** A complete temporary file in a private directory, not yet made durable or renamed into place. */
export interface PendingCommit {
  /** The destination, for messages. */
  dest: string;
  /** The destination's name in its directory (work.destDirFd). */
  destName: string;
  work: WorkDir;
  /** The temporary file's name in the private directory, and its descriptor (open until the end). */
  tmpName: string;
  tmpFd: number;
  /** fsync before the rename (off only where durability is handled elsewhere, e.g. a build sandbox). */
  durable: boolean;
  /** The source, when the destination is the source itself: checked before the rename, closed after. */
  replaces: { fd: number; identity: FileIdentity } | null;
  /** Another descriptor to close when done (the source of a copy written elsewhere). */
  closeAfter: number | null;
}

function splitDest(dest: string): { dir: string; name: string } {
  const at = dest.lastIndexOf("/");
  if (at < 0) return { dir: ".", name: dest };
  return { dir: at === 0 ? "/" : dest.slice(0, at), name: dest.slice(at + 1) };
}

/**
 * A system error whose message names `/proc/self/fd/N/…` says instead the directory the
 * descriptor stands for, which is what the user knows.
 */
function named(e: unknown, fds: Record<number, string>): unknown {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.message !== "string") return e;
  let message = err.message;
  for (const [fd, dir] of Object.entries(fds)) message = message.split(fdPath(Number(fd))).join(dir);
  if (message === err.message) return e;
  return Object.assign(new Error(message), { code: err.code, errno: err.errno, syscall: err.syscall });
}

const workDirs = new Map<string, WorkDir>();
const dirsOf = (w: WorkDir) => ({ [w.destDirFd]: w.dir, [w.workDirFd]: `${w.dir}/${w.workDirName}` });

/** This thread's private directory beside `dir` (made when there is none), with one more user. */
export function acquireWorkDir(dir: string): WorkDir {
  const destDirFd = openSync(fsPath(dir), O_RDONLY | O_DIRECTORY);
  let workDirName = "";
  let workDirFd = -1;
  try {
    const st = fstatSync(destDirFd, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    const known = workDirs.get(key);
    if (known) {
      closeSync(destDirFd);
      known.refs++;
      return known;
    }
    // A short name, whatever the destination's: ".abilink-" and 8 characters.
    for (let attempt = 0; workDirFd < 0; attempt++) {
      workDirName = `.abilink-${randomBytes(6).toString("base64url")}`;
      try {
        mkdirSync(`${fdPath(destDirFd)}/${workDirName}`, 0o700);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST" && attempt < 8) continue;
        throw e;
      }
      workDirFd = openSync(`${fdPath(destDirFd)}/${workDirName}`, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      const ws = fstatSync(workDirFd);
      // Someone who can write the destination's directory could have put their own there.
      if (ws.uid !== process.getuid?.() || (ws.mode & 0o777) !== 0o700) {
        closeSync(workDirFd);
        workDirFd = -1;
        throw new ChangedFileError(`${dir}: the private directory abilink made there was replaced; nothing was written`);
      }
    }
    const w: WorkDir = { destDirFd, dir, workDirFd, workDirName, refs: 1, next: 0, names: new Set(), key };
    workDirs.set(key, w);
    rememberTemporary(w, () => workDirs.delete(key));
    return w;
  } catch (e) {
    if (workDirFd >= 0) closeSync(workDirFd);
    if (workDirName) rmdirQuietly(destDirFd, workDirName);
    closeSync(destDirFd);
    throw named(e, { [destDirFd]: dir });
  }
}

/**
 * Keeps the private directory beside `dir` (made now) until the returned function is called,
 * so that many atomic writes into `dir` share one (a batch of outputs: one mkdir, not one each).
 */
export function holdWorkDir(dir: string): () => void {
  const w = acquireWorkDir(dir);
  let held = true;
  return () => {
    if (held) releaseWorkDir(w);
    held = false;
  };
}

/** One user fewer; the last removes the private directory and closes its descriptors. */
export function releaseWorkDir(w: WorkDir): void {
  if (--w.refs > 0) return;
  workDirs.delete(w.key);
  forgetTemporary(w);
  rmdirQuietly(w.destDirFd, w.workDirName);
  closeQuietly(w.workDirFd);
  closeQuietly(w.destDirFd);
}

function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // closed already
  }
}

function unlinkQuietly(w: WorkDir, name: string): void {
  w.names.delete(name);
  try {
    unlinkSync(`${fdPath(w.workDirFd)}/${name}`);
  } catch {
    // already gone
  }
}

/**
 * Refuses a destination that exists and is neither a regular file nor a symbolic link (which
 * the rename replaces, never follows): renaming over /dev/null would replace the device.
 */
function refuseSpecialDestination(dirFd: number, name: string): void {
  let st;
  try {
    st = lstatSync(fsPath(`${fdPath(dirFd)}/${name}`));
  } catch {
    return;
  }
  if (st.isFile() || st.isSymbolicLink()) return;
  const kind = st.isDirectory() ? "a directory" : st.isCharacterDevice() ? "a character device" : st.isBlockDevice() ? "a block device" : st.isFIFO() ? "a FIFO" : "a socket";
  throw new InputError(`is ${kind}, not a regular file: refusing to replace it`);
}

/** Makes the temporary file for `dest` in the private directory beside it. */
function begin(dest: string, durable: boolean): PendingCommit {
  const { dir, name } = splitDest(dest);
  if (name === "" || name === "." || name === "..") throw new InputError("not a file name");
  const work = acquireWorkDir(dir);
  const tmpName = `t${work.next++}`;
  try {
    refuseSpecialDestination(work.destDirFd, name);
    const tmpFd = openSync(`${fdPath(work.workDirFd)}/${tmpName}`, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    work.names.add(tmpName);
    return { dest, destName: name, work, tmpName, tmpFd, durable, replaces: null, closeAfter: null };
  } catch (e) {
    releaseWorkDir(work);
    throw named(e, dirsOf(work));
  }
}

function rmdirQuietly(dirFd: number, name: string): void {
  try {
    rmdirSync(`${fdPath(dirFd)}/${name}`);
  } catch {
    // not ours any more, or not empty: leave it
  }
}

/** Removes the temporary file and closes every descriptor of a pending commit. */
export function discard(p: PendingCommit): void {
  unlinkQuietly(p.work, p.tmpName);
  close(p);
}

function close(p: PendingCommit): void {
  p.work.names.delete(p.tmpName);
  for (const fd of [p.tmpFd, p.replaces?.fd ?? -1, p.closeAfter ?? -1]) closeQuietly(fd);
  releaseWorkDir(p.work);
}

/** The checks before a temporary file replaces its destination, and the rename. */
function renameIntoPlace(p: PendingCommit): void {
  if (p.replaces) {
    const now = fstatSync(p.replaces.fd, { bigint: true });
    const planned = p.replaces.identity;
    let there: BigIntStats | null = null;
    try {
      there = lstatSync(fsPath(`${fdPath(p.work.destDirFd)}/${p.destName}`), { bigint: true });
    } catch {
      there = null;
    }
    if (!there || !sameInode(there, planned) || now.size !== planned.size || now.mtimeNs !== planned.mtimeNs) {
      throw new ChangedFileError("was changed or replaced by another program while being patched; nothing was written (run again)");
    }
  }
  refuseSpecialDestination(p.work.destDirFd, p.destName);
  renameSync(`${fdPath(p.work.workDirFd)}/${p.tmpName}`, fsPath(`${fdPath(p.work.destDirFd)}/${p.destName}`));
}

/** The error to throw for a commit that failed, the temporary file gone. */
function failedCommit(p: PendingCommit, e: unknown): unknown {
  const err = named(e, dirsOf(p.work));
  discard(p);
  return err;
}

/** fsync (when durable), check, rename over the destination; on failure the temporary file goes. */
export function commitSync(p: PendingCommit): void {
  try {
    if (p.durable) fsyncSync(p.tmpFd);
    renameIntoPlace(p);
    close(p);
  } catch (e) {
    throw failedCommit(p, e);
  }
}

/** commitSync with the fsync in libuv's thread pool, so that many files flush at once and share journal commits. */
export async function commit(p: PendingCommit): Promise<void> {
  try {
    if (p.durable) await fsyncAsync(p.tmpFd);
    renameIntoPlace(p);
    close(p);
  } catch (e) {
    throw failedCommit(p, e);
  }
}

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new
 * one, never a partial write.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, durable = true): void {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const p = begin(path, durable);
  try {
    writeAll(p.tmpFd, bytes, 0);
    fchmodSync(p.tmpFd, mode);
  } catch (e) {
    discard(p);
    throw e;
  }
  commitSync(p);
}

/**
 * writeFileAtomic, unless `path` is already a regular file with exactly these bytes: then
 * nothing is written and its modification time stays (what build systems compare). Returns
 * whether it wrote.
 */
export function writeFileIfChanged(path: string, data: Uint8Array, mode = 0o644, durable = true): boolean {
  let fd = -1;
  try {
    fd = openSync(fsPath(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    const st = fstatSync(fd);
    if (st.isFile() && st.size === data.length) {
      const old = new Uint8Array(data.length);
      readAll(fd, old, data.length, 0);
      if (Buffer.from(old.buffer, old.byteOffset, old.length).equals(data)) return false;
    }
  } catch {
    // Missing or unreadable: written below, which says why if it cannot be.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  writeFileAtomic(path, data, mode, durable);
  return true;
}

/** Byte ranges to write into a copy of a file: the old bytes move `shift` later, then `writes` apply. */
export interface FileChange {
  writes: readonly { offset: number; bytes: Uint8Array }[];
  /** Bytes inserted before the old contents; usually 0. */
  shift: number;
  /** The new file's size. */
  size: number;
}

function applyWrites(fd: number, writes: FileChange["writes"]): void {
  // In file order: growth past the old end is written last, after the headers that map it.
  for (const w of [...writes].sort((a, b) => a.offset - b.offset)) writeAll(fd, w.bytes, w.offset);
}

const notPermitted = new Set(["EPERM", "EACCES", "ENOTSUP", "EOPNOTSUPP"]);

/**
 * Copies the extended attributes of one open file to another (SELinux labels, file
 * capabilities such as ping's, user attributes), each where this process is permitted to
 * set it, as the owner is.
 */
function copyAttributes(fromFd: number, toFd: number): void {
  let names: string[];
  try {
    names = listAttributesSync(fdPath(fromFd));
  } catch (e) {
    if (notPermitted.has((e as NodeJS.ErrnoException).code ?? "")) return;
    throw e;
  }
  for (const name of names) {
    try {
      setAttributeSync(fdPath(toFd), name, getAttributeSync(fdPath(fromFd), name));
    } catch (e) {
      if (!notPermitted.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
    }
  }
}

/** A change that changes nothing: `source` copied as it is (`size` its size). */
export const unchanged = (size: number): FileChange => ({ writes: [], shift: 0, size });

/**
 * Fills `fd`, a new empty file, with a copy of `source` and `change` applied: the unchanged
 * bytes moved by the kernel (a reflink where the file system can, else copy_file_range;
 * never through this process), the writes, then the source's owner (where permitted), mode
 * (set-user-ID bits) and extended attributes (file capabilities), in that order. Throws
 * ChangedFileError when the source changed meanwhile. `finishBytes`, when given, writes its
 * last bytes into `fd` after the writes and before the owner. Making `fd` durable and giving it its
 * name are the caller's: a temporary file renamed over its destination (prepareChangedCopy),
 * or a file in a private tree renamed into place whole (closure/relink-out.ts).
 */
export function fillCopy(source: SourceFile, fd: number, change: FileChange, finishBytes?: (fd: number) => void): void {
  const size = Number(source.stat.size);
  if (change.shift > 0 || !native.clone(source.fd, fd)) {
    if (native.copyRange(source.fd, fd, 0, change.shift, size) !== size) {
      throw new ChangedFileError("shrank while being copied; nothing was written (run again)");
    }
  }
  applyWrites(fd, change.writes);
  // The caller's last writes (relink --out: references in the new bytes), before the owner,
  // mode and capabilities: a write after them would clear set-user-ID bits and capabilities.
  finishBytes?.(fd);
  // The copy is what was planned from only if nobody wrote the source meanwhile.
  source.assertUnchanged();
  // Owner first: chown clears set-user-ID bits and file capabilities, which come after.
  try {
    fchownSync(fd, Number(source.stat.uid), Number(source.stat.gid));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
  }
  fchmodSync(fd, Number(source.stat.mode) & 0o7777);
  copyAttributes(source.fd, fd);
}

/**
 * A changed copy of `source`, complete, as the temporary file of `dest` (which is the source
 * itself when `dest` is its path): the unchanged bytes copied by the kernel (a reflink where
 * the file system can, else copy_file_range; never through this process), the writes, then
 * the source's owner (where permitted), mode and extended attributes, in that order. Not
 * yet durable or renamed: see commit. On failure nothing is left.
 */
export function prepareChangedCopy(source: SourceFile, dest: string, change: FileChange, durable = true): PendingCommit {
  const p = begin(dest, durable);
  try {
    fillCopy(source, p.tmpFd, change);
    if (source.path === dest) p.replaces = { fd: source.fd, identity: source.identity };
    else p.closeAfter = source.fd;
    return p;
  } catch (e) {
    const err = named(e, { ...dirsOf(p.work), [source.fd]: source.path });
    discard(p);
    throw err;
  }
}

/**
 * After the new file is in place at `p.dest`: `name` (another name the source had, in any
 * directory of the same file system) is atomically replaced by a hard link to the new file,
 * if it still names the source's inode. Returns false when it no longer does.
 */
export function relinkName(newFile: string, name: string, source: FileIdentity): boolean {
  const { dir, name: base } = splitDest(name);
  const there = lstatSync(fsPath(name), { bigint: true });
  if (!sameInode(there, source)) return false;
  const work = acquireWorkDir(dir);
  const link = `l${work.next++}`;
  try {
    const fresh = statSync(fsPath(newFile), { bigint: true });
    // The link goes in the private directory first, so that the swap is one rename.
    linkSync(fsPath(newFile), `${fdPath(work.workDirFd)}/${link}`);
    work.names.add(link);
    const linked = lstatSync(`${fdPath(work.workDirFd)}/${link}`, { bigint: true });
    if (!sameInode(linked, fresh)) throw new ChangedFileError(`${newFile} was replaced while its other names were being linked`);
    const again = lstatSync(fsPath(`${fdPath(work.destDirFd)}/${base}`), { bigint: true });
    if (!sameInode(again, source)) return false;
    renameSync(`${fdPath(work.workDirFd)}/${link}`, fsPath(`${fdPath(work.destDirFd)}/${base}`));
    work.names.delete(link);
    return true;
  } catch (e) {
    throw named(e, dirsOf(work));
  } finally {
    unlinkQuietly(work, link);
    releaseWorkDir(work);
  }
}

/**
 * Applies the change to the source itself (same inode, so hard links keep sharing it), as
 * patchelf does. The space is reserved first (fallocate), so a full disk fails before any
 * byte changes; bytes past the old end go first, the file's own bytes after them, the
 * program and section headers last. Not atomic: a failure after the first write into the
 * old bytes says the file may be damaged.
 */
export function changeInPlace(source: SourceFile, change: FileChange, durable = true): void {
  // The magic link is followed to the very inode opened for planning, never to a name.
  const fd = openSync(fdPath(source.fd), O_RDWR);
  let touched = false;
  try {
    source.assertUnchanged();
    const oldSize = Number(fstatSync(fd).size);
    native.fallocate(fd, 0, Math.max(change.size, oldSize));
    touched = true;
    if (change.shift > 0) shiftInFile(fd, oldSize, change.shift);
    // Past the old end first: until the headers that map it are written, it is ignored.
    const writes = [...change.writes].sort((a, b) => (a.offset >= oldSize ? 0 : 1) - (b.offset >= oldSize ? 0 : 1) || b.offset - a.offset);
    for (const w of writes) writeAll(fd, w.bytes, w.offset);
    if (durable) fsyncSync(fd);
  } catch (e) {
    if (touched && (e as NodeJS.ErrnoException).code) {
      const err = e as NodeJS.ErrnoException;
      throw Object.assign(new Error(`${describeError(err)} while writing in place: the file may be damaged`), { code: err.code });
    }
    throw e;
  } finally {
    closeSync(fd);
  }
}

const CHUNK = 1 << 20;

/**
 * Moves bytes [0, size) of `fd` to [shift, size + shift) within the same file, from the end
 * backwards so that nothing is overwritten before it is read, in 1 MiB chunks.
 */
function shiftInFile(fd: number, size: number, shift: number): void {
  const buf = new Uint8Array(Math.min(CHUNK, Math.max(size, 1)));
  for (let end = size; end > 0; ) {
    const len = Math.min(buf.length, end);
    readAll(fd, buf, len, end - len);
    writeAll(fd, buf.subarray(0, len), end - len + shift);
    end -= len;
  }
}
