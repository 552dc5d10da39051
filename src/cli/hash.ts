import { escapeText } from "../io/paths.js";
import type { Command } from "commander";
import { availableParallelism } from "node:os";
import { runOrdered } from "../closure/pool.js";
import { EXIT_USAGE, exitForFailures } from "./exit-codes.js";
import { parseJobs, stdinAtMostOnce } from "./options.js";
import { jsonLine, out, warn } from "./output.js";

export interface HashFlags {
  json?: boolean;
  jobs?: number;
}

/** `abilink hash LIB|MANIFEST...`: one `HASH  PATH` line per input, in input order. */
export async function runHash(inputs: string[], flags: HashFlags): Promise<number> {
  if (!stdinAtMostOnce("hash", inputs)) return EXIT_USAGE;
  let failures = 0;
  await runOrdered(
    "hash",
    inputs[Symbol.iterator](),
    (r) => {
      if (r.kind === "error") {
        failures++;
        warn(r.subject ?? r.path, r.message);
      } else {
        if (r.warning) warn(r.path, `warning: ${r.warning}`);
        out(flags.json ? jsonLine({ path: r.path, hash: r.hash }) : `${r.hash}  ${escapeText(r.path)}\n`);
      }
    },
    { jobs: flags.jobs ?? availableParallelism(), inline: 8, batch: 1 },
  );
  return exitForFailures(failures);
}


export function registerHash(program: Command, setExit: (code: number) => void): void {
  program
    .command("hash")
    .summary("print the stable ABI hash of libraries or manifests")
    .description(
      "Print a short digest of each input's ELF-level interface, usable in a Nix store path name: " +
        "'abi2-' and 32 Nix base-32 characters. Rebuilds that change only code, build-id, debug info, " +
        "addresses or compiler keep the hash; any change to the exported interface changes it.",
    )
    .argument("<input...>", "shared libraries or manifests: files, pipes or FIFOs, or - for standard input (once)")
    .option("--json", "JSON Lines: {path, hash} per input")
    .option("-j, --jobs <n>", `threads at work (default: ${availableParallelism()}, the number of cores)`, parseJobs)
    .addHelpText(
      "after",
      `
Examples:
  abilink hash /lib/x86_64-linux-gnu/libz.so.1
  abilink hash libz.abi /nix/store/*-zlib-*/lib/libz.so.1
  git show v1.2:libz.abi | abilink hash -

A pipe, a FIFO or standard input is read whole before it is hashed: at most 1 GiB for an ELF
file, 64 MiB for a manifest. The hash is the same as the file's.

Exit status: 0 every input hashed; 1 some input unreadable or invalid (the others are still printed); 2 usage error.`,
    )
    .action(async (inputs: string[], flags: HashFlags) => setExit(await runHash(inputs, flags)));
}
