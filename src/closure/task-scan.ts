import { summarizeIfElf } from "../inspect/inspect.js";
import { failure, type ScanOutcome } from "./outcomes.js";

/** Scans one path; never throws. */
export function scanOne(path: string): ScanOutcome {
  try {
    const record = summarizeIfElf(path);
    return record ? { kind: "elf", record } : { kind: "skip" };
  } catch (e) {
    return failure(path, e);
  }
}
