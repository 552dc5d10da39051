// abilink's one error hierarchy: every failure abilink reports on purpose is an AbilinkError
// with a `code`; anything else is a bug (or a system error, which carries errno's code).
// The root and the reader's errors live in src/elf/errors.ts (src/elf imports nothing else
// from the project); every other layer imports its errors from here.
import { getSystemErrorMap } from "node:util";
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
    /** What is wrong, without the place (the message starts with `file:line: `). */
    readonly reason: string,
    readonly line: number,
    readonly file?: string,
  ) {
    super(`${file ? `${file}:` : "line "}${line}: ${reason}`);
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

/** `abilink demo`: a step did not give what it shows (a command failed, a program printed something else). */
export class DemoError extends AbilinkError {
  readonly code = "demo-failed";
}

/**
 * A failure writing an output named on the command line (`-o FILE`): reported as the
 * output's, not the input's.
 */
export class OutputError extends AbilinkError {
  readonly code = "output-failed";
  constructor(
    readonly path: string,
    override readonly cause: unknown,
  ) {
    super(describeError(cause));
  }
}

/** errno texts said better than libuv's (`illegal operation on a directory`), or that it lacks. */
const SYSTEM_TEXT: Record<string, string> = {
  EISDIR: "is a directory",
  EIO: "input/output error",
  ESPIPE: "cannot seek in a pipe",
  EDQUOT: "disk quota exceeded",
  ENOTSUP: "operation not supported",
  EOPNOTSUPP: "operation not supported",
};

let systemTexts: Map<string, string> | null = null;

/** What an errno code means, in the words of strerror (lower case): `no such file or directory`. */
function systemText(code: string): string {
  if (SYSTEM_TEXT[code]) return SYSTEM_TEXT[code];
  systemTexts ??= new Map([...getSystemErrorMap().values()].map(([name, text]) => [name, text]));
  return systemTexts.get(code) ?? code;
}

/**
 * One line describing a failure: an AbilinkError's own message, or what a system error
 * means (`permission denied`), without its code, system call or path: the caller's line
 * names the path at fault (see describeFailure).
 */
export function describeError(e: unknown): string {
  if (e instanceof AbilinkError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === "string" && typeof err.message === "string") {
    // Node's (and the native helper's) form, `ENOENT: no such file or directory, open 'x'`;
    // a message of abilink's own that carries a code is already a sentence.
    return err.message.startsWith(`${err.code}: `) ? systemText(err.code) : err.message;
  }
  return String((e as Error)?.message ?? e);
}

/**
 * What to print about a failure while working on `input`: `subject: message`, the subject
 * being the path at fault (an output the error is about, or a manifest's file and line),
 * else the input.
 */
export function describeFailure(input: string, e: unknown): { subject: string; message: string } {
  if (e instanceof OutputError) return { subject: e.path, message: e.message };
  if (e instanceof ManifestError && e.file !== undefined) return { subject: `${e.file}:${e.line}`, message: e.reason };
  return { subject: input, message: describeError(e) };
}
