/**
 * The root of abilink's error hierarchy. It lives here, in the bottom layer, because
 * src/elf imports nothing else from the project; `src/errors.ts` re-exports it with the
 * other layers' errors and `describeError`. `code` names the kind for programs; the
 * message is one line for people.
 */
export abstract class AbilinkError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Every kind of error abilink reports, one per leaf class. */
export type ErrorCode =
  | "not-elf"
  | "unsupported-elf"
  | "truncated"
  | "malformed"
  | "field-range"
  | "manifest-syntax"
  | "not-manifest"
  | "patch-refused"
  | "bad-input"
  | "file-changed"
  | "output-failed"
  | "usage"
  | "demo-failed";

/**
 * The reader's error types. Every failure caused by the bytes of the input is one of
 * these, never a RangeError or TypeError, so callers can catch `ElfError` and print
 * one line. `offset` is the file offset the problem was found at, when there is one.
 */
export abstract class ElfError extends AbilinkError {
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at offset 0x${offset.toString(16)})`);
    this.offset = offset;
  }
}

/** The input does not start with the ELF magic. */
export class NotElfError extends ElfError {
  readonly code = "not-elf";
}

/** A valid-looking ELF file of a kind this reader does not handle (unknown class or encoding). */
export class UnsupportedElfError extends ElfError {
  readonly code = "unsupported-elf";
}

/** A structure extends past the end of the file, or an offset points outside it. */
export class TruncatedError extends ElfError {
  readonly code = "truncated";
}

/** The bytes are internally inconsistent: bad sizes, loops, counts too large, missing terminators. */
export class MalformedError extends ElfError {
  readonly code = "malformed";
}

/**
 * A value does not fit its field in the file's class (an ELF32 word above 2^32), found while
 * encoding: what a rewrite computed cannot be written in this file.
 */
export class FieldRangeError extends AbilinkError {
  readonly code = "field-range";
}
