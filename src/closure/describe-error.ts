import { ElfError } from "../elf/index.js";
import { ManifestError } from "../abi/format.js";
import { PatchError } from "../patch/errors.js";

/** One line describing a failure: the library's own message, or the system error code and text. */
export function describeError(e: unknown): string {
  if (e instanceof ElfError || e instanceof ManifestError || e instanceof PatchError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === "string") return `${err.code}: ${err.message.replace(/^\w+: /, "")}`;
  return String((e as Error)?.message ?? e);
}
