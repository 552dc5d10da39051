// Inputs named on a command line, where a pipe will do as well as a file: `-` (standard
// input), `<(git show HEAD:lib.abi)` (/dev/fd/63), a FIFO. A regular file is read where it
// lies, only the ranges needed; a pipe can be read once, front to back, so it is read to its
// end first, within a bound, and parsed from memory.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { BufferSource, type ByteSource } from "../elf/index.js";
import { InputError } from "../errors.js";
import { FileSource } from "./file-source.js";
import { fsPath } from "./paths.js";

/** The name that stands for standard input. */
export const STDIN = "-";

/** The most a pipe may bring, which its first bytes decide (an ELF file, a manifest…), and what to say past it. */
export interface StreamLimit {
  bytes: number;
  refusal: string;
}

/**
 * Runs `use` on the bytes of `path` (or of standard input, for `-`): a regular file through
 * a FileSource (opened once, O_NONBLOCK), a pipe, FIFO or socket read into memory first,
 * refused once it brings more than `limit(its first 4 bytes)` allows. A directory or a
 * device is refused before anything is read.
 */
export function withInput<T>(path: string, limit: (head: Uint8Array) => StreamLimit, use: (source: ByteSource) => T): T {
  const stdin = path === STDIN;
  const fd = stdin ? 0 : openSync(fsPath(path), constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (st.isFIFO() || st.isSocket()) return use(readStream(fd, limit, !stdin));
    if (!st.isFile()) throw new InputError(st.isDirectory() ? "is a directory" : "not a regular file or a pipe");
    const source = FileSource.fromFd(fd, path, false);
    try {
      return use(source);
    } finally {
      source.close();
    }
  } finally {
    if (!stdin) closeSync(fd);
  }
}

/** Pipes are read in pieces of this size, kept as they are: no buffer twice a large input's size. */
const CHUNK = 1 << 20;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** How long a pipe or FIFO that has brought nothing yet is waited on for a writer. */
export const WRITER_WAIT_MS = 5000;

/** Everything a pipe brings until its writer closes it, within the limit its first bytes set. */
function readStream(fd: number, limit: (head: Uint8Array) => StreamLimit, named: boolean): ByteSource {
  // A named pipe or FIFO was opened O_NONBLOCK, so that one without a writer cannot hang us: until
  // a writer comes, it reads as ended. Nothing at all is taken as "no writer yet" for at most
  // WRITER_WAIT_MS; once bytes came, the end is the end. An empty pipe with a writer is
  // waited on in short sleeps until the writer closes it.
  const waitUntil = named ? Date.now() + WRITER_WAIT_MS : 0;
  const chunks: Uint8Array[] = [];
  let size = 0;
  let max: StreamLimit | null = null;
  for (;;) {
    const at = size % CHUNK;
    if (at === 0) chunks.push(new Uint8Array(CHUNK));
    const n = readWaiting(fd, chunks.at(-1)!, at);
    if (n === 0 && size === 0 && Date.now() < waitUntil) {
      chunks.pop();
      Atomics.wait(sleeper, 0, 0, 10);
      continue;
    }
    if (n === 0) break;
    size += n;
    if (max === null && size >= 4) max = limit(chunks[0]!.subarray(0, 4));
    if (max !== null && size > max.bytes) throw new InputError(max.refusal);
  }
  if (size === 0 && named) throw new InputError(`empty: no writer brought anything within ${WRITER_WAIT_MS / 1000} s`);
  // The last piece holds what was read into it; an empty one (the end came) goes.
  if (size % CHUNK === 0) chunks.pop();
  else chunks.push(chunks.pop()!.subarray(0, size % CHUNK));
  return chunks.length <= 1 ? new BufferSource(chunks[0] ?? new Uint8Array(0)) : new ChunkedSource(chunks, size);
}

/** A source over pieces of CHUNK bytes (the last one shorter). */
class ChunkedSource implements ByteSource {
  constructor(
    private readonly chunks: readonly Uint8Array[],
    readonly size: number,
  ) {}

  /** As BufferSource's: a range reaching past the end is cut short there. */
  read(offset: number, length: number): Uint8Array {
    length = Math.max(0, Math.min(length, this.size - offset));
    if (length === 0) return new Uint8Array(0);
    const start = offset % CHUNK;
    if (start + length <= CHUNK) return this.chunks[Math.floor(offset / CHUNK)]!.subarray(start, start + length);
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const at = (offset + done) % CHUNK;
      const piece = this.chunks[Math.floor((offset + done) / CHUNK)]!.subarray(at, at + length - done);
      out.set(piece, done);
      done += piece.length;
    }
    return out;
  }
}

function readWaiting(fd: number, buf: Uint8Array, at: number): number {
  for (;;) {
    try {
      return readSync(fd, buf, at, buf.length - at, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Atomics.wait(sleeper, 0, 0, 10);
    }
  }
}
