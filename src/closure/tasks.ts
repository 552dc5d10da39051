import { ElfError } from "../elf/index.js";
import { ManifestError } from "../abi/format.js";
import { abiHash } from "../abi/hash.js";
import { loadManifest } from "../abi/load.js";
import { summarizeIfElf, type ScanRecord } from "../inspect/inspect.js";

/** One line describing a failure: the library's own message, or the system error code and text. */
export function describeError(e: unknown): string {
  if (e instanceof ElfError || e instanceof ManifestError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === "string") return `${err.code}: ${err.message.replace(/^\w+: /, "")}`;
  return String((e as Error)?.message ?? e);
}

/** What happened to one file in `scan`. Non-ELF files are `skip`, reported by no one. */
export type ScanOutcome =
  | { kind: "elf"; record: ScanRecord }
  | { kind: "skip" }
  | { kind: "error"; path: string; message: string };

/** Scans one path; never throws. */
export function scanOne(path: string): ScanOutcome {
  try {
    const record = summarizeIfElf(path);
    return record ? { kind: "elf", record } : { kind: "skip" };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}

export type HashOutcome = { kind: "hash"; path: string; hash: string } | { kind: "error"; path: string; message: string };

/** Hashes one library or manifest; never throws. */
export function hashOne(path: string): HashOutcome {
  try {
    return { kind: "hash", path, hash: abiHash(loadManifest(path).manifest) };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}

/** The per-item functions worker threads can run, by name. */
export const tasks = { scan: scanOne, hash: hashOne } as const;
export type TaskName = keyof typeof tasks;
export type TaskResult<T extends TaskName> = ReturnType<(typeof tasks)[T]>;
