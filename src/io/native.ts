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

export const native = createRequire(import.meta.url)("../../build/Release/abilink_io.node") as AbilinkIo;
