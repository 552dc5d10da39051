// abilink's one error hierarchy: every failure abilink reports on purpose is an AbilinkError
// with a `code`; anything else is a bug (or a system error, which carries errno's code).
// The root and the reader's errors live in src/elf/errors.ts (src/elf imports nothing else
// from the project); every other layer imports its errors from here.
import { AbilinkError } from "./elf/errors.js";

export {
  AbilinkError,
  ElfError,
  FieldRangeError,
  MalformedError,
  NotElfError,
  TruncatedError,
  UnsupportedElfError,
  type ErrorCode,
} from "./elf/errors.js";

/** A manifest that cannot be parsed; `line` is 1-based. */
export class ManifestError extends AbilinkError {
  readonly code = "manifest-syntax";
  constructor(
    message: string,
    readonly line: number,
    readonly file?: string,
  ) {
    super(`${file ? `${file}:` : "line "}${line}: ${message}`);
  }
}

/** An input that is neither an ELF file nor a manifest, where either would do. */
export class NotManifestError extends AbilinkError {
  readonly code = "not-manifest";
}

/** An edit that cannot be made to this file; the file is left untouched. */
export class PatchError extends AbilinkError {
  readonly code = "patch-refused";
}

/** An input abilink will not read or write: not a regular file, too large for what it claims to be. */
export class InputError extends AbilinkError {
  readonly code = "bad-input";
}

/** A file changed under abilink (another program wrote or replaced it): nothing was written. */
export class ChangedFileError extends AbilinkError {
  readonly code = "file-changed";
}

/** A bad command line, or a bad value given on it (a file named by an option, a map file). */
export class UsageError extends AbilinkError {
  readonly code = "usage";
}

/** One line describing a failure: an AbilinkError's own message, or the system error's code and text. */
export function describeError(e: unknown): string {
  if (e instanceof AbilinkError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === "string") return `${err.code}: ${err.message.replace(/^\w+: /, "")}`;
  return String((e as Error)?.message ?? e);
}
