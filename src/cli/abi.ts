import type { Command } from "commander";
import { printManifest } from "../abi/format.js";
import { loadManifest } from "../abi/load.js";
import { writeFileAtomic } from "../io/atomic-write.js";
import { EXIT_INPUT_ERROR, EXIT_OK } from "./exit-codes.js";
import { out, warnError } from "./output.js";

export interface AbiFlags {
  output?: string;
  hints?: boolean;
  json?: boolean;
}

/** `abilink abi LIB [-o FILE]`: print or write the canonical manifest (`-o -`: print it). */
export function runAbi(input: string, flags: AbiFlags): number {
  let text: string;
  try {
    const { manifest } = loadManifest(input, { hints: flags.hints });
    text = flags.json ? JSON.stringify(manifest, null, 2) + "\n" : printManifest(manifest);
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
      "Extract the ELF-level interface of LIB — SONAME, class, machine, OS/ABI, e_flags, version names, and " +
        "every exported symbol with its version, @/@@, type, binding, st_other, and for data its size, alignment, " +
        "read-only or writable and alias group — as a canonical, line-oriented manifest for review. " +
        "Given a manifest instead, print it in canonical form.",
    )
    .argument("<lib>", "shared library or manifest: a file, a pipe or FIFO, or - for standard input")
    .option("-o, --output <file>", "write the manifest to FILE (atomically) instead of stdout; - is stdout")
    .option("--hints", "add NEEDED and imported symbols as link hints (never part of the hash)")
    .option("--json", "print the typed manifest model as JSON")
    .addHelpText(
      "after",
      `
Examples:
  abilink abi /lib/x86_64-linux-gnu/libz.so.1 -o libz.abi
  abilink abi libz.abi                      # rewrite a hand-edited manifest canonically
  git show HEAD:libz.abi | abilink abi -    # a manifest (or library) from a pipe

A pipe, a FIFO or standard input is read whole before it is parsed: at most 1 GiB for an ELF
file, 64 MiB for a manifest. Devices (/dev/zero) and directories are refused unread.

Exit status: 0 written; 1 the input is unreadable, not ELF, or a malformed manifest; 2 usage error.`,
    )
    .action((lib: string, flags: AbiFlags) => setExit(runAbi(lib, flags)));
}
