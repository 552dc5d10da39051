// What `abilink patchelf` prints when something fails: patchelf's own words, so that a build
// log reads the same whichever tool ran. System errors are said as patchelf says them
// (`getting info about 'x': No such file or directory`); abilink's own refusals keep the
// file name in front, since a run over many files must say which one failed.
import { InputError, OutputError, describeFailure } from "../errors.js";

/** glibc's strerror texts for the errors a file name can meet (libuv words some differently). */
const STRERROR: Record<string, string> = {
  ENOENT: "No such file or directory",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  ELOOP: "Too many levels of symbolic links",
  ENAMETOOLONG: "File name too long",
  EROFS: "Read-only file system",
  ENOSPC: "No space left on device",
  EDQUOT: "Disk quota exceeded",
  EIO: "Input/output error",
  EFBIG: "File too large",
  ETXTBSY: "Text file busy",
  EMFILE: "Too many open files",
  ENXIO: "No such device or address",
};

/** The errno code of a system error as Node raises it (`ENOENT: no such file…`); null for anything else. */
const errnoCode = (e: unknown): string | null => {
  const err = e as NodeJS.ErrnoException | null;
  const code = err?.code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) && err!.message?.startsWith(`${code}: `) ? code : null;
};

/** strerror's text for an errno code: glibc's where known, else Node's, capitalized. */
function strerror(code: string, e: unknown): string {
  if (STRERROR[code]) return STRERROR[code];
  const text = describeFailure("", e).message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * patchelf's message for a failure to read `path` (an input, an `@file` argument): what it
 * was doing and why, as its readFile says it. Not a system error: abilink's own message.
 */
export function patchelfSystemMessage(path: string, e: unknown): string {
  const code = errnoCode(e);
  if (code !== null) {
    // patchelf stats the file first, opens it, then reads it.
    const verb = code === "EACCES" || code === "EPERM" || code === "EMFILE" || code === "ENXIO" ? "opening" : code === "EISDIR" || code === "EIO" ? "reading" : "getting info about";
    return `${verb} '${path}': ${strerror(code, e)}`;
  }
  if (e instanceof InputError && e.message.startsWith("is a directory")) return `reading '${path}': Is a directory`;
  return `${path}: ${describeFailure(path, e).message}`;
}

/** The line (after `patchelf: `) for a failure while working on `file`. */
export function patchelfFailure(file: string, e: unknown): string {
  if (e instanceof OutputError) {
    const code = errnoCode(e.cause);
    if (code === null) return `${e.path}: ${e.message}`;
    const verb = ["ENOENT", "ENOTDIR", "EISDIR", "EACCES", "ELOOP", "ENAMETOOLONG", "EROFS"].includes(code) ? "opening" : "writing";
    return `${verb} '${e.path}': ${strerror(code, e.cause)}`;
  }
  if (errnoCode(e) !== null || e instanceof InputError) return patchelfSystemMessage(file, e);
  const { subject, message } = describeFailure(file, e);
  return `${subject}: ${message}`;
}
