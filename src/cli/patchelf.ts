import { describeError } from "../closure/tasks.js";
import {
  PATCHELF_VERSION,
  PatchelfUsageError,
  parsePatchelfArgs,
  runPatchelfOnFile,
} from "../patch/patchelf.js";
import { out } from "./output.js";

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

/** `abilink patchelf ARGS...`: patchelf's command line over abilink's rewriter. Returns the exit status. */
export function runPatchelf(argv: string[]): number {
  let req;
  try {
    req = parsePatchelfArgs(argv);
  } catch (e) {
    if (e instanceof PatchelfUsageError) {
      process.stderr.write(`patchelf: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
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
  // patchelf stops at the first file it cannot handle.
  for (const file of req.files) {
    try {
      const r = runPatchelfOnFile(req, file);
      if (r.printed) out(r.printed);
      if (req.debug) for (const c of r.debug) process.stderr.write(`patching ELF file '${file}': ${c}\n`);
    } catch (e) {
      process.stderr.write(`patchelf: ${file}: ${describeError(e)}\n`);
      return 1;
    }
  }
  return 0;
}
