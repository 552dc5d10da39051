import { PF_X, PT_GNU_STACK, type ElfFile } from "../elf/index.js";
import { NotElfError, PatchError, UsageError, describeFailure } from "../errors.js";
import { withElfFile } from "../io/file-source.js";
import { buildModel } from "../patch/model.js";
import { patchelfEdits } from "../patch/patchelf.js";
import { osAbiLabel, parsePatchelfArgs, readRenameMap, type PatchelfRequest } from "./patchelf-args.js";
import { escapeText, realPath } from "../io/paths.js";
import { out } from "./output.js";
import { interruptible } from "./signals.js";

/** The version the front end answers to `--version`: build scripts compare it. */
export const PATCHELF_VERSION = "0.18.0";

export const PATCHELF_HELP = `syntax: abilink patchelf
  [--set-interpreter FILENAME]
  [--page-size SIZE]
  [--print-interpreter]
  [--print-os-abi]		Prints 'EI_OSABI' field of ELF header
  [--set-os-abi ABI]		Sets 'EI_OSABI' field of ELF header to ABI.
  [--print-soname]		Prints 'DT_SONAME' entry of .dynamic section. Raises an error if DT_SONAME doesn't exist
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
  [--rename-dynamic-symbols NAME_MAP_FILE]	Renames dynamic symbols. The map file should contain two symbols (old_name new_name) per line
  [--output FILE]
  [--debug]
  [--version]
  FILENAME...

abilink's patchelf-compatible front end: patchelf's options, output, exit statuses and in-place
writes (same inode). Values starting with @ are read from that file. Differences from patchelf:
  edits never overwrite strings shared by tail merging, never lower p_align, keep strip working,
  usually grow files far less, and do not grow them again when repeated; --remove-needed is
  refused while symbols still need the library's versions. See README.md ("abilink patchelf").
`;

/** What printing options print for one file, in patchelf's order. */
function patchelfPrint(r: PatchelfRequest, elf: ElfFile): string {
  let text = "";
  if (r.print.interpreter) {
    if (elf.interpreter === null) throw new PatchError("cannot find section '.interp'. The input file is most likely statically linked");
    text += `${elf.interpreter}\n`;
  }
  if (r.print.osAbi) text += `${osAbiLabel(elf.header.ei_osabi)}\n`;
  if (r.print.soname) {
    const s = elf.dynamic?.soname;
    if (s === null || s === undefined) throw new PatchError("DT_SONAME doesn't exist");
    text += `${s}\n`;
  }
  if (r.print.rpath) {
    const d = elf.dynamic;
    text += `${[...(d?.runpath.length ? d.runpath : (d?.rpath ?? []))].join(":")}\n`;
  }
  if (r.print.execstack) {
    const stack = elf.programHeaders.find((p) => p.p_type === PT_GNU_STACK);
    text += `execstack: ${stack ? ((stack.p_flags & PF_X) !== 0 ? "X" : "-") : "?"}\n`;
  }
  if (r.print.needed) for (const n of elf.dynamic?.needed ?? []) text += `${n}\n`;
  return text;
}

/**
 * Runs a request on one file, opened and parsed once: prints, then edits in the file's own
 * inode (or writes `output`), like patchelf. Throws PatchError / ElfError / system errors.
 */
async function runOnFile(r: PatchelfRequest, file: string): Promise<{ printed: string; debug: string[] }> {
  if (!editsSomething(r)) return { printed: printOnly(r, file), debug: [] };
  // Loaded only to edit: the planner and the write path (native addons, fs-xattr) cost start-up time.
  const { applyPlan, blameOutput, planFile } = await import("../patch/patch-file.js");
  let printed = "";
  let editCount = 0;
  let planned;
  try {
    planned = planFile(
      file,
      (elf) => {
        printed = patchelfPrint(r, elf);
        const renameSymbols = r.renameDynamicSymbols !== undefined ? readRenameMap(r.renameDynamicSymbols) : undefined;
        const edits = patchelfEdits({ ...r, renameSymbols }, elf);
        editCount = edits.length;
        return edits;
      },
      { pageSize: r.pageSize },
      // Held from planning to writing when the command line edits: another run waits.
      { lock: editsSomething(r) },
    );
  } catch (e) {
    if (e instanceof NotElfError) throw new PatchError("not an ELF executable");
    throw e;
  }
  if ((editCount === 0 || planned.plan.writes.length === 0) && r.output === undefined) {
    planned.source.close();
    return { printed, debug: editCount === 0 ? [] : planned.plan.changes };
  }
  // patchelf does not fsync; build scripts call it once per file.
  try {
    applyPlan(planned, r.output === undefined ? { kind: "in-place" } : { kind: "atomic", path: r.output }, { fsync: false });
  } catch (e) {
    throw blameOutput(r.output, e);
  }
  return { printed, debug: planned.plan.changes };
}

/**
 * A request that only prints: the file is read and checked as an edit would read it (the
 * dynamic table and version requirements as the planner models them), and nothing is loaded
 * that writes.
 */
function printOnly(r: PatchelfRequest, file: string): string {
  let printed: string | null;
  try {
    printed = withElfFile(realPath(file), (elf) => {
      const text = patchelfPrint(r, elf);
      buildModel(elf, []);
      return text;
    });
  } catch (e) {
    if (e instanceof NotElfError) throw new PatchError("not an ELF executable");
    throw e;
  }
  if (printed === null) throw new PatchError("not an ELF executable");
  return printed;
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
    r.renameDynamicSymbols !== undefined ||
    r.noDefaultLib ||
    r.addDebugTag ||
    r.removeNeeded.length + r.replaceNeeded.length + r.addNeeded.length + r.clearSymbolVersion.length > 0
  );
}

/** `abilink patchelf ARGS...`: patchelf's command line over abilink's rewriter. Returns the exit status. */
export async function runPatchelf(argv: string[]): Promise<number> {
  let req;
  try {
    req = parsePatchelfArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`patchelf: ${e.message}\n`);
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
  if (req.files.length === 0) {
    process.stderr.write(`patchelf: missing filename\n${PATCHELF_HELP}`);
    return 1;
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
        if (request.debug) for (const c of r.debug) process.stderr.write(`patching ELF file '${escapeText(file)}': ${escapeText(c)}\n`);
      } catch (e) {
        const { subject, message } = describeFailure(file, e);
        process.stderr.write(`patchelf: ${escapeText(subject)}: ${escapeText(message)}\n`);
        return 1;
      }
    }
    return 0;
  });
}
