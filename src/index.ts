// The library API: the ELF reader, file access, and the facts inspect and scan report.
export * from "./elf/index.js";
export { FileSource, withFileSource } from "./io/file-source.js";
export { inspectFile, summarizeIfElf, type ScanRecord } from "./inspect/inspect.js";
export { inspectElf, summarize, type ElfInspection, type ElfSummary, type DefinedSymbol, type UndefinedSymbol } from "./inspect/summary.js";
export { scan, scanOne, describeError, type ScanOptions, type ScanTotals, type ScanOutcome } from "./closure/scan.js";
export { walkFiles, type WalkOptions } from "./closure/walk.js";
