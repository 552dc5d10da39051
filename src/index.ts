// The library API: the ELF reader, file access, and the facts inspect and scan report.
export * from "./elf/index.js";
export { FileSource, withFileSource } from "./io/file-source.js";
export { inspectFile, summarizeIfElf, type ScanRecord } from "./inspect/inspect.js";
export { inspectElf, summarize, type ElfInspection, type ElfSummary, type DefinedSymbol, type UndefinedSymbol } from "./inspect/summary.js";
export { scan, scanOne, type ScanOptions, type ScanTotals, type ScanOutcome } from "./closure/scan.js";
// Errors: one hierarchy, one line each.
export { AbilinkError, ManifestError, NotManifestError, OutputError, PatchError, UsageError, describeError, describeFailure, type ErrorCode } from "./errors.js";
export { walkFiles, type WalkOptions } from "./closure/walk.js";
// ABI manifests, hashes, diffs and the static ld.so check.
export {
  extractManifest,
  compareSymbols,
  symbolId,
  symbolKey,
  type AbiManifest,
  type AbiSymbol,
  type AbiData,
  type AbiBinding,
  type AbiSymbolType,
  type LinkHints,
  type HintImport,
} from "./abi/manifest.js";
export { printManifest, parseManifest, manifestJson, MANIFEST_HEADER, type ManifestJson } from "./abi/format.js";
export { abiHash, hashedText, stableForm, normalizedAlignment, nixBase32, HASH_SCHEME } from "./abi/hash.js";
export { diffManifests, diffExitStatus, bindOldReferences, ignoredChanges, type AbiChange, type AbiChangeKind, type DiffOptions } from "./abi/diff.js";
// ld.so's binding rules (check_match), shared by diff, compat and relink.
export { bindInObject, type Binding, type BindingDef, type BindingObject, type BindingRef } from "./abi/binding.js";
export {
  checkCompat,
  compatObject,
  lookup,
  type CompatOptions,
  type CompatReport,
  type CompatProblem,
  type CompatProblemKind,
  type CompatObject,
  type LookupResult,
} from "./abi/compat.js";
export { loadManifest } from "./abi/load.js";
export { compatCheck, loadOrder, readLibraries, defaultLibraryDirs, type LoadOptions } from "./closure/ld-so.js";
export { writeFileAtomic } from "./io/atomic-write.js";
// The ELF writer layer (encoders, table builders, the reserve-then-write file builder).
export * from "./elf/write/index.js";
export {
  patchFile,
  planFile,
  applyPlan,
  planPatch,
  inStore,
  type Edit,
  type LayoutDecision,
  type PatchPlan,
  type PatchOptions,
  type PatchResult,
  type PlannedFile,
  type PlannedWrite,
  type PlanOptions,
  type WriteOptions,
  type WriteTarget,
  type PolicyOptions,
} from "./patch/index.js";
export { patchFiles, type PatchFilesOptions } from "./closure/patch-files.js";
export { buildStub, looksLikeLinkerScript, rewriteScript, scriptInputs, type ScriptInput } from "./stub/index.js";
export { stubFiles, type StubOptions, type StubRecord, type StubResult } from "./closure/stub-files.js";
