import type { Command } from "commander";
import { abiHash } from "../abi/hash.js";
import { loadManifest } from "../abi/load.js";
import { describeError } from "../closure/scan.js";
import { exitForFailures } from "./exit-codes.js";
import { out, warn } from "./output.js";

export interface HashFlags {
  json?: boolean;
}

/** `abilink hash LIB|MANIFEST...`: one `HASH  PATH` line per input. */
export function runHash(inputs: string[], flags: HashFlags): number {
  let failures = 0;
  const results: { path: string; hash: string }[] = [];
  for (const path of inputs) {
    try {
      const r = { path, hash: abiHash(loadManifest(path).manifest) };
      if (flags.json) results.push(r);
      else out(`${r.hash}  ${path}\n`);
    } catch (e) {
      failures++;
      warn(path, describeError(e));
    }
  }
  if (flags.json) out(JSON.stringify(results, null, 2) + "\n");
  return exitForFailures(failures);
}

export function registerHash(program: Command, setExit: (code: number) => void): void {
  program
    .command("hash")
    .summary("print the stable ABI hash of libraries or manifests")
    .description(
      "Print a short digest of each input's ELF-level interface, usable in a Nix store path name: " +
        "'abi1-' and 32 Nix base-32 characters. Rebuilds that change only code, build-id, debug info, " +
        "addresses or compiler keep the hash; any change to the exported interface changes it.",
    )
    .argument("<input...>", "shared libraries or manifests")
    .option("--json", "print [{path, hash}] as JSON")
    .addHelpText(
      "after",
      `
Examples:
  abilink hash /lib/x86_64-linux-gnu/libz.so.1
  abilink hash libz.abi /nix/store/*-zlib-*/lib/libz.so.1

Exit status: 0 every input hashed; 1 some input unreadable or invalid (the others are still printed); 2 usage error.`,
    )
    .action((inputs: string[], flags: HashFlags) => setExit(runHash(inputs, flags)));
}
