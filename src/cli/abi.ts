import type { Command } from "commander";
import { printManifest } from "../abi/format.js";
import { loadManifest } from "../abi/load.js";
import { writeFileAtomic } from "../io/atomic-write.js";
import { describeError } from "../errors.js";
import { EXIT_INPUT_ERROR, EXIT_OK } from "./exit-codes.js";
import { out, warn } from "./output.js";

export interface AbiFlags {
  output?: string;
  hints?: boolean;
  json?: boolean;
}

/** `abilink abi LIB [-o FILE]`: print or write the canonical manifest. */
export function runAbi(input: string, flags: AbiFlags): number {
  try {
    const { manifest } = loadManifest(input, { hints: flags.hints });
    const text = flags.json ? JSON.stringify(manifest, null, 2) + "\n" : printManifest(manifest);
    if (flags.output) writeFileAtomic(flags.output, text);
    else out(text);
    return EXIT_OK;
  } catch (e) {
    warn(input, describeError(e));
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
    .argument("<lib>", "shared library or manifest")
    .option("-o, --output <file>", "write the manifest to FILE (atomically) instead of stdout")
    .option("--hints", "add NEEDED and imported symbols as link hints (never part of the hash)")
    .option("--json", "print the typed manifest model as JSON")
    .addHelpText(
      "after",
      `
Examples:
  abilink abi /lib/x86_64-linux-gnu/libz.so.1 -o libz.abi
  abilink abi libz.abi                      # rewrite a hand-edited manifest canonically

Exit status: 0 written; 1 the input is unreadable, not ELF, or a malformed manifest; 2 usage error.`,
    )
    .action((lib: string, flags: AbiFlags) => setExit(runAbi(lib, flags)));
}
