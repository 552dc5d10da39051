import { escapeText as t } from "../io/paths.js";
import type { Command } from "commander";
import type { CompatReport } from "../abi/compat.js";
import { DIFF_CHANGED, DIFF_ERROR, DIFF_INCOMPATIBLE } from "../abi/diff.js";
import { describeError } from "../errors.js";
import { compatCheck } from "../closure/ld-so.js";
import { collect } from "./options.js";
import { out, warn } from "./output.js";

export interface CompatFlags {
  lib?: string[];
  json?: boolean;
}

function render(r: CompatReport): string {
  const errors = r.problems.filter((p) => p.severity === "error").length;
  const lines = [
    `${t(r.binary)}: ${r.ok ? "ok" : `${errors} problem${errors === 1 ? "" : "s"}`} (loads ${r.loaded.slice(1).map((l) => t(l.name)).join(", ") || "nothing"})`,
  ];
  for (const n of r.notes) lines.push(`  note     ${t(n)}`);
  // Unresolved weak references are normal (__gmon_start__, _ITM_*): one line for all of them.
  const weak = r.problems.filter((p) => p.kind === "symbol-missing" && p.severity === "warning");
  for (const p of r.problems) {
    if (!weak.includes(p)) lines.push(`  ${p.severity.padEnd(8)} ${p.kind.padEnd(18)} ${t(p.subject)}: ${t(p.detail)}`);
  }
  if (weak.length > 0) lines.push(`  warning  weak references left unresolved (allowed): ${weak.map((p) => t(p.subject)).join(" ")}`);
  return lines.join("\n") + "\n";
}

/** `abilink compat BINARY... --lib LIB...`: 0 all satisfied, 12 a requirement is not, 1 unreadable input. */
export function runCompat(binaries: string[], flags: CompatFlags): number {
  const reports: CompatReport[] = [];
  const cache = new Map();
  let failed = false;
  let broken = false;
  for (const b of binaries) {
    try {
      const r = compatCheck(b, { libs: flags.lib ?? [], cache });
      reports.push(r);
      if (!r.ok) broken = true;
      if (!flags.json) out(render(r));
    } catch (e) {
      failed = true;
      warn(b, describeError(e));
    }
  }
  if (flags.json) out(JSON.stringify(binaries.length === 1 ? (reports[0] ?? null) : reports, null, 2) + "\n");
  if (failed) return DIFF_ERROR;
  return broken ? DIFF_CHANGED | DIFF_INCOMPATIBLE : 0;
}

export function registerCompat(program: Command, setExit: (code: number) => void): void {
  program
    .command("compat")
    .summary("check statically that binaries will resolve every import with the given libraries")
    .description(
      "Emulate ld.so without running anything: find the libraries each BINARY would load (NEEDED breadth first; " +
        "each --lib by SONAME, else RPATH/RUNPATH with $ORIGIN and the system's directories), then check that " +
        "each .gnu.version_r library defines the versions required, that every undefined symbol is found with " +
        "its version along ld.so's search order, that types agree, and that copy-relocated data has not grown " +
        "or become more aligned. Weak references only warn. musl binaries are checked by name only.",
    )
    .argument("<binary...>", "executables or shared libraries to check")
    .option("-l, --lib <lib>", "a library to use for NEEDED entries with its SONAME; repeatable", collect)
    .option("--json", "print the reports as JSON")
    .addHelpText(
      "after",
      `
Examples:
  abilink compat /usr/bin/ls
  abilink compat ./app --lib new/libfoo.so.1 --lib new/libbar.so.2

Exit status: 0 every requirement is satisfied; 12 some is not (abidiff-style 4|8); 1 an input
could not be read; 2 usage error.`,
    )
    .action((binaries: string[], flags: CompatFlags) => setExit(runCompat(binaries, flags)));
}
