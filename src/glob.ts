// Glob matching for the options that leave things out (--ignore-symbol, --ignore-version,
// --exclude), through picomatch, with its failures as UsageError rather than TypeError.
import picomatch from "picomatch";
import { UsageError } from "./errors.js";

/**
 * A test matching any of `globs` (picomatch syntax; `*` also matches a leading dot, a
 * leading `!` is a literal), or null when there is none. Throws UsageError for an empty glob
 * or one picomatch refuses.
 */
export function compileGlobs(globs: readonly string[]): ((text: string) => boolean) | null {
  if (globs.length === 0) return null;
  for (const g of globs) if (g === "") throw new UsageError("a glob cannot be empty");
  try {
    return picomatch([...globs], { dot: true, nonegate: true });
  } catch (e) {
    throw new UsageError(`bad glob: ${(e as Error).message}`);
  }
}
