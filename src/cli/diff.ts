import { escapeText as t } from "../io/paths.js";
import type { Command } from "commander";
import { DIFF_ERROR, DIFF_USAGE, diffExitStatus, diffManifests, ignoredChanges, type AbiChange, type DiffOptions } from "../abi/diff.js";
import { loadManifest } from "../abi/load.js";
import { collectGlob, stdinAtMostOnce } from "./options.js";
import { jsonLine, out, plural, warnError } from "./output.js";

export interface DiffFlags {
  json?: boolean;
  ignoreSymbol?: string[];
  ignoreVersion?: string[];
}

function renderChanges(oldPath: string, newPath: string, changes: AbiChange[], ignored: number): string {
  if (changes.length === 0) return `${t(oldPath)} -> ${t(newPath)}: no ABI change${ignored ? ` (${plural(ignored, "change")} ignored)` : ""}\n`;
  const bad = changes.filter((c) => !c.compatible).length;
  const lines = [`${t(oldPath)} -> ${t(newPath)}: ${plural(changes.length, "change")}, ${bad} incompatible${ignored ? ` (${ignored} ignored)` : ""}`];
  const sorted = [...changes].sort((x, y) => Number(x.compatible) - Number(y.compatible));
  for (const c of sorted) {
    const detail = c.old !== null && c.new !== null ? ` (${t(String(c.old))} -> ${t(String(c.new))})` : "";
    lines.push(`  ${c.compatible ? "compatible  " : "INCOMPATIBLE"}  ${c.kind.padEnd(24)} ${t(c.subject)}${detail}`);
  }
  return lines.join("\n") + "\n";
}

/** `abilink diff OLD NEW`: exit 0 equal, 4 compatible changes, 12 incompatible, 1 error. */
export function runDiff(oldPath: string, newPath: string, flags: DiffFlags): number {
  if (!stdinAtMostOnce("diff", [oldPath, newPath])) return DIFF_USAGE;
  let a, b;
  try {
    a = loadManifest(oldPath).manifest;
  } catch (e) {
    warnError(oldPath, e);
    return DIFF_ERROR;
  }
  try {
    b = loadManifest(newPath).manifest;
  } catch (e) {
    warnError(newPath, e);
    return DIFF_ERROR;
  }
  const options: DiffOptions = { ignoreSymbols: flags.ignoreSymbol, ignoreVersions: flags.ignoreVersion };
  const changes = diffManifests(a, b, options);
  const ignored = ignoredChanges(a, b, options, changes);
  const status = diffExitStatus(changes);
  if (flags.json) {
    out(jsonLine({ old: oldPath, new: newPath, status, soname: { old: a.soname, new: b.soname }, ignored, changes }));
  } else {
    out(renderChanges(oldPath, newPath, changes, ignored));
  }
  return status;
}

export function registerDiff(program: Command, setExit: (code: number) => void): void {
  program
    .command("diff")
    .summary("compare the ABI of two libraries or manifests and classify every change")
    .description(
      "Report every ELF-level interface change from OLD to NEW (libraries or manifests, in any combination), " +
        "each judged by what a binary linked against OLD experiences with NEW: compatible (added symbols, " +
        "versions, aliases; a new default version beside the old one; GLOBAL<->WEAK; writable->read-only; " +
        "lower alignment) or incompatible (anything removed; type, size, SONAME, class or machine changed; " +
        "alignment raised; read-only->writable; visibility made protected).",
    )
    .argument("<old>", "old library or manifest: a file, a pipe or FIFO, or - for standard input")
    .argument("<new>", "new library or manifest (- for standard input, if OLD is not)")
    .option("--json", "one JSON line: {old, new, status, soname, ignored, changes: [{kind, subject, old, new, compatible}]}")
    .option("--ignore-symbol <glob>", "leave out symbols whose name (or name@version) matches; repeatable", collectGlob)
    .option("--ignore-version <glob>", "leave out a version namespace and its symbols (e.g. GLIBC_PRIVATE); repeatable", collectGlob)
    .addHelpText(
      "after",
      `
Examples:
  abilink diff libfoo.abi build/libfoo.so.1
  abilink diff <(git show HEAD:libfoo.abi) build/libfoo.so.1
  git show HEAD:libfoo.abi | abilink diff - build/libfoo.so.1
  abilink diff --ignore-version 'GLIBC_PRIVATE' old/libc.so.6 new/libc.so.6
  abilink diff --json old.so new.so | jq '.changes[] | select(.compatible | not)'

A pipe, a FIFO or standard input is read whole before it is compared: at most 1 GiB for an ELF
file, 64 MiB for a manifest. Changes left out by --ignore-symbol and --ignore-version are
counted ("no ABI change (3 changes ignored)"; "ignored" in --json).

Exit status (abidiff-compatible bits): 0 no change; 4 ABI changed, all compatible; 12 (4|8) an
incompatible change; 1 error reading an input; 2 usage error.`,
    )
    .action((o: string, n: string, flags: DiffFlags) => setExit(runDiff(o, n, flags)));
}
