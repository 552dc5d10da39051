// `abilink patchelf` against patchelf 0.19's documented behaviour: combinations of options,
// messages and exit statuses for awkward inputs, and 0.19's OS/ABI names. Each case runs
// Debian's patchelf (0.14) too, where it already behaves as 0.19 does; the cases where 0.14
// differs (OS/ABI names, --version) are checked against 0.19's documented values.
import { execa } from "execa";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { withTmpDir } from "../support/tmp.js";

const bin = new URL("../../bin/abilink", import.meta.url).pathname;
const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const src = (p: string) => new URL(`../../testdata/compat/${p}`, import.meta.url).pathname;

let tmp = "";
withTmpDir((path) => (tmp = path));
let n = 0;

/** Fresh copies of `file` for each tool; both run with `args` and the copy's path last. */
async function both(args: string[], file: string) {
  const dir = join(tmp, `c${n++}`);
  mkdirSync(dir);
  const [a, p] = [join(dir, "a"), join(dir, "p")];
  copyFileSync(file, a);
  copyFileSync(file, p);
  const ra = await execa("node", [bin, "patchelf", ...args, a], { reject: false });
  const rp = await execa("patchelf", [...args, p], { reject: false });
  return { a, p, ra, rp };
}

/**
 * The NEEDED entries in order, then the run path, SONAME and flags sorted, as readelf shows
 * them: only NEEDED's order matters to ld.so (patchelf puts other entries it adds first,
 * abilink where linkers put them).
 */
async function dynamicNames(path: string): Promise<string[]> {
  const { stdout } = await execa("readelf", ["-dW", path], { env: { LC_ALL: "C" } });
  const entries = stdout.split("\n").flatMap((l) => {
    const m = /\((NEEDED|RPATH|RUNPATH|SONAME|FLAGS_1|DEBUG)\)\s+(.*)$/.exec(l);
    return m ? [`${m[1]} ${m[1] === "DEBUG" ? "" : m[2]!.trim()}`] : [];
  });
  return [...entries.filter((e) => e.startsWith("NEEDED")), ...entries.filter((e) => !e.startsWith("NEEDED")).sort()];
}

const prog = fx("x86_64/prog"); // RUNPATH $ORIGIN; NEEDED libvers.so.1, libc.so.6
const progRpath = fx("x86_64/prog-rpath"); // the same with DT_RPATH
const lib = fx("x86_64/libvers.so.1");

describe("combinations of options, as patchelf 0.19 resolves them", () => {
  // Each row: the options, and the file they run on. Debian's patchelf 0.14 resolves each
  // of these as 0.19 does (its option handling is the same: std::set, std::map, the
  // shrink/remove/set/add priority), so the two tools must leave the same dynamic table.
  const rows: [string, string[], string][] = [
    ["added NEEDED entries come out sorted by name, first, each once", ["--add-needed", "libz.so.1", "--add-needed", "libm.so.6", "--add-needed", "libz.so.1"], prog],
    ["a later --replace-needed of one name wins", ["--replace-needed", "libc.so.6", "libc-a.so.6", "--replace-needed", "libc.so.6", "libc-b.so.6"], prog],
    ["--remove-rpath beats --set-rpath", ["--remove-rpath", "--set-rpath", "/a"], prog],
    ["--shrink-rpath beats --remove-rpath and --set-rpath", ["--set-rpath", "/a", "--shrink-rpath", "--remove-rpath"], prog],
    ["--allowed-rpath-prefixes alone starts no shrink", ["--set-rpath", "/opt/x", "--allowed-rpath-prefixes", "/usr"], prog],
    ["--set-rpath turns DT_RPATH into DT_RUNPATH", ["--set-rpath", "/b:/c"], progRpath],
    ["--force-rpath keeps DT_RPATH and turns DT_RUNPATH into it", ["--force-rpath", "--add-rpath", "/d"], prog],
    ["--print-rpath prints the run path from before --set-rpath", ["--print-rpath", "--set-rpath", "/new"], prog],
    ["--print-needed prints the list from before --add-needed", ["--add-needed", "libx.so", "--print-needed"], prog],
    ["--print-soname prints the SONAME from before --set-soname", ["--set-soname", "libother.so.2", "--print-soname"], lib],
    ["--set-soname sets a PIE's (ET_DYN)", ["--set-soname", "libpie.so"], prog],
    ["--set-soname leaves an ET_EXEC program alone", ["--set-soname", "libnope.so"], fx("x86_64/prog-nopie")],
    ["--no-default-lib with NEEDED edits", ["--no-default-lib", "--remove-needed", "libnot-there.so", "--add-needed", "liba.so"], lib],
  ];
  for (const [what, args, file] of rows) {
    it(`${what}: ${args.join(" ")}`, async () => {
      const { a, p, ra, rp } = await both(args, file);
      expect([ra.exitCode, ra.stdout, ra.stderr]).toEqual([rp.exitCode, rp.stdout, rp.stderr]);
      expect(await dynamicNames(a)).toEqual(await dynamicNames(p));
    });
  }

  // Debian's 0.14 lacks the execstack and debug-tag options: these follow 0.19's code (print,
  // else clear, else set; DT_DEBUG once).
  const execstack = async (f: string) => /GNU_STACK.* RWE /.test((await execa("readelf", ["-lW", f])).stdout);
  it("--print-execstack only prints, even with --set-execstack; --clear-execstack beats --set-execstack", async () => {
    const f = join(tmp, "stack");
    copyFileSync(prog, f);
    const printed = await execa("node", [bin, "patchelf", "--print-execstack", "--set-execstack", f]);
    expect([printed.stdout, await execstack(f)]).toEqual(["execstack: -", false]);
    await execa("node", [bin, "patchelf", "--set-execstack", f]);
    expect(await execstack(f)).toBe(true);
    await execa("node", [bin, "patchelf", "--set-execstack", "--clear-execstack", f]);
    expect(await execstack(f)).toBe(false);
  });

  it("--set-rpath with --add-rpath is refused, the file untouched", async () => {
    const { a, ra, rp } = await both(["--set-rpath", "/a", "--add-rpath", "/b"], prog);
    expect([ra.exitCode, ra.stderr]).toEqual([1, "patchelf: --set-rpath option not allowed with --add-rpath"]);
    expect([rp.exitCode, rp.stderr]).toEqual([ra.exitCode, ra.stderr]);
    expect(await dynamicNames(a)).toEqual(await dynamicNames(prog));
  });
});

describe("messages and exit statuses for awkward inputs", () => {
  let files: Record<string, string>;
  beforeAll(async () => {
    const d = join(tmp, "inputs");
    mkdirSync(d);
    writeFileSync(join(d, "empty"), "");
    writeFileSync(join(d, "text"), "#!/bin/sh\necho this is a script that is long enough to hold an ELF header\n");
    writeFileSync(join(d, "short"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
    await execa("gcc", ["-c", "-o", join(d, "obj.o"), src("copy-lib.c")]);
    writeFileSync(join(d, "main.c"), "int main(void) { return 0; }\n");
    await execa("gcc", ["-static", "-o", join(d, "static"), join(d, "main.c")]);
    await execa("gcc", ["-shared", "-fPIC", "-o", join(d, "nosoname.so"), src("copy-lib.c")]);
    files = Object.fromEntries(["empty", "text", "short", "obj.o", "static", "nosoname.so"].map((f) => [f, join(d, f)]));
  });

  // abilink names the file in front of messages that do not hold its name (a run over many
  // files must say which failed): `patchelf: FILE: wrong ELF type`. Otherwise the same.
  const same = async (args: string[], file: string | null, expected: { code: number; stdout?: string; stderr?: string }) => {
    const argv = file === null ? args : [...args, file];
    const ra = await execa("node", [bin, "patchelf", ...argv], { reject: false });
    const rp = await execa("patchelf", argv, { reject: false });
    const theirs = file === null ? rp.stderr : rp.stderr.replace(/^patchelf: (?!getting info|reading|opening)/, `patchelf: ${file}: `);
    expect([ra.exitCode, ra.stdout, ra.stderr]).toEqual([rp.exitCode, rp.stdout, theirs]);
    expect(ra.exitCode).toBe(expected.code);
    if (expected.stdout !== undefined) expect(ra.stdout).toBe(expected.stdout);
    if (expected.stderr !== undefined) expect(ra.stderr).toBe(expected.stderr);
  };

  it("files that are missing, directories, empty, short, not ELF, object files", async () => {
    await same(["--print-needed"], join(tmp, "nope"), { code: 1, stderr: `patchelf: getting info about '${join(tmp, "nope")}': No such file or directory` });
    await same(["--print-needed"], tmp, { code: 1, stderr: `patchelf: reading '${tmp}': Is a directory` });
    for (const f of ["empty", "short"]) await same(["--print-needed"], files[f]!, { code: 1, stderr: `patchelf: ${files[f]}: missing ELF header` });
    await same(["--print-needed"], files.text!, { code: 1, stderr: `patchelf: ${files.text}: not an ELF executable` });
    await same(["--set-rpath", "/x"], files["obj.o"]!, { code: 1, stderr: `patchelf: ${files["obj.o"]}: wrong ELF type` });
  });

  it("a static program: no .dynamic for the run path or NEEDED (exit 1); no SONAME printed (exit 0)", async () => {
    const msg = `patchelf: ${files.static}: cannot find section '.dynamic'. The input file is most likely statically linked`;
    for (const opt of ["--print-needed", "--print-rpath"]) await same([opt], files.static!, { code: 1, stderr: msg });
    await same(["--set-rpath", "/x"], files.static!, { code: 1, stderr: msg });
    await same(["--print-soname"], files.static!, { code: 0, stdout: "" });
    await same(["--print-soname"], files["nosoname.so"]!, { code: 0, stdout: "" });
    await same(["--print-interpreter"], files.static!, { code: 1 });
  });

  it("a missing @file, a bogus option, missing arguments, no file", async () => {
    await same(["--set-rpath", "@/no/such/file"], prog, { code: 1, stderr: "patchelf: getting info about '/no/such/file': No such file or directory" });
    await same(["--bogus-opt"], null, { code: 1, stderr: "patchelf: getting info about '--bogus-opt': No such file or directory" });
    for (const args of [["--add-needed"], ["--page-size"], ["--set-rpath"]]) await same(args, null, { code: 1, stderr: "patchelf: missing argument" });
    await same(["--replace-needed", "a"], null, { code: 1, stderr: "patchelf: missing argument(s)" });
    await same(["--print-needed"], null, { code: 1, stderr: "patchelf: missing filename" });
    await same(["--output", "x", prog, prog], null, { code: 1, stderr: "patchelf: --output option only allowed with single input file" });
    await same(["--page-size", "0", prog], null, { code: 1, stderr: "patchelf: invalid argument to --page-size" });
    const none = await execa("node", [bin, "patchelf"], { reject: false });
    expect([none.exitCode, none.stderr.split("\n")[0]]).toEqual([1, "syntax: abilink patchelf"]);
    const help = await execa("node", [bin, "patchelf", "-h"], { reject: false });
    expect([help.exitCode, help.stderr.split("\n")[0]]).toEqual([0, "syntax: abilink patchelf"]);
  });

  it("an @file or a map file that is a FIFO is refused, not waited on", async () => {
    const fifo = join(tmp, "fifo");
    await execa("mkfifo", [fifo]);
    const r = await execa("node", [bin, "patchelf", "--set-rpath", `@${fifo}`, prog], { reject: false, timeout: 20_000 });
    expect([r.exitCode, r.stderr]).toEqual([1, `patchelf: ${fifo}: not a regular file`]);
    const m = await execa("node", [bin, "patchelf", "--rename-dynamic-symbols", fifo, prog], { reject: false, timeout: 20_000 });
    expect([m.exitCode, m.stderr]).toEqual([1, `patchelf: Cannot open map file ${fifo}`]);
  });

  it("--rename-dynamic-symbols map files: patchelf's messages, and a line without words ends the map", async () => {
    const map = (name: string, text: string) => {
      writeFileSync(join(tmp, name), text);
      return join(tmp, name);
    };
    const cases: [string, string][] = [
      [map("m1", "a b\nc\n"), "m1:2: Map file line is missing the second element"],
      [map("m2", "a b\na c\n"), "m2:2: Name 'a' appears twice in the map file"],
      [map("m3", "a b@V1\n"), "m3:1: Name pair contains version tag: a b@V1"],
    ];
    for (const [file, msg] of cases) {
      const r = await execa("node", [bin, "patchelf", "--rename-dynamic-symbols", file, prog], { reject: false });
      expect([r.exitCode, r.stderr]).toEqual([1, `patchelf: ${join(tmp, msg)}`]);
    }
    const ended = map("m4", "vers_compute vers_renamed\n\nlone\n");
    const { a } = await both(["--rename-dynamic-symbols", ended], lib);
    const { stdout } = await execa("readelf", ["--dyn-syms", "-W", a]);
    expect(stdout).toContain("vers_renamed");
  });
});

describe("patchelf 0.19's OS/ABI names (Debian's 0.14 has none of this)", () => {
  const names: [number, string, string[]][] = [
    [0, "System V", ["system v", "System-V", "SYSV"]],
    [1, "HP-UX", ["hp-ux"]],
    [2, "NetBSD", ["netbsd"]],
    [3, "Linux", ["linux", "GNU"]],
    [4, "GNU Hurd", ["gnu hurd", "gnu-hurd", "Hurd"]],
    [6, "Solaris", ["solaris"]],
    [7, "AIX", ["aix"]],
    [8, "IRIX", ["irix"]],
    [9, "FreeBSD", ["FreeBSD"]],
    [10, "Tru64", ["tru64"]],
    [12, "OpenBSD", ["openbsd"]],
    [13, "OpenVMS", ["OpenVMS", "  openvms\t"]],
  ];
  it("every spelling sets EI_OSABI (readelf agrees), and --print-os-abi prints patchelf's name", async () => {
    const f = join(tmp, "osabi");
    copyFileSync(lib, f);
    for (const [value, label, spellings] of names) {
      for (const spelling of spellings) {
        const set = await execa("node", [bin, "patchelf", "--set-os-abi", spelling, f], { reject: false });
        expect([set.exitCode, set.stderr], spelling).toEqual([0, ""]);
        expect(readFileSync(f)[7], spelling).toBe(value);
        expect((await execa("node", [bin, "patchelf", "--print-os-abi", f])).stdout).toBe(label);
      }
    }
    const bad = await execa("node", [bin, "patchelf", "--set-os-abi", "ARM", f], { reject: false });
    expect([bad.exitCode, bad.stderr]).toEqual([1, "patchelf: unrecognized OS ABI"]);
    // A value without a name in 0.19 (ARM, 97) prints as 0xNN.
    const bytes = readFileSync(f);
    bytes[7] = 97;
    writeFileSync(f, bytes);
    expect((await execa("node", [bin, "patchelf", "--print-os-abi", f])).stdout).toBe("0x61");
  });
});
