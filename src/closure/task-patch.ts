import { describeError } from "../errors.js";
import type { Edit } from "../patch/edits.js";
import { patchFile, type PatchOptions } from "../patch/patch-file.js";
import type { PatchOutcome } from "./outcomes.js";

/**
 * Patches one file with the edits and options in `context`, the commit included (a
 * descriptor opened in a worker thread is closed when the worker ends, so nothing that
 * holds one leaves the thread); never throws.
 */
export function patchOne(path: string, context: unknown): PatchOutcome {
  const { edits, options, abort } = context as { edits: Edit[]; options: PatchOptions; abort?: Int32Array };
  if (abort && Atomics.load(abort, 0) !== 0) return { kind: "error", path, message: "interrupted; left as it was" };
  try {
    const { dest, written, plan, identity, links } = patchFile(path, edits, options);
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
      identity,
      links,
    };
    return { kind: "patched", report };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}
