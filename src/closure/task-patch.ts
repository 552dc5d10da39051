import type { Edit } from "../patch/edits.js";
import { patchFile, type PatchOptions } from "../patch/patch-file.js";
import { describeError } from "./describe-error.js";
import type { PatchOutcome } from "./tasks.js";

/** Patches one file with the edits and options in `context`; never throws. */
export function patchOne(path: string, context: unknown): PatchOutcome {
  const { edits, options } = context as { edits: Edit[]; options: PatchOptions };
  try {
    const { dest, written, plan: p, pending } = patchFile(path, edits, options);
    return {
      kind: "patched",
      record: {
        path,
        dest,
        changed: p.changes.length > 0,
        written,
        changes: p.changes,
        inPlace: p.inPlace,
        oldSize: p.oldSize,
        newSize: p.newSize,
        growth: p.newSize - p.oldSize,
        segment: p.segment ? { ...p.segment, vaddr: `0x${p.segment.vaddr.toString(16)}` } : null,
        shift: p.shift,
        extended: p.extended,
        moved: p.moved,
        ...(pending ? { pending } : {}),
      },
    };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}
