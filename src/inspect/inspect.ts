import { ElfFile } from "../elf/index.js";
import { withFileSource } from "../io/file-source.js";
import { inspectElf, summarize, type ElfInspection, type ElfSummary } from "./summary.js";

/** Reads one file and returns everything `abilink inspect` reports. Throws ElfError or a system error. */
export function inspectFile(path: string): ElfInspection {
  return withFileSource(path, (source) => inspectElf(ElfFile.parse(source), path));
}

/** Reads one file's summary (no symbols): what `abilink scan` reports, plus `size`. */
export function summarizeFile(path: string): ElfSummary & { size: number } {
  return withFileSource(path, (source) => ({ ...summarize(ElfFile.parse(source), path), size: source.size }));
}
