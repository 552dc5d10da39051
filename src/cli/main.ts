import { Command, CommanderError } from "commander";
import { readFileSync } from "node:fs";
import { EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { rawArgv } from "../io/paths.js";
import { out } from "./output.js";

type Register = (program: Command, setExit: (code: number) => void) => void;

/**
 * The commands, in help order, each loaded only when needed: a run of one command loads
 * that command's modules alone (hashing never loads the rewriter's native addon); help and
 * unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  inspect: async () => (await import("./inspect.js")).registerInspect,
  scan: async () => (await import("./scan.js")).registerScan,
  abi: async () => (await import("./abi.js")).registerAbi,
  hash: async () => (await import("./hash.js")).registerHash,
  diff: async () => (await import("./diff.js")).registerDiff,
  compat: async () => (await import("./compat.js")).registerCompat,
  patch: async () => (await import("./patch.js")).registerPatch,
  stub: async () => (await import("./stub.js")).registerStub,
  relink: async () => (await import("./relink.js")).registerRelink,
  table: async () => (await import("./table.js")).registerTable,
  demo: async () => (await import("./demo.js")).registerDemo,
};

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

export async function main(argv: string[]): Promise<number> {
  let exit = EXIT_OK;
  const setExit = (code: number) => {
    exit = code;
  };
  const program = new Command()
    .name("abilink")
    .description("Shared-library indirection for ELF systems: read ELF files, manifests and stable ABI hashes, relink without recompiling.")
    .version(pkg.version, "-V, --version")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => out(s), writeErr: (s) => process.stderr.write(s) })
    .addHelpText(
      "after",
      `
Examples:
  abilink inspect /bin/ls
  abilink scan --json /usr/lib > elf-files.jsonl
  abilink abi libfoo.so.1 -o libfoo.abi && abilink diff libfoo.abi build/libfoo.so.1
  abilink patch --dry-run --add-runpath '$ORIGIN/../lib' bin/*
  abilink patchelf --set-rpath /opt/lib ./prog     # patchelf's command line
  abilink demo                                     # stub, table, relink after a fix: the whole story

Exit status: 0 success; 1 an input could not be read or is not valid ELF (patch: could not be
patched, left untouched); 2 usage error.
diff and compat add abidiff's bits: 4 ABI changed (compatible), 12 incompatible.`,
    );
  const name = argv[2] ?? "";
  const only = Object.hasOwn(COMMANDS, name) ? [name] : Object.keys(COMMANDS);
  for (const n of only) (await COMMANDS[n]!())(program, setExit);
  program
    .command("patchelf")
    .summary("patchelf's command line over abilink's rewriter (see abilink patchelf --help)")
    .allowUnknownOption()
    .helpOption(false)
    .argument("[args...]")
    .action(async (args: string[]) => setExit(await (await import("./patchelf.js")).runPatchelf(args)));
  try {
    await program.parseAsync(name === "patch" ? (await import("./patch.js")).joinPairArguments(argv) : argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help"
        ? EXIT_OK
        : EXIT_USAGE;
    }
    throw e;
  }
  return exit;
}

// A reader of stderr that went away must not turn a message into a crash.
process.stderr.on("error", () => {});

main(rawArgv()).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`abilink: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 70;
  },
);
