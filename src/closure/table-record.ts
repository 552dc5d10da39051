// Reading an indirection table's record (`DIR/abilink-table`, which table.ts writes): what
// relink needs to move references to a library build into the table — for each class/machine
// directory, the entry each file name goes to (its SONAME: `libz.so.1.3` → `libz.so.1`).
import { posix } from "node:path";
import { unescapeName } from "../abi/format.js";
import { InputError, describeError } from "../errors.js";
import { withFileSource } from "../io/file-source.js";

/** The record's file name in DIR, and its first line. */
export const TABLE_RECORD = "abilink-table";
export const TABLE_HEADER = "abilink-table 1";

/** For each class/machine directory (`elf64-x86_64`), the entry each file name goes to. */
export type TableNames = Record<string, Record<string, string>>;

/** The largest record read (a hostile one is refused, not read). */
const MAX_RECORD_BYTES = 16 << 20;

/**
 * The entries of the table at `dir`, as TableNames, or null when `dir` holds no record (it is
 * not a table). Each entry is reached by its SONAME and by its implementation's file name.
 * Throws InputError for a record that cannot be read or parsed, naming file and line.
 */
export function readTableNames(dir: string): TableNames | null {
  const path = posix.join(dir, TABLE_RECORD);
  let text: string;
  try {
    // A regular file only, opened without blocking (a FIFO or a device there is refused), its size checked before it is read.
    text = withFileSource(path, (source) => {
      if (source.size > MAX_RECORD_BYTES) throw new InputError(`larger than ${MAX_RECORD_BYTES} bytes: not an abilink table record`);
      return Buffer.from(source.read(0, source.size)).toString("utf8");
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new InputError(`${path}: ${describeError(e)}`);
  }
  const lines = text.split("\n");
  if (lines[0] !== TABLE_HEADER) throw new InputError(`${path}:1: expected "${TABLE_HEADER}"`);
  // No prototype: a SONAME such as __proto__ is a key like any other.
  const names: TableNames = Object.create(null) as TableNames;
  for (const [i, line] of lines.entries()) {
    if (i === 0 || line === "") continue;
    const f = line.split(" ");
    if (f.length !== 6 || (f[0] !== "lib" && f[0] !== "interpreter") || (f[4] !== "link" && f[4] !== "copy") || !/^elf(32|64)-[\w-]+$/.test(f[1]!)) {
      throw new InputError(`${path}:${i + 1}: expected "lib|interpreter GROUP SONAME HASH link|copy TARGET"`);
    }
    const group = f[1]!;
    const soname = unescapeName(f[2]!);
    const target = unescapeName(f[5]!);
    if (soname.includes("/") || soname === "" || soname === "." || soname === "..") throw new InputError(`${path}:${i + 1}: ${JSON.stringify(soname)} is not a file name`);
    const g = (names[group] ??= Object.create(null) as Record<string, string>);
    // The SONAME is the entry's own name; an implementation's file name leads to it unless another entry has that name.
    g[soname] = soname;
    const base = posix.basename(target);
    if (!Object.hasOwn(g, base)) g[base] = soname;
  }
  return names;
}
