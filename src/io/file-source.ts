import { closeSync, constants, fstatSync, openSync, readSync, type BigIntStats, type Stats } from "node:fs";
import { ElfFile, TruncatedError, isElf, type ByteSource } from "../elf/index.js";
import { InputError } from "../errors.js";
import { fsPath } from "./paths.js";

/**
 * Refuses what is not a regular file (a directory, a device, a FIFO) before a byte of it is
 * read: a device such as /dev/zero would feed a reader without end, a FIFO can hang it.
 */
export function requireRegularFile(st: Stats | BigIntStats): void {
  if (!st.isFile()) throw new InputError(st.isDirectory() ? "is a directory" : "not a regular file");
}

const BLOCK = 16 * 1024;
const MAX_BLOCKS = 32;

/**
 * A ByteSource over an open file descriptor. Small reads go through a little block
 * cache (the reader makes many of them for version records); large reads go straight
 * to the file. Nothing reads the whole file unless a table really spans it.
 */
export class FileSource implements ByteSource {
  readonly size: number;
  /** Bytes actually read from the file, for tests and benchmarks. */
  bytesRead = 0;
  private readonly blocks = new Map<number, Uint8Array>();
  private closed = false;

  private constructor(
    private readonly fd: number,
    readonly path: string,
    /** Whether close() closes the descriptor (false: the caller's, lent for reading). */
    private readonly owned = true,
  ) {
    const st = fstatSync(fd);
    requireRegularFile(st);
    this.size = st.size;
    this.identity = `${st.dev}:${st.ino}`;
  }

  /** The file read, as `dev:ino`: what was opened, whatever its name leads to later. */
  readonly identity: string;

  static open(path: string): FileSource {
    const fd = openSync(fsPath(path), constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      return new FileSource(fd, path);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Wraps a descriptor the caller opened; `close()` closes it unless `owned` is false. */
  static fromFd(fd: number, path: string, owned = true): FileSource {
    return new FileSource(fd, path, owned);
  }

  read(offset: number, length: number): Uint8Array {
    const first = Math.floor(offset / BLOCK);
    const last = Math.floor((offset + length - 1) / BLOCK);
    if (length > 0 && first === last && length < BLOCK) {
      const block = this.block(first);
      const start = offset - first * BLOCK;
      if (start + length > block.length) {
        throw new TruncatedError(`file shrank while being read: ${this.path}`, offset);
      }
      return block.subarray(start, start + length);
    }
    return this.readExact(offset, length);
  }

  private block(index: number): Uint8Array {
    let b = this.blocks.get(index);
    if (b) {
      // Refresh its place in the insertion order, which serves as LRU order.
      this.blocks.delete(index);
      this.blocks.set(index, b);
      return b;
    }
    const start = index * BLOCK;
    b = this.readExact(start, Math.min(BLOCK, this.size - start));
    if (this.blocks.size >= MAX_BLOCKS) this.blocks.delete(this.blocks.keys().next().value!);
    this.blocks.set(index, b);
    return b;
  }

  private readExact(offset: number, length: number): Uint8Array {
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) throw new TruncatedError(`file shrank while being read: ${this.path}`, offset + done);
      done += n;
    }
    this.bytesRead += length;
    return buf;
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      if (this.owned) closeSync(this.fd);
    }
  }
}

/** Opens `path`, runs `use` and always closes the file. */
export function withFileSource<T>(path: string, use: (source: FileSource) => T): T {
  const source = FileSource.open(path);
  try {
    return use(source);
  } finally {
    source.close();
  }
}

/**
 * Opens `path` once and runs `use` on the parsed ELF file, or returns null when the file
 * does not start with the ELF magic. Opened with O_NONBLOCK and refused unless it is a
 * regular file, so that a FIFO or a device named where a file was expected can neither
 * hang the caller nor feed it without end.
 */
export function withElfFile<T>(path: string, use: (elf: ElfFile, source: FileSource) => T): T | null {
  return withFileSource(path, (source) => withElf(source, use));
}

/** As withElfFile, over a descriptor the caller opened and keeps (it is not closed). */
export function withElfFd<T>(fd: number, path: string, use: (elf: ElfFile, source: FileSource) => T): T | null {
  const source = FileSource.fromFd(fd, path, false);
  try {
    return withElf(source, use);
  } finally {
    source.close();
  }
}

/** Runs `use` on the ELF file in `source`, or returns null when it does not start with the ELF magic. */
export function withElf<T, S extends ByteSource>(source: S, use: (elf: ElfFile, source: S) => T): T | null {
  if (source.size < 4 || !isElf(source.read(0, 4))) return null;
  return use(ElfFile.parse(source), source);
}

/**
 * The whole of a small regular file named on a command line (an `@file` argument, a map
 * file): opened without blocking, refused unless a regular file, and at most `maxBytes`.
 * Throws InputError or a system error.
 */
export function readSmallFile(path: string, maxBytes: number): Uint8Array {
  return withFileSource(path, (source) => {
    if (source.size > maxBytes) throw new InputError(`larger than ${maxBytes} bytes`);
    return source.read(0, source.size);
  });
}
