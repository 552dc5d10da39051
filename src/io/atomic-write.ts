// Files written so that readers (and a run killed part-way) see either the old file or the
// complete new one: a temporary file beside the destination, written, made durable, then
// renamed over it. The one place abilink creates temporary files and commits them.
import { randomBytes } from "node:crypto";
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
import { getAttributeSync, listAttributesSync, setAttributeSync } from "fs-xattr";
import { open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A temporary name next to `path`, on the same file system, so that rename is atomic. */
export function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.abilink-${randomBytes(6).toString("hex")}.tmp`);
}

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

/** A complete temporary file, not yet made durable or renamed into place. */
export interface PendingCommit {
  tmp: string;
  dest: string;
  /** fsync before the rename (off only where durability is handled elsewhere, e.g. a build sandbox). */
  durable: boolean;
}

/** fsync (when durable) and rename over the destination; on failure the temporary file goes. */
export function commitSync(p: PendingCommit): void {
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
 * commitSync with the fsync in libuv's thread pool, so that many files flush at once and
 * share journal commits.
 */
export async function commit(p: PendingCommit): Promise<void> {
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
 * Creates the temporary file for `dest` (exclusively) and runs `fill` on its descriptor;
 * returns the pending commit. If `fill` throws, the temporary file is removed.
 */
export function prepareAtomic(dest: string, durable: boolean, fill: (fd: number, tmp: string) => void, mode = 0o600): PendingCommit {
  const tmp = temporaryPath(dest);
  const fd = openSync(tmp, "wx", mode);
  try {
    fill(fd, tmp);
    closeSync(fd);
    return { tmp, dest, durable };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new
 * one, never a partial write: a temporary file in the same directory, fsync, rename.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const pending = prepareAtomic(
    path,
    false,
    (fd) => {
      writeAll(fd, bytes);
      fsyncSync(fd);
    },
    mode,
  );
  commitSync(pending);
}

/** Byte ranges to write into a copy of a file: the old bytes move `shift` later, then `writes` apply. */
export interface FileChange {
  writes: readonly { offset: number; bytes: Uint8Array }[];
  /** Bytes inserted before the old contents; usually 0. */
  shift: number;
}

const CHUNK = 1 << 20;

function applyWrites(fd: number, writes: FileChange["writes"]): void {
  // In file order: growth past the old end is written last, after the headers that map it.
  for (const w of [...writes].sort((a, b) => a.offset - b.offset)) writeAll(fd, w.bytes, w.offset);
}

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
        readAll(src, buf, len, at);
        writeAll(dst, buf.subarray(0, len), at + shift);
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

/**
 * A changed copy of `source`, complete, as the temporary file of `dest`: a reflink or
 * in-kernel copy (unchanged bytes never pass through this process), the writes, then the
 * owner (where permitted), mode and extended attributes of `like`. Not yet durable or
 * renamed: see commit. Readers of `dest` see nothing of it until then; on failure the
 * temporary file is removed.
 */
export function prepareChangedCopy(source: string, dest: string, change: FileChange, like: Stats, durable = true): PendingCommit {
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

/**
 * Applies the change to `path` itself (same inode, so hard links keep sharing it), as
 * patchelf does. Not atomic. A shift rewrites the whole file, as patchelf always does.
 */
export function changeInPlace(path: string, change: FileChange, durable = true): void {
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
