import type { Command } from "commander";
import { buildTable, type TableResult } from "../closure/table.js";
import { escapeText as t } from "../io/paths.js";
import { EXIT_INPUT_ERROR, EXIT_OK } from "./exit-codes.js";
import { collect } from "./options.js";
import { jsonLine, out, plural, warn } from "./output.js";
import { interruptible } from "./signals.js";

/** An implementation does not provide its expected manifest (diff's and compat's "incompatible"). */
export const EXIT_TABLE_REFUSED = 12;

export interface TableFlags {
  out: string;
  expect?: string[];
  json?: boolean;
  fsync?: boolean;
}

/** The status of a table run: one pure function of its result. */
export function tableExitStatus(r: TableResult): number {
  switch (r.kind) {
    case "written":
      return EXIT_OK;
    case "invalid":
      return EXIT_INPUT_ERROR;
    case "abi-refused":
      return EXIT_TABLE_REFUSED;
    case "interrupted":
      return EXIT_INPUT_ERROR;
  }
}

/** `abilink table --out DIR [--expect MANIFEST]... LIB...`. */
export async function runTable(libs: string[], flags: TableFlags): Promise<number> {
  let result: TableResult = { kind: "interrupted" };
  const signalled = await interruptible(async (abort) => {
    result = buildTable(flags.out, libs, { expect: flags.expect ?? [], fsync: flags.fsync !== false, abort });
    return tableExitStatus(result);
  });
  const r = result as TableResult;
  if (r.kind === "invalid") for (const p of r.problems) warn(p.path, p.message);
  if (flags.json) {
    if (r.kind === "written") out(jsonLine({ out: flags.out, written: true, entries: r.entries }));
    else if (r.kind === "abi-refused") out(jsonLine({ out: flags.out, written: false, refused: r.problems }));
  } else if (r.kind === "written") out(renderWritten(flags.out, r));
  else if (r.kind === "abi-refused") out(renderRefused(r));
  return signalled;
}

function renderWritten(dir: string, r: Extract<TableResult, { kind: "written" }>): string {
  const lines = r.entries.map((e) => `${e.entry}${e.interpreter ? " (interpreter)" : ""}: ${e.kind === "link" ? "->" : "copy of"} ${t(e.target)}  ${e.hash}`);
  const copies = r.entries.filter((e) => e.kind === "copy").length;
  const groups = new Set(r.entries.map((e) => e.group)).size;
  lines.push(`table written to ${t(dir)}: ${plural(r.entries.length, "entry").replace("entrys", "entries")} in ${plural(groups, "class/machine directory").replace("directorys", "directories")} (${copies} ${copies === 1 ? "copy" : "copies"} with $ORIGIN expanded)`);
  return lines.join("\n") + "\n";
}

function renderRefused(r: Extract<TableResult, { kind: "abi-refused" }>): string {
  const lines: string[] = [];
  for (const p of r.problems) {
    if (p.path === null) {
      lines.push(`${t(p.manifest)}: no LIB has SONAME ${t(p.soname)} for ${p.group}: the table would not provide it`);
      continue;
    }
    lines.push(`${t(p.path)} does not provide ${t(p.manifest)} (${t(p.soname)}, ${p.group}): ${plural(p.changes.length, "incompatible change")}`);
    for (const c of p.changes) {
      const detail = c.old !== null && c.new !== null ? ` (${t(String(c.old))} -> ${t(String(c.new))})` : "";
      lines.push(`  INCOMPATIBLE  ${c.kind.padEnd(24)} ${t(c.subject)}${detail}`);
    }
  }
  lines.push("table refused: nothing written");
  return lines.join("\n") + "\n";
}

export function registerTable(program: Command, setExit: (code: number) => void): void {
  program
    .command("table")
    .summary("build an indirection table: one entry per SONAME (and glibc's interpreter) per class/machine")
    .description(
      "Write DIR, an indirection table: DIR/lib/elf<class>-<machine>/<SONAME> for each LIB (a symbolic link to " +
        "its real path, or, for a library whose RUNPATH, RPATH or NEEDED uses $ORIGIN, a copy with $ORIGIN expanded " +
        "to its real directory), and DIR/abilink-table, the record: one line per entry with its SONAME, class/machine, " +
        "ABI hash (abilink hash's) and implementation. Programs point at the table with their RUNPATH and, for glibc, " +
        "their interpreter (DIR/lib/elf64-x86_64/ld-linux-x86-64.so.2). glibc goes in from one build (ld.so, libc, libm, " +
        "libpthread, …, NSS modules); its ld.so is taken from libc's directory when not given. The table is built " +
        "beside DIR and renamed whole: DIR is complete or absent.",
    )
    .argument("<lib...>", "shared libraries (their real paths are the entries' targets)")
    .requiredOption("--out <dir>", "the table's directory, which must not exist")
    .option("--expect <manifest>", "a manifest (abilink abi) the LIB of its SONAME and class/machine must provide, as diff judges: equal or compatible (repeatable)", collect)
    .option("--no-fsync", "do not flush the table to disk before it is renamed to DIR")
    .option("--json", "one JSON document: {out, written, entries: [{soname, group, hash, kind, interpreter, target, entry}]} or {…, refused}")
    .addHelpText(
      "after",
      `
Examples:
  abilink table --out /opt/tables/zlib-1 /usr/lib/x86_64-linux-gnu/libz.so.1
  abilink table --out tbl build/lib/{ld-linux-x86-64.so.2,libc.so.6,libm.so.6} /usr/lib/x86_64-linux-gnu/libz.so.1
  abilink table --out tbl --expect libz.abi new/lib/libz.so.1     # refused (exit 12) unless it provides libz.abi
  abilink patch --set-interpreter "$PWD/tbl/lib/elf64-x86_64/ld-linux-x86-64.so.2" --set-runpath "$PWD/tbl/lib/elf64-x86_64" app

The record (DIR/abilink-table): "abilink-table 1", then one line per entry, sorted:
  lib|interpreter GROUP SONAME HASH link|copy TARGET

Exit status: 0 table written; 1 a LIB is not a shared library (a program, an object, an archive,
missing), two LIBs have one SONAME for one class/machine, glibc from two builds, a manifest
unreadable, DIR exists or cannot be written (nothing written); 12 a LIB does not provide its
expected manifest, or no LIB has its SONAME (nothing written); 2 usage error.`,
    )
    .action(async (libs: string[], flags: TableFlags) => setExit(await runTable(libs, flags)));
}
