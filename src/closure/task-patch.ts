import type { Edit } from "../patch/edits.js";
import { patchFile, type PatchOptions } from "../patch/patch-file.js";
import { describeError } from "./describe-error.js";
import type { PatchOutcome } from "./tasks.js";

/** Patches one file with the edits and options in `context`; never throws. */
export function patchOne(path: string, context: unknown): PatchOutcome {
  const { edits, options } = context as { edits: Edit[]; options: PatchOptions };
  try {
    const { dest, written, plan, pending } = patchFile(path, edits, options);
    const { writes: _, segment, ...summary } = plan;
    return {
      kind: "patched",
      record: {
        path,
        dest,
        changed: plan.changes.length > 0,
        written,
        ...summary,
        growth: plan.newSize - plan.oldSize,
        segment: segment ? { ...segment, vaddr: `0x${segment.vaddr.toString(16)}` } : null,
        ...(pending ? { pending } : {}),
      },
    };
  } catch (e) {
    return { kind: "error", path, message: describeError(e) };
  }
}
