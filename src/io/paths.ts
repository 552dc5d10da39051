// File names are bytes on Linux, not text. abilink carries them as JavaScript strings that
// keep every byte: valid UTF-8 decodes as usual, and each byte that is not part of valid
// UTF-8 becomes the lone surrogate U+DC80 + byte (Python's "surrogateescape"). Such a
// string turns back into the same bytes with `fsPath` before any file system call, prints
// escaped (`\xNN`) in text output, and appears in JSON as "\udcNN", which reads back to
// the same string.
import { readFileSync, realpathSync } from "node:fs";

const LONE = /[\udc80-\udcff]/;

/** Bytes to a string that keeps them all (invalid UTF-8 bytes as U+DC80 + byte). */
export function pathFromBytes(bytes: Uint8Array): string {
  let ascii = true;
  for (const b of bytes) if (b >= 0x80) ascii = false;
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const n = utf8SequenceLength(bytes, i);
    if (n > 0) {
      out += Buffer.from(bytes.subarray(i, i + n)).toString("utf8");
      i += n;
    } else {
      out += String.fromCharCode(0xdc00 + bytes[i]!);
      i++;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence at `i` (1-4), or 0 when the byte there does not start one. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // a surrogate's encoding
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/** The bytes a path string stands for. */
export function pathToBytes(path: string): Buffer {
  if (!LONE.test(path)) return Buffer.from(path, "utf8");
  const parts: Buffer[] = [];
  let run = "";
  for (const ch of path) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0xdc80 && c <= 0xdcff) {
      if (run) parts.push(Buffer.from(run, "utf8"));
      run = "";
      parts.push(Buffer.of(c - 0xdc00));
    } else run += ch;
  }
  if (run) parts.push(Buffer.from(run, "utf8"));
  return Buffer.concat(parts);
}

/** The path of an opened descriptor: the object itself, whatever its name is now. */
export const fdPath = (fd: number): string => `/proc/self/fd/${fd}`;

/** What to hand to `node:fs`: the string itself, or its bytes when it holds raw bytes. */
export function fsPath(path: string): string | Buffer {
  return LONE.test(path) ? pathToBytes(path) : path;
}

/**
 * The program's arguments as given, byte for byte: Node decodes argv as UTF-8 and replaces
 * what is not, so the arguments are read again from /proc/self/cmdline (Linux) and kept as
 * byte-faithful strings. Falls back to process.argv where /proc is not there.
 */
export function rawArgv(argv: readonly string[] = process.argv): string[] {
  if (!argv.some((a) => a.includes("\ufffd"))) return [...argv];
  try {
    const all = readFileSync("/proc/self/cmdline");
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < all.length; i++) {
      if (all[i] === 0) {
        parts.push(all.subarray(start, i));
        start = i + 1;
      }
    }
    const user = argv.length - 2;
    if (user < 0 || parts.length < user) return [...argv];
    const tail = parts.slice(parts.length - user);
    // Use them only if they are what Node decoded (lossily): the same arguments.
    if (!tail.every((t, k) => t.toString("utf8") === argv[k + 2])) return [...argv];
    return [argv[0]!, argv[1]!, ...tail.map(pathFromBytes)];
  } catch {
    return [...argv];
  }
}

/**
 * A string for a terminal: raw bytes as `\xNN`, control characters as `\n`, `\t`, `\e`…
 * or `\xNN`, and backslash doubled, so that one record stays one line and nothing in a file
 * name or an ELF string reaches the terminal as a command.
 */
export function escapeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f\x7f-\x9f\\\udc80-\udcff]/.test(s)) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c === 0x1b) out += "\\e";
    else if (ch.length === 1 && c >= 0xdc80 && c <= 0xdcff) out += `\\x${(c - 0xdc00).toString(16).padStart(2, "0")}`;
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out;
}

/** `path` with symbolic links resolved, byte for byte. */
export function realPath(path: string): string {
  // The native realpath(3): the JavaScript one walks the components as (lossy) strings.
  return pathFromBytes(realpathSync.native(fsPath(path), { encoding: "buffer" }));
}
