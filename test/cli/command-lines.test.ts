// Random command lines through the CLI (fast-check): every command with random sequences of
// its options and values — existing and missing files, FIFOs, directories, /dev/null, @file
// arguments, empty strings, huge numbers, repeated and conflicting options — on fresh copies
// of fixtures. Every run must end with a documented status, say at most a line or so per
// input, never `internal error` or a stack trace, never hang, and leave a file it could not
// patch untouched. ABILINK_CLI_RUNS sets the number of command lines per command (default 25).
import { execa } from "execa";
import fc from "fast-check";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { bin } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const RUNS = Number(process.env.ABILINK_CLI_RUNS ?? 25);

let tmp = "";
withTmpDir((path) => (tmp = path));
let shared: { fifo: string; argFile: string; dir: string; manifest: string };

beforeAll(async () => {
  shared = { fifo: join(tmp, "fifo"), argFile: join(tmp, "arg.txt"), dir: join(tmp, "dir"), manifest: join(tmp, "lib.abi") };
  await execa("mkfifo", [shared.fifo]);
  writeFileSync(shared.argFile, "/opt/from/an/argument/file");
  mkdirSync(shared.dir);
  writeFileSync(shared.manifest, (await execa("node", [bin, "abi", fx("x86_64/libvers.so.1")])).stdout + "\n");
});

/** A value: a token that names the run's files, or a literal. Resolved per run (fresh copies). */
type Value = string;
const FILES = ["{prog}", "{lib}", "{missing}", "{fifo}", "{dir}", "/dev/null", "{manifest}", "{out}"];
const value = fc.oneof(
  fc.constantFrom(...FILES, "@{arg}", "@{missing}", "@{fifo}", "", "0", "-1", "1", "99999999999999999999", "libz.so.1", "/opt/x:/opt/y", "$ORIGIN", "*", "GLIBC_*", "a=b", "-", "--"),
  fc.string({ maxLength: 12 }),
);
const file = fc.constantFrom(...FILES);

/** An option that takes `arity` values, or none. */
const opt = (name: string, arity = 0): fc.Arbitrary<Value[]> => fc.tuple(...Array.from({ length: arity }, () => value)).map((vs) => [name, ...vs]);

const COMMANDS: Record<string, fc.Arbitrary<Value[]>[]> = {
  inspect: [opt("--json")],
  scan: [opt("--json"), opt("--jobs", 1), opt("--exclude", 1), opt("-x")],
  abi: [opt("-o", 1), opt("--stable"), opt("--hints"), opt("--json")],
  hash: [opt("--json"), opt("-j", 1)],
  diff: [opt("--json"), opt("--ignore-symbol", 1), opt("--ignore-version", 1)],
  compat: [opt("--lib", 1), opt("--ignore-symbol", 1), opt("--ignore-version", 1), opt("-v"), opt("--json")],
  patch: [
    opt("--set-interpreter", 1), opt("--set-runpath", 1), opt("--set-rpath", 1), opt("--add-runpath", 1), opt("--remove-runpath"),
    opt("--rpath-to-runpath"), opt("--replace-prefix", 1), opt("--add-needed", 1), opt("--remove-needed", 1), opt("--replace-needed", 2),
    opt("--set-soname", 1), opt("-o", 1), opt("--in-place"), opt("--dry-run"), opt("--json"), opt("--layout", 1), opt("--no-fsync"), opt("-j", 1),
  ],
  relink: [opt("--replace", 1), opt("--in-place"), opt("--dry-run"), opt("--json"), opt("--no-abi-check"), opt("--force"), opt("--strict"), opt("-j", 1)],
  table: [opt("--out", 1), opt("--expect", 1), opt("--json"), opt("--no-fsync")],
  stub: [opt("-o", 1), opt("--out-dir", 1), opt("--write-if-changed"), opt("--fsync"), opt("--json"), opt("-v"), opt("-j", 1)],
  patchelf: [
    opt("--set-interpreter", 1), opt("--page-size", 1), opt("--print-interpreter"), opt("--print-os-abi"), opt("--set-os-abi", 1),
    opt("--print-soname"), opt("--set-soname", 1), opt("--set-rpath", 1), opt("--add-rpath", 1), opt("--remove-rpath"), opt("--shrink-rpath"),
    opt("--allowed-rpath-prefixes", 1), opt("--print-rpath"), opt("--force-rpath"), opt("--add-needed", 1), opt("--remove-needed", 1),
    opt("--replace-needed", 2), opt("--print-needed"), opt("--no-default-lib"), opt("--clear-symbol-version", 1), opt("--print-execstack"),
    opt("--clear-execstack"), opt("--set-execstack"), opt("--add-debug-tag"), opt("--rename-dynamic-symbols", 1), opt("--output", 1), opt("--debug"),
  ],
};

/** A command line for `command`: options and file operands in random order. */
const commandLine = (command: string) =>
  fc
    .tuple(fc.array(fc.oneof(...COMMANDS[command]!), { maxLength: 5 }), fc.array(file.map((f) => [f]), { minLength: command === "diff" ? 2 : 0, maxLength: 3 }))
    .chain(([opts, files]) => fc.shuffledSubarray([...opts, ...files], { minLength: opts.length + files.length }))
    .map((parts) => parts.flat());

let runNo = 0;

/** Runs `args` (tokens resolved against fresh copies) and checks what every run must satisfy. */
async function check(command: string, tokens: Value[]) {
  const dir = join(tmp, `r${runNo++}`);
  mkdirSync(dir);
  const names: Record<string, string> = {
    prog: join(dir, "prog"),
    lib: join(dir, "libvers.so.1"),
    missing: join(dir, "missing"),
    out: join(dir, "out"),
    fifo: shared.fifo,
    dir: shared.dir,
    manifest: shared.manifest,
    arg: shared.argFile,
  };
  copyFileSync(fx("x86_64/prog"), names.prog!);
  copyFileSync(fx("x86_64/libvers.so.1"), names.lib!);
  const before = { prog: readFileSync(names.prog!), lib: readFileSync(names.lib!) };
  const args = tokens.map((t) => t.replace(/\{(\w+)\}/g, (_, k: string) => names[k] ?? k));
  // In the run's own directory: a random -o value names a file there.
  const r = await execa("node", [bin, command, ...args], { reject: false, timeout: 60_000, stdin: "ignore", cwd: dir });
  const what = `abilink ${command} ${args.map((a) => JSON.stringify(a)).join(" ")}\n${r.stderr}`;
  expect(r.timedOut, what).toBe(false);
  const allowed = command === "diff" || command === "compat" ? [0, 1, 2, 4, 12] : command === "table" ? [0, 1, 2, 12] : [0, 1, 2];
  expect(allowed, what).toContain(r.exitCode);
  expect(r.stderr, what).not.toMatch(/internal error|^\s+at |\n\s+at /);
  const lines = r.stderr === "" ? [] : r.stderr.split("\n");
  if (!lines[0]?.startsWith("syntax: abilink patchelf")) {
    for (const line of lines) expect(line, what).toMatch(/^(abilink|patchelf|error|warning): |^\(run with --help for usage\)$|^patching ELF file /);
    const operands = args.filter((a) => !a.startsWith("-")).length;
    expect(lines.filter((l) => !l.startsWith("patching ELF file ")).length, what).toBeLessThanOrEqual(operands + 2);
  }
  // An input the run failed on (named in a message) is left as it was.
  if (command === "patch" || command === "patchelf") {
    for (const k of ["prog", "lib"] as const) {
      if (r.stderr.includes(`${names[k]!}: `) || r.stderr.includes(`'${names[k]!}'`)) {
        expect(readFileSync(names[k]!).equals(before[k]), `${what}\n${k} changed`).toBe(true);
      }
    }
  }
}

describe("random command lines end in a documented status, one line per problem, no internal error", () => {
  for (const command of Object.keys(COMMANDS)) {
    it(command, async () => {
      await fc.assert(
        fc.asyncProperty(commandLine(command), (tokens) => check(command, tokens)),
        { numRuns: RUNS },
      );
    }, 900_000);
  }
});
