// The descriptor system calls Node's fs lacks (native/abilink-io.c, built by `npm ci`).
import { createRequire } from "node:module";

interface AbilinkIo {
  /** FICLONE: true when `dst` now shares `src`'s blocks (a reflink). */
  clone(src: number, dst: number): boolean;
  /** copy_file_range (or a buffer in C where the kernel cannot): the bytes copied. */
  copyRange(src: number, dst: number, srcOffset: number, dstOffset: number, length: number): number;
  /** flock: true when held; false when `wait` is false and another holds it. */
  flock(fd: number, exclusive: boolean, wait: boolean): boolean;
  /** fallocate(FALLOC_FL_KEEP_SIZE): blocks reserved, size and times unchanged; a file system without it reserves nothing and does not fail. */
  fallocate(fd: number, offset: number, length: number): void;
}

let addon: AbilinkIo | undefined;
/** Loaded on first use (dlopen costs about 1.5 ms): a run that only reads never loads it. */
const io = (): AbilinkIo => (addon ??= createRequire(import.meta.url)("../../build/Release/abilink_io.node") as AbilinkIo);

export const native: AbilinkIo = {
  clone: (src, dst) => io().clone(src, dst),
  copyRange: (src, dst, srcOffset, dstOffset, length) => io().copyRange(src, dst, srcOffset, dstOffset, length),
  flock: (fd, exclusive, wait) => io().flock(fd, exclusive, wait),
  fallocate: (fd, offset, length) => io().fallocate(fd, offset, length),
};
