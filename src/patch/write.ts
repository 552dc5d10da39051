import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  copyFileSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
  type Stats,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { getAttributeSync, listAttributesSync, setAttributeSync } from "fs-xattr";
import { basename, dirname, join } from "node:path";
import type { PlannedWrite } from "./plan.js";

/** Writes all of `bytes` at `offset`, looping over short writes. */
function pwriteAll(fd: number, bytes: Uint8Array, offset: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
}

function applyWrites(fd: number, writes: readonly PlannedWrite[]): void {
  // In file order: growth past the old end is written last, after the headers that map it.
  for (const w of [...writes].sort((a, b) => a.offset - b.offset)) pwriteAll(fd, w.bytes, w.offset);
}

/** What a plan changes in a file: the old bytes move `shift` bytes later, then `writes` apply. */
export interface FileChange {
  writes: readonly PlannedWrite[];
  /** Bytes inserted before the old contents (patchelf's layout for executables); usually 0. */
  shift: number;
}

const CHUNK = 1 << 20;

/** Reads all of `len` bytes at `offset` into `buf`; throws on a short file. */
function preadAll(fd: number, buf: Uint8Array, len: number, offset: number): void {
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, done, len - done, offset + done);
    if (n === 0) throw Object.assign(new Error("file shrank while being patched"), { code: "EIO" });
    done += n;
  }
}

/**
 * Moves bytes [0, size) of `fd` to [shift, size + shift) within the same file, from the end
 * backwards so that nothing is overwritten before it is read, in 1 MiB chunks.
 */
function shiftInFile(fd: number, size: number, shift: number): void {
  const buf = new Uint8Array(Math.min(CHUNK, Math.max(size, 1)));
  for (let end = size; end > 0; ) {
    const len = Math.min(buf.length, end);
    preadAll(fd, buf, len, end - len);
    pwriteAll(fd, buf.subarray(0, len), end - len + shift);
    end -= len;
  }
}

/** Copies all of `from` into `to` at offset `shift`, in 1 MiB chunks. */
function copyShifted(from: string, to: string, shift: number): void {
  const src = openSync(from, "r");
  try {
    const dst = openSync(to, "wx", 0o600);
    try {
      const size = fstatSync(src).size;
      const buf = new Uint8Array(Math.min(CHUNK, Math.max(size, 1)));
      for (let at = 0; at < size; at += buf.length) {
        const len = Math.min(buf.length, size - at);
        preadAll(src, buf, len, at);
        pwriteAll(dst, buf.subarray(0, len), at + shift);
      }
    } finally {
      closeSync(dst);
    }
  } finally {
    closeSync(src);
  }
}

const notPermitted = new Set(["EPERM", "EACCES", "ENOTSUP", "EOPNOTSUPP"]);

/**
 * Copies the extended attributes of `from` to `to` (SELinux labels, file capabilities such
 * as ping's, user attributes), each where this process is permitted to set it, as the
 * owner is.
 */
export function copyAttributes(from: string, to: string): void {
  let names: string[];
  try {
    names = listAttributesSync(from);
  } catch (e) {
    if (notPermitted.has((e as NodeJS.ErrnoException).code ?? "")) return;
    throw e;
  }
  for (const name of names) {
    try {
      setAttributeSync(to, name, getAttributeSync(from, name));
    } catch (e) {
      if (!notPermitted.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
    }
  }
}

/** A temporary name next to `path`, on the same file system, so that rename is atomic. */
export function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.abilink-${randomBytes(6).toString("hex")}.tmp`);
}

/**
 * Writes `source` with `writes` applied to `dest` atomically: a copy next to `dest` (a
 * reflink or in-kernel copy, so unchanged bytes never pass through this process), the
 * writes, fsync, the mode and (where permitted) the owner of `like`, then rename over
 * `dest`. Readers see the old file or the complete new one; a run killed part-way leaves
 * `dest` untouched (and at worst a `.NAME.abilink-*.tmp` file).
 */
export function writePatchedCopy(source: string, dest: string, change: FileChange, like: Stats, durable = true): void {
  commitSync(preparePatchedCopy(source, dest, change, like, durable));
}

/** A patched copy written but not yet made durable and renamed into place. */
export interface PendingCommit {
  tmp: string;
  dest: string;
  /** fsync before the rename (off only where durability is handled elsewhere, e.g. a build sandbox). */
  durable: boolean;
}

/** The first half of writePatchedCopy: the temporary file, complete, with mode and owner; not fsynced, not renamed. */
export function preparePatchedCopy(
  source: string,
  dest: string,
  change: FileChange,
  like: Stats,
  durable = true,
): PendingCommit {
  const tmp = temporaryPath(dest);
  try {
    if (change.shift > 0) copyShifted(source, tmp, change.shift);
    else copyFileSync(source, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    const fd = openSync(tmp, "r+");
    try {
      applyWrites(fd, change.writes);
    } finally {
      closeSync(fd);
    }
    // Owner first: chown clears set-user-ID bits and file capabilities, which come after.
    try {
      chownSync(tmp, like.uid, like.gid);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
    }
    chmodSync(tmp, like.mode & 0o7777);
    copyAttributes(source, tmp);
    return { tmp, dest, durable };
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function commitSync(p: PendingCommit): void {
  try {
    if (p.durable) {
      const fd = openSync(p.tmp, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(p.tmp, p.dest);
  } catch (e) {
    rmSync(p.tmp, { force: true });
    throw e;
  }
}

/**
 * The second half: fsync (in libuv's thread pool, so many files flush at once and share
 * journal commits) and rename over the destination. On failure the temporary file goes.
 */
export async function commitPatchedCopy(p: PendingCommit): Promise<void> {
  try {
    if (p.durable) {
      const fh = await open(p.tmp, "r");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    renameSync(p.tmp, p.dest);
  } catch (e) {
    rmSync(p.tmp, { force: true });
    throw e;
  }
}

/**
 * Applies the change to `path` itself (same inode, so hard links keep sharing it), as
 * patchelf does. A shift rewrites the whole file, as patchelf always does.
 */
export function writeInPlace(path: string, change: FileChange, durable = true): void {
  const fd = openSync(path, "r+");
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`${path}: not a regular file`), { code: "EINVAL" });
    if (change.shift > 0) shiftInFile(fd, st.size, change.shift);
    applyWrites(fd, change.writes);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
