import type { Command } from "commander";
import type { CompatReport } from "../abi/compat.js";
import { DIFF_CHANGED, DIFF_ERROR, DIFF_INCOMPATIBLE } from "../abi/diff.js";
import { compatCheck, readLibraries } from "../closure/ld-so.js";
import { describeError } from "../errors.js";
import { escapeText as t } from "../io/paths.js";
import { collect, collectGlob } from "./options.js";
import { jsonLine, out, plural, warn } from "./output.js";

export interface CompatFlags {
  lib?: string[];
  json?: boolean;
  ignoreSymbol?: string[];
  ignoreVersion?: string[];
  verbose?: boolean;
}

function render(r: CompatReport): string {
  const errors = r.problems.filter((p) => p.severity === "error").length;
  const ignored = r.ignored > 0 ? `, ${r.ignored} ignored` : "";
  const lines = [
    `${t(r.path)}: ${r.ok ? "ok" : plural(errors, "problem")}${ignored} (loads ${r.loaded.slice(1).map((l) => t(l.name)).join(", ") || "nothing"})`,
  ];
  const nameOf = new Map(r.loaded.map((l) => [l.path, l.name]));
  for (const n of r.notes) lines.push(`  note     ${t(n)}`);
  for (const p of r.problems) {
    const by = p.object === r.path ? "" : ` (needed by ${t(nameOf.get(p.object) ?? p.object)})`;
    lines.push(`  ${p.severity.padEnd(8)} ${p.kind.padEnd(22)} ${t(p.subject)}${by}: ${t(p.detail)}`);
  }
  return lines.join("\n") + "\n";
}

/** `abilink compat BINARY... [--lib LIB|DIR]...`: 0 all satisfied, 12 a requirement is not, 1 unreadable input. */
export function runCompat(binaries: string[], flags: CompatFlags): number {
  let libs;
  try {
    libs = readLibraries(flags.lib ?? []);
  } catch (e) {
    warn("compat", describeError(e));
    return DIFF_ERROR;
  }
  const cache = new Map();
  let failed = false;
  let broken = false;
  for (const b of binaries) {
    try {
      const r = compatCheck(b, {
        libs,
        cache,
        ignoreSymbols: flags.ignoreSymbol,
        ignoreVersions: flags.ignoreVersion,
        verbose: flags.verbose,
      });
      if (!r.ok) broken = true;
      out(flags.json ? jsonLine(r) : render(r));
    } catch (e) {
      failed = true;
      warn(b, describeError(e));
    }
  }
  if (failed) return DIFF_ERROR;
  return broken ? DIFF_CHANGED | DIFF_INCOMPATIBLE : 0;
}

export function registerCompat(program: Command, setExit: (code: number) => void): void {
  program
    .command("compat")
    .summary("check statically that binaries and every library they load will resolve their imports")
    .description(
      "Emulate ld.so without running anything: find the libraries each BINARY would load (NEEDED breadth first; " +
        "each --lib by SONAME, else RPATH/RUNPATH with $ORIGIN and the system's directories). Then, for the binary " +
        "and every library in that set, check as glibc's ld.so does that each .gnu.version_r library defines the " +
        "versions required, that every undefined symbol binds along the lookup order with its version (glibc's " +
        "check_match rules), that types agree, and that copy-relocated data has not grown or become more aligned. " +
        "Each problem names the object that needs the symbol. Weak references only warn. musl binaries are checked " +
        "by name only.",
    )
    .argument("<binary...>", "executables or shared libraries to check")
    .option("-l, --lib <lib|dir>", "a library to use for NEEDED entries with its SONAME, or a directory of them; repeatable", collect)
    .option("--ignore-symbol <glob>", "do not report problems with symbols whose name (or name@version) matches; repeatable", collectGlob)
    .option("--ignore-version <glob>", "do not report problems with a version namespace or its symbols; repeatable", collectGlob)
    .option("-v, --verbose", "also report the weak references gcc leaves unresolved in every object (__gmon_start__, _ITM_*)")
    .option("--json", "JSON Lines: one report per binary")
    .addHelpText(
      "after",
      `
Examples:
  abilink compat /usr/bin/ls
  abilink compat ./app --lib new/libfoo.so.1 --lib new/libbar.so.2
  abilink compat build/bin/* --lib build/lib/ --ignore-version GLIBC_PRIVATE
  abilink compat --json ./app | jq -r '.problems[] | "\\(.object): \\(.subject)"'

Exit status: 0 every requirement is satisfied; 12 some is not (abidiff-style 4|8); 1 an input
could not be read; 2 usage error.`,
    )
    .action((binaries: string[], flags: CompatFlags) => setExit(runCompat(binaries, flags)));
}
