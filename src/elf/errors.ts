/**
 * The reader's error types. Every failure caused by the bytes of the input is one of
 * these, never a RangeError or TypeError, so callers can catch `ElfError` and print
 * one line. `offset` is the file offset the problem was found at, when there is one.
 */
export class ElfError extends Error {
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at offset 0x${offset.toString(16)})`);
    this.name = new.target.name;
    this.offset = offset;
  }
}

/** The input does not start with the ELF magic. */
export class NotElfError extends ElfError {}

/** A valid-looking ELF file of a kind this reader does not handle (unknown class or encoding). */
export class UnsupportedElfError extends ElfError {}

/** A structure extends past the end of the file, or an offset points outside it. */
export class TruncatedError extends ElfError {}

/** The bytes are internally inconsistent: bad sizes, loops, counts too large, missing terminators. */
export class MalformedError extends ElfError {}
