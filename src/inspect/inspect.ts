import { ElfFile } from "../elf/index.js";
import { withElfFile, withFileSource } from "../io/file-source.js";
import { inspectElf, summarize, type ElfInspection, type ElfSummary } from "./summary.js";

/** A `scan` record: the file summary plus the file's size. */
export type ScanRecord = ElfSummary & { size: number };

/** Reads one file and returns everything `abilink inspect` reports. Throws ElfError or a system error. */
export function inspectFile(path: string): ElfInspection {
  return withFileSource(path, (source) => inspectElf(ElfFile.parse(source), path));
}

/**
 * The scan record for `path`, or null when it is not an ELF file. Only the first bytes
 * of a non-ELF file are read. Throws ElfError for malformed ELF files.
 */
export function summarizeIfElf(path: string): ScanRecord | null {
  return withElfFile(path, (elf, source) => ({ ...summarize(elf, path), size: source.size }));
}
