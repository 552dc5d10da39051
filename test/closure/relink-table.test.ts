// `abilink relink --replace OLD=TABLE`: a closure moved from library builds onto an
// indirection table (`abilink table`), then from that table onto the next one after a fix,
// with real programs (coreutils, a program using zlib, one whose NEEDED is a path) run from
// the result and ld.so's own trace (LD_DEBUG=libs) showing every library loaded from the
// table's entries. Multilib: an i386 and an x86_64 program in one root, one table for both,
// each moved into its own class/machine directory; the i386 one runs under qemu-i386.
import { execa } from "execa";
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readTableNames } from "../../src/closure/table-record.js";
import { BufferSource, ElfFile } from "../../src/elf/index.js";
import { withElfFile } from "../../src/io/file-source.js";
import { patchFile } from "../../src/patch/patch-file.js";
import { elflintClean, patchBytes, runProgram } from "../support/patching.js";
import { withTmpDir } from "../support/tmp.js";
import { CROSS_SYSROOTS, hasCrossSysroots, hasFiles, hasTool } from "../support/tools.js";

const SYS = "/lib/x86_64-linux-gnu";
const GLIBC = ["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2"];
const LIBZ = "/usr/lib/x86_64-linux-gnu/libz.so.1";
const I386 = CROSS_SYSROOTS.i386!;
const SYSROOT32 = `/usr/${I386.triplet}/lib`;
const X64 = "lib/elf64-x86_64";
const X32 = "lib/elf32-i386";
const abilink = new URL("../../bin/abilink", import.meta.url).pathname;
const fx = (p: string) => new URL(`../../testdata/table/${p}`, import.meta.url).pathname;

let tmp = "";
withTmpDir((p) => (tmp = p));

const run = (args: string[]) => execa("node", [abilink, ...args], { reject: false });
/** The objects ld.so initialised (LD_DEBUG=libs: "calling init: PATH"). */
const inits = (trace: string) => [...trace.matchAll(/calling init: (\S+)/g)].map((m) => m[1]!);
const dyn = (path: string) => withElfFile(path, (elf) => ({ interp: elf.interpreter, runpath: elf.dynamic?.runpath ?? null, needed: elf.dynamic?.needed ?? [] }))!;

/** A "build" of glibc: copies of this system's libraries in DIR/lib. */
function glibcBuild(dir: string): string {
  const lib = join(dir, "lib");
  mkdirSync(lib, { recursive: true });
  for (const l of GLIBC) copyFileSync(l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`, join(lib, l));
  return lib;
}

/** A "build" of zlib: the library under its file name, with its SONAME link, as installed. */
function zlibBuild(dir: string): string {
  const lib = join(dir, "lib");
  mkdirSync(lib, { recursive: true });
  copyFileSync(LIBZ, join(lib, "libz.so.1.2.13"));
  symlinkSync("libz.so.1.2.13", join(lib, "libz.so.1"));
  return join(lib, "libz.so.1.2.13");
}

const haveLibs = hasFiles([...GLIBC.map((l) => (l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`)), LIBZ], "libc6 zlib1g");

describe.skipIf(!hasTool("gcc", "gcc") || !hasTool("eu-elflint", "elfutils") || !hasFiles(["/usr/include/zlib.h"], "zlib1g-dev") || !haveLibs)("relink into a table", () => {
  it("moves a closure from glibc-A and zlib-A onto table 1 (--out), then onto table 2 after a fix (--in-place); every program runs from the table's entries", async () => {
    const store = join(tmp, "store");
    const glibcA = glibcBuild(join(store, "glibc-A"));
    const zlibA = zlibBuild(join(store, "zlib-A"));
    const glibcB = glibcBuild(join(store, "glibc-B"));
    const zlibB = zlibBuild(join(store, "zlib-B"));
    const glibcC = glibcBuild(join(store, "glibc-C-security-fix"));
    // The closure: coreutils, a program using zlib, the same with NEEDED a path to zlib-A's file.
    const app = join(store, "app");
    mkdirSync(join(app, "bin"), { recursive: true });
    for (const p of ["cat", "ls", "sort"]) copyFileSync(`/usr/bin/${p}`, join(app, "bin", p));
    await execa("gcc", ["-o", join(app, "bin", "zlib-version"), fx("zlib-version.c"), "-lz"]);
    copyFileSync(join(app, "bin", "zlib-version"), join(app, "bin", "zlib-by-path"));
    const programs = ["cat", "ls", "sort", "zlib-version", "zlib-by-path"].map((p) => join(app, "bin", p));
    for (const p of programs) {
      patchFile(p, [
        { op: "set-interpreter", path: join(glibcA, "ld-linux-x86-64.so.2") },
        { op: "set-search-path", paths: [glibcA, join(store, "zlib-A", "lib")], kind: "runpath" },
        ...(p.endsWith("by-path") ? [{ op: "replace-needed" as const, from: "libz.so.1", to: zlibA }] : []),
      ]);
    }
    const want = await Promise.all(programs.map((p) => runProgram([p, ...(p.includes("zlib") ? [] : ["--version"])])));
    expect(want.map((w) => w.code)).toEqual(programs.map(() => 0));

    // Table 1: glibc-B and zlib-B. relink --out moves both OLD builds into it.
    const t1 = join(store, "table-1");
    expect((await run(["table", "--out", t1, ...GLIBC.map((l) => join(glibcB, l)), join(zlibB)])).exitCode).toBe(0);
    const app1 = join(store, "app-1");
    const r1 = await run(["relink", app, "--out", app1, "--replace", `${join(store, "glibc-A")}=${t1}`, "--replace", `${join(store, "zlib-A")}=${t1}`, "--json"]);
    expect(r1.exitCode, r1.stderr).toBe(0);
    const t1x = join(t1, X64);
    for (const p of programs.map((q) => q.replace(app, app1))) {
      const d = dyn(p);
      expect(d.interp).toBe(join(t1x, "ld-linux-x86-64.so.2"));
      // Two OLD directories became one table directory: searched once.
      expect(d.runpath).toEqual([t1x]);
      // A NEEDED path to zlib-A's file (libz.so.1.2.13) names the table's entry for it (its SONAME).
      if (p.endsWith("by-path")) expect(d.needed).toContain(join(t1x, "libz.so.1"));
      expect((await elflintClean(p)).ok, p).toBe(true);
    }
    // The old builds and the old closure gone: the programs run from the table.
    for (const d of ["glibc-A", "zlib-A", "app"]) rmSync(join(store, d), { recursive: true });
    for (const [i, p] of programs.map((q) => q.replace(app, app1)).entries()) {
      const got = await runProgram([p, ...(p.includes("zlib") ? [] : ["--version"])], { env: { LD_DEBUG: "libs" } });
      expect([got.code, got.stdout], p).toEqual([0, want[i]!.stdout]);
      const loaded = inits(got.stderr);
      expect(loaded, p).toContain(join(t1x, "libc.so.6"));
      if (p.includes("zlib")) expect(loaded, p).toContain(join(t1x, "libz.so.1"));
      // glibc's pieces from the table (ls's libselinux is the system's: not part of the closure).
      expect(loaded.filter((l) => /\/(ld-linux[^/]*|lib(c|m|pthread|dl|rt|resolv)\.so\.\d+)$/.test(l)).every((l) => l.startsWith(`${t1x}/`)), loaded.join(" ")).toBe(true);
      expect(loaded.some((l) => l.includes("/store/glibc-") || l.includes("/store/zlib-")), loaded.join(" ")).toBe(false);
    }

    // The fix: glibc-C with zlib-B in table 2; the closure moved from table 1 to table 2 in place.
    const t2 = join(store, "table-2");
    expect((await run(["table", "--out", t2, ...GLIBC.map((l) => join(glibcC, l)), zlibB])).exitCode).toBe(0);
    const r2 = await run(["relink", app1, "--in-place", "--replace", `${t1}=${t2}`]);
    expect(r2.exitCode, r2.stderr).toBe(0);
    rmSync(t1, { recursive: true });
    const t2x = join(t2, X64);
    for (const [i, p] of programs.map((q) => q.replace(app, app1)).entries()) {
      expect(dyn(p).interp).toBe(join(t2x, "ld-linux-x86-64.so.2"));
      const got = await runProgram([p, ...(p.includes("zlib") ? [] : ["--version"])], { env: { LD_DEBUG: "libs" } });
      expect([got.code, got.stdout], p).toEqual([0, want[i]!.stdout]);
      expect(inits(got.stderr).some((l) => l.includes("/table-1/") || l.includes("/store/glibc-"))).toBe(false);
      expect(inits(got.stderr)).toContain(join(t2x, "libc.so.6"));
    }
    // Table 2's libc is glibc-C's (the fix): ld.so opened it through the entry.
    expect(readFileSync(join(t2x, "libc.so.6"))).toEqual(readFileSync(join(glibcC, "libc.so.6")));

    // A table without libm, for a closure with a program built with -lm: refused, exit 12, nothing written.
    const cos = join(app1, "bin", "cos");
    await execa("gcc", ["-o", cos, fx("hello32.c"), "-lm"]);
    patchFile(cos, [
      { op: "set-interpreter", path: join(t2x, "ld-linux-x86-64.so.2") },
      { op: "set-search-path", paths: [t2x], kind: "runpath" },
    ]);
    const t3 = join(store, "table-3");
    expect((await run(["table", "--out", t3, ...GLIBC.filter((l) => l !== "libm.so.6").map((l) => join(glibcC, l)), zlibB])).exitCode).toBe(0);
    const before = readFileSync(cos);
    const r3 = await run(["relink", app1, "--in-place", "--replace", `${t2}=${t3}`]);
    expect(r3.exitCode).toBe(12);
    expect(r3.stdout + r3.stderr).toContain("libm.so.6");
    expect(readFileSync(cos)).toEqual(before);
    expect(dyn(join(app1, "bin", "cat")).interp).toBe(join(t2x, "ld-linux-x86-64.so.2"));
  }, 120_000);
});

describe.skipIf(!hasTool("gcc", "gcc") || !hasCrossSysroots() || !hasTool(`${I386.triplet}-gcc`, `gcc-${I386.triplet}`) || !haveLibs)("relink into a table: multilib", () => {
  it("an i386 and an x86_64 program in one root, each moved into its own class/machine directory of one table, and run", async () => {
    const store = join(tmp, "multilib");
    const a64 = glibcBuild(join(store, "glibc-A"));
    const a32 = join(store, "glibc-A-32", "lib");
    mkdirSync(a32, { recursive: true });
    for (const l of ["ld-linux.so.2", "libc.so.6", "libm.so.6"]) copyFileSync(join(SYSROOT32, l), join(a32, l));
    const app = join(store, "app");
    mkdirSync(join(app, "bin"), { recursive: true });
    const p32 = join(app, "bin", "hello32");
    const p64 = join(app, "bin", "hello64");
    await execa(`${I386.triplet}-gcc`, ["-o", p32, fx("hello32.c"), "-lm"]);
    await execa("gcc", ["-o", p64, fx("hello32.c"), "-lm"]);
    patchFile(p32, [{ op: "set-interpreter", path: join(a32, "ld-linux.so.2") }, { op: "set-search-path", paths: [a32], kind: "runpath" }]);
    patchFile(p64, [{ op: "set-interpreter", path: join(a64, "ld-linux-x86-64.so.2") }, { op: "set-search-path", paths: [a64], kind: "runpath" }]);
    // One table for both: glibc-B (64-bit) and the i386 sysroot's glibc.
    const b64 = glibcBuild(join(store, "glibc-B"));
    const table = join(store, "table");
    const t = await run(["table", "--out", table, ...GLIBC.map((l) => join(b64, l)), join(SYSROOT32, "libc.so.6"), join(SYSROOT32, "libm.so.6")]);
    expect(t.exitCode, t.stderr).toBe(0);
    const r = await run(["relink", app, "--in-place", "--replace", `${join(store, "glibc-A")}=${table}`, "--replace", `${join(store, "glibc-A-32")}=${table}`]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(dyn(p32)).toMatchObject({ interp: join(table, X32, "ld-linux.so.2"), runpath: [join(table, X32)] });
    expect(dyn(p64)).toMatchObject({ interp: join(table, X64, "ld-linux-x86-64.so.2"), runpath: [join(table, X64)] });
    rmSync(join(store, "glibc-A"), { recursive: true });
    rmSync(join(store, "glibc-A-32"), { recursive: true });
    const got32 = await runProgram([I386.qemu, p32], { env: { LD_DEBUG: "libs" } });
    expect([got32.code, got32.stdout], got32.stderr).toEqual([0, "hello from i386 0.540"]);
    expect(inits(got32.stderr)).toEqual(expect.arrayContaining([join(table, X32, "libc.so.6"), join(table, X32, "libm.so.6")]));
    const got64 = await runProgram([p64], { env: { LD_DEBUG: "libs" } });
    expect([got64.code, got64.stdout]).toEqual([0, "hello from i386 0.540"]);
    expect(inits(got64.stderr)).toEqual(expect.arrayContaining([join(table, X64, "libc.so.6"), join(table, X64, "libm.so.6")]));
  }, 120_000);
});

describe("replace-prefix-into: run paths", () => {
  const prog = new Uint8Array(readFileSync(new URL("../../testdata/fixtures/x86_64/prog", import.meta.url).pathname));
  const runpath = (bytes: Uint8Array) => ElfFile.parse(new BufferSource(bytes)).dynamic!.runpath;
  const into = (from: string) => ({ op: "replace-prefix-into" as const, from, table: "/t", groups: {} });
  it("moves OLD entries into the table's directory where the first of them stood, keeps the others' order, and leaves an entry already there", () => {
    const start = patchBytes(prog, [{ op: "set-search-path", paths: ["/z/lib", "/app/lib", "/g/lib", "/g/lib64"], kind: "runpath" }]).bytes;
    // One build at a time, as a closure moved into a table build by build.
    const one = patchBytes(start, [into("/g")]).bytes;
    expect(runpath(one)).toEqual(["/z/lib", "/app/lib", "/t/lib/elf64-x86_64"]);
    expect(runpath(patchBytes(one, [into("/z")]).bytes)).toEqual(["/t/lib/elf64-x86_64", "/app/lib"]);
    // OLD inside the table: its own directory stays where it is.
    const inTable = patchBytes(prog, [{ op: "set-search-path", paths: ["/t/lib/elf64-x86_64", "/app/lib"], kind: "runpath" }]).bytes;
    expect(runpath(patchBytes(inTable, [into("/t/lib")]).bytes)).toEqual(["/t/lib/elf64-x86_64", "/app/lib"]);
  });
});

describe("readTableNames", () => {
  it("maps each entry's SONAME and its implementation's file name to the entry; null for a directory without a record; a bad line named", () => {
    const dir = join(tmp, "record");
    mkdirSync(dir);
    expect(readTableNames(dir)).toBeNull();
    expect(readTableNames(join(tmp, "no-such-dir"))).toBeNull();
    writeFileSync(
      join(dir, "abilink-table"),
      "abilink-table 1\n" +
        "interpreter elf64-x86_64 ld-linux-x86-64.so.2 abi2-x link /b/lib/ld-linux-x86-64.so.2\n" +
        "lib elf64-x86_64 libz.so.1 abi2-y link /z/lib/libz.so.1.2.13\n" +
        "lib elf32-i386 libz.so.1 abi2-z copy /z32/lib/libz.so.1.2.11\n",
    );
    expect(readTableNames(dir)).toEqual({
      "elf64-x86_64": { "ld-linux-x86-64.so.2": "ld-linux-x86-64.so.2", "libz.so.1": "libz.so.1", "libz.so.1.2.13": "libz.so.1" },
      "elf32-i386": { "libz.so.1": "libz.so.1", "libz.so.1.2.11": "libz.so.1" },
    });
    writeFileSync(join(dir, "abilink-table"), "abilink-table 1\nlib elf64-x86_64 ../evil abi2-y link /z\n");
    expect(() => readTableNames(dir)).toThrow(/abilink-table:2: "\.\.\/evil" is not a file name/);
    writeFileSync(join(dir, "abilink-table"), "abilink-table 1\nlib elf64-x86_64 libz.so.1\n");
    expect(() => readTableNames(dir)).toThrow(/abilink-table:2: expected/);
    writeFileSync(join(dir, "abilink-table"), "something else\n");
    expect(() => readTableNames(dir)).toThrow(/abilink-table:1: expected "abilink-table 1"/);
  });
});
