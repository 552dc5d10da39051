import { Option, type Command } from "commander";
import { InvalidArgumentError } from "commander";
import { availableParallelism } from "node:os";
import type { PatchOutcome, PatchReport } from "../closure/outcomes.js";
import { patchFiles } from "../closure/patch-files.js";
import { escapeText as t } from "../io/paths.js";
import { splitSearchPath, type Edit } from "../patch/edits.js";
import type { PatchOptions } from "../patch/patch-file.js";
import { LAYOUTS, type Layout } from "../patch/plan.js";
import { EXIT_USAGE, exitForFailures } from "./exit-codes.js";
import { collect, parseJobs } from "./options.js";
import { StatusLine, out, outputLost, warn } from "./output.js";
import { interruptible } from "./signals.js";

export interface PatchFlags {
  setInterpreter?: string;
  setRunpath?: string;
  setRpath?: string;
  addRunpath?: string[];
  removeRunpath?: boolean;
  rpathToRunpath?: boolean;
  runpathToRpath?: boolean;
  replacePrefix?: string[];
  addNeeded?: string[];
  removeNeeded?: string[];
  replaceNeeded?: string[];
  setSoname?: string;
  output?: string;
  inPlace?: boolean;
  dryRun?: boolean;
  json?: boolean;
  force?: boolean;
  verbose?: boolean;
  jobs?: number;
  layout?: Layout;
  /** commander's negation of --no-fsync. */
  fsync?: boolean;
}

/** `--replace-needed OLD NEW` takes two words; main() joins them with NUL before parsing. */
export const PAIR_SEPARATOR = "\0";

/** The edits the flags ask for, in the fixed order README documents. */
export function editsFromFlags(f: PatchFlags): Edit[] {
  const edits: Edit[] = [];
  if (f.setInterpreter !== undefined) edits.push({ op: "set-interpreter", path: f.setInterpreter });
  for (const p of f.replacePrefix ?? []) {
    const eq = p.indexOf("=");
    edits.push({ op: "replace-prefix", from: p.slice(0, eq), to: p.slice(eq + 1) });
  }
  if (f.removeRunpath) edits.push({ op: "remove-runpath" });
  if (f.rpathToRunpath) edits.push({ op: "convert-search-path", to: "runpath" });
  if (f.runpathToRpath) edits.push({ op: "convert-search-path", to: "rpath" });
  if (f.setRpath !== undefined) edits.push({ op: "set-search-path", paths: splitSearchPath(f.setRpath), kind: "rpath" });
  if (f.setRunpath !== undefined) edits.push({ op: "set-search-path", paths: splitSearchPath(f.setRunpath), kind: "runpath" });
  for (const p of f.addRunpath ?? []) edits.push({ op: "add-runpath", path: p });
  for (const n of f.removeNeeded ?? []) edits.push({ op: "remove-needed", name: n });
  for (const pair of f.replaceNeeded ?? []) {
    const [from, to] = pair.split(PAIR_SEPARATOR) as [string, string];
    edits.push({ op: "replace-needed", from, to });
  }
  for (const n of f.addNeeded ?? []) edits.push({ op: "add-needed", name: n });
  if (f.setSoname !== undefined) edits.push({ op: "set-soname", name: f.setSoname });
  return edits;
}

/** One file's text report (for --dry-run and -v). */
function summary(r: PatchReport): string {
  if (!r.changed) return `${t(r.path)}: unchanged`;
  const moves = r.moved.length ? `; moves ${r.moved.join(", ")}` : "";
  const grows = `grows by ${r.growth} bytes`;
  let how: string;
  switch (r.layout.kind) {
    case "in-place":
      how = "fits in place";
      break;
    case "slack":
      how = `${grows}: the PT_LOAD at program header ${r.layout.index} extended by ${r.layout.bytes} bytes into the unused space after it${moves}`;
      break;
    case "shift":
      how =
        `${grows}: the contents move ${r.layout.bytes} bytes later and the first PT_LOAD starts ${r.layout.bytes} bytes lower ` +
        `(patchelf's layout for executables); lays out again ${[...r.moved, ".dynstr"].join(", ")}`;
      break;
    case "new-segment":
      how = `${grows}: new PT_LOAD (${r.layout.flags}) at offset 0x${r.layout.offset.toString(16)}, vaddr 0x${r.layout.vaddr.toString(16)}${moves}`;
      break;
  }
  const names = [
    ...(r.hardLinkOf !== undefined ? [`  another name of ${t(r.hardLinkOf)}, patched with it`] : []),
    ...(r.otherNames ? [`  ${r.otherNames} other name${r.otherNames === 1 ? "" : "s"} of this file, not given, keep${r.otherNames === 1 ? "s" : ""} the old contents`] : []),
  ];
  return `${t(r.path)}:\n${r.changes.map((c) => `  ${t(c)}\n`).join("")}  ${how}${names.map((n) => `\n${n}`).join("")}`;
}

/**
 * One file's --json record. Its fields and their order are documented in README: the
 * layout appears as `inPlace`, `shift`, `extended` (slack) and `segment` (new PT_LOAD).
 */
export function jsonRecord(r: PatchReport): object {
  const l = r.layout;
  return {
    path: r.path,
    dest: r.dest,
    changed: r.changed,
    written: r.written,
    changes: r.changes,
    oldSize: r.oldSize,
    newSize: r.newSize,
    inPlace: l.kind === "in-place",
    shift: l.kind === "shift" ? l.bytes : 0,
    extended: l.kind === "slack" ? { index: l.index, bytes: l.bytes } : null,
    moved: r.moved,
    growth: r.growth,
    segment: l.kind === "new-segment" ? { offset: l.offset, vaddr: `0x${l.vaddr.toString(16)}`, size: l.size, flags: l.flags } : null,
    otherNames: r.otherNames ?? 0,
    hardLinkOf: r.hardLinkOf ?? null,
  };
}

/** `abilink patch FILE... [edits]`. */
export async function runPatch(files: string[], flags: PatchFlags): Promise<number> {
  if (flags.output !== undefined && files.length !== 1) {
    warn("patch", "--output takes exactly one input file");
    return EXIT_USAGE;
  }
  if (flags.output !== undefined && flags.inPlace) {
    warn("patch", "--output and --in-place exclude each other");
    return EXIT_USAGE;
  }
  const edits = editsFromFlags(flags);
  if (edits.length === 0) {
    warn("patch", "no edit given (see abilink patch --help)");
    return EXIT_USAGE;
  }
  const options: PatchOptions = {
    output: flags.output,
    inPlace: flags.inPlace,
    dryRun: flags.dryRun,
    layout: { layout: flags.layout },
    write: { fsync: flags.fsync !== false },
    policy: { force: flags.force },
  };
  let failures = 0;
  let done = 0;
  const status = new StatusLine();
  const report = (r: PatchOutcome, total: number) => {
    // A progress line (terminal only, stderr) never shares a line with a report.
    status.done();
    if (r.kind === "error") {
      failures++;
      // The JSON record keeps the input as its path; the message names another path at fault.
      if (flags.json) out(JSON.stringify({ path: r.path, error: r.subject ? `${r.subject}: ${r.message}` : r.message }) + "\n");
      warn(r.subject ?? r.path, r.message);
    } else if (flags.json) out(JSON.stringify(jsonRecord(r.report)) + "\n");
    else if (flags.dryRun || flags.verbose) out(summary(r.report) + "\n");
    status.update(`patched ${++done}/${total}`);
  };
  const status2 = await interruptible(async (abort) => {
    await patchFiles(files, edits, options, { jobs: flags.jobs ?? availableParallelism(), onOutcome: report, abort });
    return exitForFailures(failures);
  });
  status.done();
  if (outputLost() && !flags.dryRun) {
    warn("patch", "standard output was closed: files were patched without a report of each (see abilink patch --help)");
    return Math.max(status2, 1);
  }
  return status2;
}

function prefixPair(value: string, previous: string[] = []): string[] {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError("expected OLD=NEW");
  return [...previous, value];
}

export function registerPatch(program: Command, setExit: (code: number) => void): void {
  program
    .command("patch")
    .summary("edit the interpreter, RUNPATH/RPATH, NEEDED and SONAME of ELF files")
    .description(
      "Rewrite the loader-visible references of ELF programs and libraries in one pass per file. Strings that fit " +
        "are written in place (reusing space the edit frees, never overwriting a string shared by tail merging); " +
        "otherwise .dynstr grows where it is when the unused space after its segment can take it (the version " +
        "and relocation tables after it slide up; the file does not grow), and else the dynamic string table, and " +
        ".dynamic or .interp when they must grow, move to a new PT_LOAD. " +
        "Files are replaced atomically (temporary file and rename) unless --in-place is given; a file the edits " +
        "do not change is not written. Edits apply in this order: interpreter, prefix replacements, runpath " +
        "removal and conversion, setting and adding runpaths, NEEDED removal, replacement, addition, SONAME.",
    )
    .argument("<file...>", "ELF programs or libraries")
    .option("--set-interpreter <path>", "set PT_INTERP (programs only)")
    .option("--set-runpath <dirs>", "set the search path (colon-separated); an existing DT_RPATH stays DT_RPATH; adds DT_RUNPATH when there is none")
    .option("--set-rpath <dirs>", "as --set-runpath, but adds DT_RPATH when there is none (NOT patchelf's --set-rpath, which writes DT_RUNPATH: use --set-runpath for that)")
    .option("--add-runpath <dir>", "append a directory to the search path (repeatable)", collect)
    .option("--remove-runpath", "remove DT_RUNPATH and DT_RPATH")
    .option("--rpath-to-runpath", "convert DT_RPATH to DT_RUNPATH (changes lookup semantics)")
    .option("--runpath-to-rpath", "convert DT_RUNPATH to DT_RPATH (changes lookup semantics)")
    .option("--replace-prefix <old=new>", "replace a path prefix in the interpreter, search paths and NEEDED paths (repeatable)", prefixPair)
    .option("--add-needed <lib>", "add a DT_NEEDED entry after the existing ones, in the order given (repeatable; patchelf's puts them first, sorted)", collect)
    .option("--remove-needed <lib>", "remove a DT_NEEDED entry and its version requirements (repeatable)", collect)
    .addOption(new Option("--replace-needed <old> <new>", "rename a DT_NEEDED entry and its version requirements (repeatable)").argParser(collect))
    .option("--set-soname <name>", "set (or add) DT_SONAME")
    .option("-o, --output <file>", "write the result to FILE (one input only); the input is not modified")
    .option("--in-place", "write into the file itself (same inode, keeps hard links; not atomic), as patchelf does")
    .option("-n, --dry-run", "print what would change, whether it fits in place and how much the file grows; write nothing")
    .option("--json", "one JSON object per file (JSON lines)")
    .option("-f, --force", "rewrite files inside the Nix store")
    .addOption(
      new Option(
        "--layout <how>",
        "where what grows goes: auto (the slack after .dynstr's segment, else the smaller of the other two), " +
          "new-segment (a new PT_LOAD; every existing table stays where it is), shift (executables: patchelf's " +
          "layout, the file shifts by whole pages and its first segment starts lower)",
      )
        .choices(LAYOUTS)
        .default("auto"),
    )
    .option("--no-fsync", "do not fsync each file before it replaces the old one (still atomic; for build sandboxes)")
    .option("-v, --verbose", "print what changed in each file")
    .option("-j, --jobs <n>", `threads at work (default: ${availableParallelism()}, the number of cores)`, parseJobs)
    .addHelpText(
      "after",
      `
Same names as patchelf, different meanings: --set-rpath here keeps or adds DT_RPATH (patchelf
writes DT_RUNPATH), and --add-needed appends (patchelf prepends). \`abilink patchelf\` takes
patchelf's command line with patchelf's meanings.

Examples:
  abilink patch --set-interpreter /nix/store/…-glibc-2.40/lib/ld-linux-x86-64.so.2 ./prog
  abilink patch --dry-run --add-runpath '$ORIGIN/../lib' bin/*
  abilink patch --replace-prefix /opt/old=/opt/new --replace-needed libfoo.so.1 libfoo.so.2 lib/libbar.so
  abilink patch --set-soname libbar.so.2 -o out/libbar.so.2 lib/libbar.so.1

Exit status: 0 every file patched (or already as asked); 1 some file could not be patched and was left
untouched (the others were still patched); 2 usage error.`,
    )
    .action(async (files: string[], flags: PatchFlags) => setExit(await runPatch(files, flags)));
}

/** Joins the two words after each `--replace-needed` so the option parser sees one value. */
export function joinPairArguments(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--replace-needed" && i + 2 < argv.length) {
      out.push(argv[i]!, `${argv[i + 1]}${PAIR_SEPARATOR}${argv[i + 2]}`);
      i += 2;
    } else out.push(argv[i]!);
  }
  return out;
}
