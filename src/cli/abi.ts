import type { Command } from "commander";
import { manifestJson, printManifest } from "../abi/format.js";
import { stableForm } from "../abi/hash.js";
import { loadManifest } from "../abi/load.js";
import { writeFileAtomic } from "../io/atomic-write.js";
import { EXIT_INPUT_ERROR, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { jsonLine, out, warn, warnError } from "./output.js";

export interface AbiFlags {
  output?: string;
  hints?: boolean;
  json?: boolean;
  stable?: boolean;
}

/** `abilink abi LIB [-o FILE]`: print or write the canonical manifest (`-o -`: print it). */
export function runAbi(input: string, flags: AbiFlags): number {
  if (flags.stable && flags.hints) {
    warn("abi", "--stable and --hints exclude each other: the stable form has no link hints");
    return EXIT_USAGE;
  }
  let text: string;
  try {
    const { manifest, warning } = loadManifest(input, { hints: flags.hints });
    if (warning) warn(input, `warning: ${warning}`);
    const { manifest: m, options } = flags.stable ? stableForm(manifest) : { manifest, options: {} };
    text = flags.json ? jsonLine(manifestJson(m, options)) : printManifest(m, options);
  } catch (e) {
    warnError(input, e);
    return EXIT_INPUT_ERROR;
  }
  if (flags.output === undefined || flags.output === "-") {
    out(text);
    return EXIT_OK;
  }
  try {
    writeFileAtomic(flags.output, text);
    return EXIT_OK;
  } catch (e) {
    warnError(flags.output, e);
    return EXIT_INPUT_ERROR;
  }
}

export function registerAbi(program: Command, setExit: (code: number) => void): void {
  program
    .command("abi")
    .summary("write the ABI manifest of a shared library (or rewrite a manifest canonically)")
    .description(
      "Extract the ELF-level interface of LIB — SONAME, class, machine, OS/ABI, e_flags, version names (and which " +
        "is first), and every exported symbol with its version, @/@@, type, binding, st_other, and for data its " +
        "size, alignment, read-only or writable and alias group — as a canonical, line-oriented manifest for review. " +
        "Given a manifest instead, print it in canonical form. With --stable, print the form that is hashed: " +
        "no link hints, alignments normalized, OS/ABI GNU as SYSV; it changes only when the hash does, so it is " +
        "the form to commit and compare in CI.",
    )
    .argument("<lib>", "shared library or manifest: a file, a pipe or FIFO, or - for standard input")
    .option("-o, --output <file>", "write the manifest to FILE (atomically) instead of stdout; - is stdout")
    .option("--stable", "print the hashed form: stable across compilers, flags and rebuilds (for committed manifests)")
    .option("--hints", "add NEEDED and imported symbols as link hints (never part of the hash)")
    .option("--json", "print the manifest as one JSON line (inspect's field names)")
    .addHelpText(
      "after",
      `
Examples:
  abilink abi --stable build/libfoo.so.1 -o libfoo.abi    # commit this; then in CI:
  abilink abi --stable build/libfoo.so.1 | diff -u libfoo.abi -
  abilink abi /lib/x86_64-linux-gnu/libz.so.1 -o libz.abi
  abilink abi libz.abi                      # rewrite a hand-edited manifest canonically
  git show HEAD:libz.abi | abilink abi -    # a manifest (or library) from a pipe

A pipe, a FIFO or standard input is read whole before it is parsed: at most 1 GiB for an ELF
file, 64 MiB for a manifest. Devices (/dev/zero) and directories are refused unread.

Exit status: 0 written; 1 the input is unreadable, not ELF, or a malformed manifest; 2 usage error.`,
    )
    .action((lib: string, flags: AbiFlags) => setExit(runAbi(lib, flags)));
}
