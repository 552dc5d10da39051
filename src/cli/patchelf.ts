import { statSync } from "node:fs";
import { ET_DYN, ET_EXEC, PF_X, PT_GNU_STACK, TruncatedError, type ElfFile } from "../elf/index.js";
import { MalformedError, NotElfError, PatchError, UsageError } from "../errors.js";
import { withElfFile } from "../io/file-source.js";
import { resolutionCacheStep } from "../patch/ldcache-build.js";
import { buildModel } from "../patch/model.js";
import { patchelfEdits } from "../patch/patchelf.js";
import { osAbiLabel, parsePatchelfArgs, type PatchelfRequest } from "./patchelf-args.js";
import { patchelfFailure } from "./patchelf-messages.js";
import { escapeText, fsPath, realPath } from "../io/paths.js";
import { out } from "./output.js";
import { interruptible } from "./signals.js";

/** The version the front end answers to `--version`: build scripts compare it. */
export const PATCHELF_VERSION = "0.19.0";

export const PATCHELF_HELP = `syntax: abilink patchelf
  [--set-interpreter FILENAME]
  [--page-size SIZE]
  [--print-interpreter]
  [--print-os-abi]		Prints 'EI_OSABI' field of ELF header
  [--set-os-abi ABI]		Sets 'EI_OSABI' field of ELF header to ABI.
  [--print-soname]		Prints 'DT_SONAME' entry of .dynamic section. Prints nothing if DT_SONAME doesn't exist
  [--set-soname SONAME]		Sets 'DT_SONAME' entry to SONAME.
  [--set-rpath RPATH]
  [--add-rpath RPATH]
  [--remove-rpath]
  [--shrink-rpath]
  [--allowed-rpath-prefixes PREFIXES]		With '--shrink-rpath', reject rpath entries not starting with the allowed prefix
  [--print-rpath]
  [--force-rpath]
  [--add-needed LIBRARY]
  [--remove-needed LIBRARY]
  [--replace-needed LIBRARY NEW_LIBRARY]
  [--print-needed]
  [--no-default-lib]
  [--no-sort]		Do not sort program+section headers
  [--clear-symbol-version SYMBOL]
  [--add-debug-tag]
  [--print-execstack]		Prints whether the object requests an executable stack
  [--clear-execstack]
  [--set-execstack]
  [--build-resolution-cache]	Records where each DT_NEEDED library is found on the run path in a .note.nixos.ldcache note
  [--rename-dynamic-symbols NAME_MAP_FILE]	Renames dynamic symbols. The map file should contain two symbols (old_name new_name) per line
  [--output FILE]
  [--debug]
  [--version]
  FILENAME...

abilink's patchelf-compatible front end (patchelf 0.19): its options, output, messages, exit
statuses and in-place writes (same inode); values starting with @ are read from that file. A
link named patchelf to abilink runs this front end. Its meanings are patchelf's, not those of
\`abilink patch\`: --set-rpath and --add-rpath write DT_RUNPATH (DT_RPATH only with --force-rpath,
and an existing DT_RPATH becomes DT_RUNPATH); --add-needed puts the new entries first, sorted by
name. Differences from patchelf:
  - edits never overwrite strings shared by tail merging, never lower p_align, keep strip
    working, usually grow files far less, and do not grow them again when repeated;
  - --remove-needed is refused while symbols still need the library's versions;
  - it reads through the program headers; section headers that point outside the file are
    ignored (patchelf refuses the file); a replaced run path is dropped from .dynstr, not
    overwritten with Xs in place;
  - --page-size must be a power of two;
  - a program whose program header table would have to move is refused (strip breaks it);
  - a file that is not a regular file (a FIFO, a device) is refused, never waited on;
  - a failure that is not a system error names the file: "patchelf: FILE: wrong ELF type".
See README.md ("abilink patchelf").
`;

const STATIC = (section: string) => `cannot find section '${section}'. The input file is most likely statically linked`;

/** A failure after some lines were printed: patchelf prints as it goes, so they are shown before the message. */
class AfterPrinting extends Error {
  constructor(
    readonly printed: string,
    override readonly cause: unknown,
  ) {
    super("after printing");
  }
}

/**
 * What patchelf refuses before it prints or edits: a type other than a program or library.
 * Without PT_DYNAMIC, a consistent `.dynamic` section is adopted (as patchelf reads it) so
 * that prints and edits see it. Returns why the file has no dynamic table (patchelf's
 * "statically linked", or why its `.dynamic` section cannot stand in), or null.
 */
function checkFile(elf: ElfFile): string | null {
  if (elf.header.e_type !== ET_EXEC && elf.header.e_type !== ET_DYN) throw new PatchError("wrong ELF type");
  try {
    elf.adoptDynamicSection();
  } catch (e) {
    if (e instanceof MalformedError) return e.message;
    throw e;
  }
  return elf.dynamic === null ? STATIC(".dynamic") : null;
}

/** Whether the request needs the dynamic section (patchelf looks for the `.dynamic` section for these). */
function needsDynamic(r: PatchelfRequest): boolean {
  return (
    r.print.rpath ||
    r.print.needed ||
    r.rpath !== undefined ||
    r.noDefaultLib ||
    r.addDebugTag ||
    r.renameSymbols !== undefined ||
    r.removeNeeded.length + r.replaceNeeded.length + r.addNeeded.length + r.clearSymbolVersion.length > 0
  );
}

/** What printing options print for one file, in patchelf's order (each before the edits that follow it). */
function patchelfPrint(r: PatchelfRequest, elf: ElfFile, noDynamic: string | null): string {
  let text = "";
  try {
    if (r.print.interpreter) {
      if (elf.interpreter === null) throw new PatchError(STATIC(".interp"));
      text += `${elf.interpreter}\n`;
    }
    if (r.print.osAbi) text += `${osAbiLabel(elf.header.ei_osabi)}\n`;
    // patchelf prints nothing for a file without SONAME (or an empty one), and looks only in libraries.
    const soname = elf.header.e_type === ET_DYN ? elf.dynamic?.soname : null;
    if (r.print.soname && soname) text += `${soname}\n`;
    if (needsDynamic(r) && noDynamic !== null) throw new PatchError(noDynamic);
    if (r.print.rpath) {
      const d = elf.dynamic!;
      text += `${[...(d.runpath.length ? d.runpath : d.rpath)].join(":")}\n`;
    }
    if (r.print.execstack) {
      const stack = elf.programHeaders.find((p) => p.p_type === PT_GNU_STACK);
      text += `execstack: ${stack ? ((stack.p_flags & PF_X) !== 0 ? "X" : "-") : "?"}\n`;
    }
    if (r.print.needed) for (const n of elf.dynamic!.needed) text += `${n}\n`;
    return text;
  } catch (e) {
    throw text ? new AfterPrinting(text, e) : e;
  }
}

/**
 * Runs a request on one file, opened and parsed once: prints, then edits in the file's own
 * inode (or writes `output`), like patchelf. Throws PatchError / ElfError / system errors.
 */
async function runOnFile(r: PatchelfRequest, file: string): Promise<{ printed: string; debug: string[]; warning: string | null }> {
  if (!editsSomething(r)) return { printed: printOnly(r, file), debug: [], warning: null };
  // Loaded only to edit: the planner and the write path (native addons, fs-xattr) cost start-up time.
  const { applyPlan, blameOutput, planFile } = await import("../patch/patch-file.js");
  let printed = "";
  let warning: string | null = null;
  let editCount = 0;
  let planned;
  try {
    planned = planFile(
      file,
      (elf) => {
        printed = patchelfPrint(r, elf, checkFile(elf));
        const edits = patchelfEdits(r, elf);
        if (r.buildResolutionCache) {
          const step = resolutionCacheStep(elf, edits);
          if (step.edit) edits.push(step.edit);
          warning = step.warning;
        }
        editCount = edits.length;
        return edits;
      },
      { pageSize: r.pageSize },
      // Held from planning to writing: another run waits.
      { lock: true },
    );
  } catch (e) {
    throw readFailure(file, printed, e);
  }
  if ((editCount === 0 || planned.plan.writes.length === 0) && r.output === undefined) {
    planned.source.close();
    return { printed, debug: editCount === 0 ? [] : planned.plan.changes, warning };
  }
  // patchelf does not fsync; build scripts call it once per file.
  try {
    applyPlan(planned, r.output === undefined ? { kind: "in-place" } : { kind: "atomic", path: r.output }, { fsync: false });
  } catch (e) {
    throw new AfterPrinting(printed, blameOutput(r.output, e));
  }
  return { printed, debug: planned.plan.changes, warning };
}

/**
 * A request that only prints: the file is read and checked as an edit would read it (the
 * dynamic table and version requirements as the planner models them), and nothing is loaded
 * that writes.
 */
function printOnly(r: PatchelfRequest, file: string): string {
  let printed = "";
  try {
    const text = withElfFile(realPath(file), (elf) => {
      printed = patchelfPrint(r, elf, checkFile(elf));
      buildModel(elf, []);
      return printed;
    });
    if (text === null) throw new NotElfError("not an ELF file");
    return text;
  } catch (e) {
    throw readFailure(file, printed, e);
  }
}

/** What to throw for a failure while reading `file`, after `printed` was printed: patchelf's words for a file that is not ELF. */
function readFailure(file: string, printed: string, e: unknown): unknown {
  if (e instanceof NotElfError || e instanceof TruncatedError) {
    const message = notElf(file, e instanceof TruncatedError);
    if (message !== null) return new PatchError(message);
  }
  return printed && !(e instanceof AfterPrinting) ? new AfterPrinting(printed, e) : e;
}

/**
 * patchelf's words for a file that is not ELF (no magic) or is cut short: "missing ELF
 * header" when it is shorter than an ELF header; null for a cut short file that is not.
 */
function notElf(file: string, truncated: boolean): string | null {
  let size = Infinity;
  try {
    size = statSync(fsPath(file)).size;
  } catch {
    // the message only: the file was read a moment ago
  }
  if (size < (truncated ? 64 : 52)) return "missing ELF header";
  return truncated ? null : "not an ELF executable";
}

/** Whether the request asks for any edit (or a copy), so the file is held while it is planned and written. */
function editsSomething(r: PatchelfRequest): boolean {
  return (
    r.output !== undefined ||
    r.interpreter !== undefined ||
    r.osAbi !== undefined ||
    r.soname !== undefined ||
    r.rpath !== undefined ||
    r.execstack !== undefined ||
    r.renameSymbols !== undefined ||
    r.noDefaultLib ||
    r.addDebugTag ||
    r.buildResolutionCache ||
    r.removeNeeded.length + r.replaceNeeded.length + r.addNeeded.length + r.clearSymbolVersion.length > 0
  );
}

/** `abilink patchelf ARGS...`: patchelf's command line over abilink's rewriter. Returns the exit status. */
export async function runPatchelf(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    process.stderr.write(PATCHELF_HELP);
    return 1;
  }
  let req;
  try {
    req = parsePatchelfArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`patchelf: ${escapeText(e.message)}\n`);
      return 1;
    }
    throw e;
  }
  // patchelf turns on its debug output when PATCHELF_DEBUG is set, to any value.
  if (process.env.PATCHELF_DEBUG !== undefined) req.debug = true;
  if (req.help) {
    process.stderr.write(PATCHELF_HELP);
    return 0;
  }
  if (req.version) {
    out(`patchelf ${PATCHELF_VERSION}\n`);
    return 0;
  }
  const request = req;
  return interruptible(async (abort) => {
    // patchelf stops at the first file it cannot handle.
    for (const file of request.files) {
      // Between files, a signal gets its turn: the run stops before the next one.
      await new Promise((resolve) => setImmediate(resolve));
      if (Atomics.load(abort, 0) !== 0) return 1;
      try {
        const r = await runOnFile(request, file);
        if (r.printed) out(r.printed);
        if (r.warning) process.stderr.write(`patchelf: ${escapeText(file)}: warning: ${escapeText(r.warning)}\n`);
        if (request.debug) for (const c of r.debug) process.stderr.write(`patching ELF file '${escapeText(file)}': ${escapeText(c)}\n`);
      } catch (e) {
        if (e instanceof AfterPrinting && e.printed) out(e.printed);
        process.stderr.write(`patchelf: ${escapeText(patchelfFailure(file, e instanceof AfterPrinting ? e.cause : e))}\n`);
        return 1;
      }
    }
    return 0;
  });
}
