import { describeError } from "../errors.js";
import type { Edit } from "../patch/edits.js";
import { patchFile, type PatchOptions } from "../patch/patch-file.js";
import type { PatchTaskOutcome } from "./outcomes.js";

/** Patches one file with the edits and options in `context`; never throws. */
export function patchOne(path: string, context: unknown): PatchTaskOutcome {
  const { edits, options } = context as { edits: Edit[]; options: PatchOptions };
  try {
    const { dest, written, plan, pending } = patchFile(path, edits, options);
    const report = {
      path,
      dest,
      changed: plan.changes.length > 0,
      written,
      changes: plan.changes,
      oldSize: plan.oldSize,
      newSize: plan.newSize,
      growth: plan.newSize - plan.oldSize,
      layout: plan.layout,
      moved: plan.moved,
    };
    return pending ? { kind: "prepared", report, pending } : { kind: "patched", report };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}
