import { closeSync, constants, openSync, readSync } from "node:fs";
import { ElfFile, isElf } from "../elf/index.js";
import { FileSource, withFileSource } from "../io/file-source.js";
import { inspectElf, summarize, type ElfInspection, type ElfSummary } from "./summary.js";

/** A `scan` record: the file summary plus the file's size. */
export type ScanRecord = ElfSummary & { size: number };

/** Reads one file and returns everything `abilink inspect` reports. Throws ElfError or a system error. */
export function inspectFile(path: string): ElfInspection {
  return withFileSource(path, (source) => inspectElf(ElfFile.parse(source), path));
}

/**
 * The scan record for `path`, or null when it is not a regular ELF file. Only the
 * first bytes of a non-ELF file are read. Throws ElfError for malformed ELF files.
 */
export function summarizeIfElf(path: string): ScanRecord | null {
  // O_NONBLOCK: a FIFO swapped in after the walk saw a regular file must not hang the scan.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let source: FileSource | null = null;
  try {
    const magic = new Uint8Array(4);
    if (readSync(fd, magic, 0, 4, 0) < 4 || !isElf(magic)) return null;
    source = FileSource.fromFd(fd, path);
    return { ...summarize(ElfFile.parse(source), path), size: source.size };
  } finally {
    if (source) source.close();
    else closeSync(fd);
  }
}
