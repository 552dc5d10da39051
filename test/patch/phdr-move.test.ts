// Issue 14, item 4: the program header table is followed by a section that cannot move (a
// linker script puts read-only data right after the headers), so one more program header
// does not fit after it: a library's table moves into the new segment. The outputs must load
// (natively, after strip too, and on aarch64 under qemu-user) and pass readelf and eu-elflint
// as their inputs did. A program's table is not moved: strip would break the result.
import { copyFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { programHeaderTable, setSectionField, shiftProgramHeaderField, tableProblems } from "../support/elf-edit.js";
import { elflintClean, runProgram } from "../support/patching.js";
import { readelf } from "../support/readelf.js";
import { withTmpDir } from "../support/tmp.js";
import { CROSS_SYSROOTS, hasFiles, hasTool } from "../support/tools.js";

const tools = hasTool("gcc", "gcc") && hasTool("ld", "binutils") && hasTool("eu-elflint", "elfutils") && hasTool("readelf", "binutils");
const EXPECT = "hello from the header data / main header data";
// More NEEDED entries than the linkers' spare .dynamic slots: the table must grow into a new segment.
const SIX = ["libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libutil.so.1", "libresolv.so.2"];
const LIB_C = `__attribute__((section(".hdrdata"), used)) const char hdr_greeting[] = "hello from the header data";
const char *greet(void) { return hdr_greeting; }
`;
const MAIN_C = `#include <stdio.h>
const char *greet(void);
__attribute__((section(".hdrdata"), used)) const char hdr_local[] = "main header data";
int main(void) { printf("%s / %s\\n", greet(), hdr_local); return 0; }
`;

let dir = "";
withTmpDir((d) => (dir = d));

/** ld's default script for `mode`, with `.hdrdata` placed right after the headers. */
async function script(mode: string[], name: string): Promise<string> {
  const out = (await execa("ld", ["--verbose", ...mode])).stdout;
  const lines = out.split("\n");
  const marks = lines.flatMap((l, i) => (l.startsWith("=====") ? [i] : []));
  const body = lines.slice(marks[0]! + 1, marks.at(-1));
  const at = body.findIndex((l) => l.includes("SIZEOF_HEADERS"));
  body.splice(at + 1, 0, "  .hdrdata : { KEEP (*(.hdrdata)) }");
  writeFileSync(join(dir, name), body.join("\n"));
  return join(dir, name);
}

const lint = async (f: string) => (await elflintClean(f)).output;
const patched = (name: string) => {
  const to = join(mkdtempSync(join(dir, "p-")), name);
  copyFileSync(join(dir, name), to);
  return to;
};

describe.skipIf(!tools)("a program header table followed by a section that cannot move", () => {
  beforeAll(async () => {
    writeFileSync(join(dir, "lib.c"), LIB_C);
    writeFileSync(join(dir, "main.c"), MAIN_C);
    const cc = (args: string[]) => execa("gcc", ["-O2", ...args], { cwd: dir });
    await cc(["-shared", "-fPIC", "-o", "libhd.so", "-Wl,-soname,libhd.so", `-Wl,-T,${await script(["-shared"], "lib.ld")}`, "lib.c"]);
    await cc(["-fPIE", "-pie", "-o", "main-pie", "main.c", "-L.", "-lhd", "-Wl,-rpath,$ORIGIN", `-Wl,-T,${await script(["-pie"], "pie.ld")}`]);
    await cc(["-fno-pie", "-no-pie", "-o", "main-exec", "main.c", "-L.", "-lhd", "-Wl,-rpath,$ORIGIN", `-Wl,-T,${await script([], "exec.ld")}`]);
  });

  it("the fixtures have .hdrdata right after the table, and run", async () => {
    for (const f of ["libhd.so", "main-pie", "main-exec"]) {
      const { phoff, size } = await programHeaderTable(join(dir, f));
      const s = (await execa("readelf", ["-SW", join(dir, f)])).stdout.match(/\.hdrdata\s+PROGBITS\s+[0-9a-f]+\s+([0-9a-f]+)/);
      expect(BigInt(`0x${s![1]}`) - (phoff + size), f).toBeLessThan(56n);
      expect((await runProgram([`./${f === "libhd.so" ? "main-pie" : f}`], { cwd: dir })).stdout).toBe(EXPECT);
    }
  });

  it("library, abilink patchelf --add-needed (six): the table moves, the library loads", async () => {
    const lib = patched("libhd.so");
    const before = await programHeaderTable(lib);
    const r = await abilink(["patchelf", ...SIX.flatMap((n) => ["--add-needed", n]), lib]);
    expect(r.stderr).toBe("");
    const after = await programHeaderTable(lib);
    expect(after.phoff).not.toBe(before.phoff);
    expect(after.rows.filter((x) => x.type === "LOAD").length).toBe(before.rows.filter((x) => x.type === "LOAD").length + 1);
    expect(await tableProblems(lib, false)).toEqual([]);
    const re = await readelf(lib);
    expect(re.stderr).toBe("");
    // patchelf puts added entries first, sorted by name.
    expect(re.needed).toEqual([...SIX].sort());
    expect(await lint(lib)).toBe(await lint(join(dir, "libhd.so")));
    const d = join(lib, "..");
    copyFileSync(join(dir, "main-pie"), join(d, "main-pie"));
    expect((await runProgram(["./main-pie"], { cwd: d })).stdout).toBe(EXPECT);
    // A second growing edit takes the spare PT_NULL: the table stays where it went.
    expect((await abilink(["patch", "--layout", "new-segment", "--add-needed", "libanl.so.1", lib])).stderr).toBe("");
    expect((await programHeaderTable(lib)).phoff).toBe(after.phoff);
    expect(await tableProblems(lib, false)).toEqual([]);
    expect((await runProgram(["./main-pie"], { cwd: d })).stdout).toBe(EXPECT);
    // strip (BFD) rewrites the file afterwards: the library still loads.
    await execa("strip", [lib]);
    expect((await runProgram(["./main-pie"], { cwd: d })).stdout).toBe(EXPECT);
    expect((await readelf(lib)).stderr).toBe("");
  });

  for (const prog of ["main-pie", "main-exec"]) {
    it(`${prog}: a program's table is not moved (strip would break the result): refused in one line, file untouched`, async () => {
      for (const args of [["patch", "--layout", "new-segment", "--add-needed", "libm.so.6"], ["patchelf", ...SIX.flatMap((n) => ["--add-needed", n])]]) {
        const file = patched(prog);
        const bytes = readFileSync(file);
        const r = await abilink([...args, file]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/follows the program header table and cannot move, and the program header table cannot move: it is a program, and strip would break a program whose table moved$/);
        expect(r.stderr.split("\n")).toHaveLength(1);
        expect(readFileSync(file).equals(bytes)).toBe(true);
      }
    });
  }

  it("a library without section headers (nothing tells what follows the table): the table moves, the library loads", async () => {
    const d = mkdtempSync(join(dir, "nosections-"));
    cpSync(new URL("../../testdata/fixtures/x86_64/", import.meta.url).pathname, d, { recursive: true });
    copyFileSync(join(d, "libvers-nosections.so.1"), join(d, "libvers.so.1"));
    const expected = (await runProgram(["./prog"], { cwd: d })).stdout;
    expect(expected).toMatch(/^hello from libvers/);
    const r = await abilink(["patch", "--json", "--add-needed", "libm.so.6", "--add-runpath", "/opt/abilink-test/long/enough/not/to/fit", join(d, "libvers.so.1")]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).moved).toEqual(["program header table"]);
    expect(await tableProblems(join(d, "libvers.so.1"), false)).toEqual([]);
    expect((await readelf(join(d, "libvers.so.1"))).needed).toContain("libm.so.6");
    expect((await runProgram(["./prog"], { cwd: d })).stdout).toBe(expected);
  });

  it("refused, file untouched, where the table cannot move: PT_PHDR does not describe it", async () => {
    const file = patched("main-pie");
    shiftProgramHeaderField(file, 6 /* PT_PHDR */, "p_offset", 8n);
    const bytes = readFileSync(file);
    const r = await abilink(["patch", "--layout", "new-segment", "--add-needed", "libm.so.6", file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/follows the program header table and cannot move, and the program header table cannot move: PT_PHDR does not describe it$/);
    expect(r.stderr.split("\n")).toHaveLength(1);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });
});

const aarch64 = CROSS_SYSROOTS.aarch64!;
const fixtures = new URL("../../testdata/fixtures/aarch64/", import.meta.url).pathname;
const crossTools = tools && hasTool(aarch64.qemu, "qemu-user-static") && hasFiles([`/usr/${aarch64.triplet}/lib`], aarch64.pkg);

describe.skipIf(!crossTools)("aarch64, under qemu-user: a moved table", () => {
  it("libvers.so.1 with the section after the table retyped to one that cannot move: prog still runs with it", async () => {
    const d = mkdtempSync(join(dir, "aarch64-"));
    cpSync(fixtures, d, { recursive: true });
    const run = async () => (await runProgram([aarch64.qemu, "-L", `/usr/${aarch64.triplet}`, "./prog"], { cwd: d })).stdout;
    const expected = await run();
    expect(expected).toMatch(/^hello from libvers/);
    // No aarch64 linker here: the section header of what follows the table says it is of
    // a kind abilink does not know (SHT_LOOS + 1), so it must stay where it is.
    setSectionField(join(d, "libvers.so.1"), ".gnu.hash", "sh_type", 0x60000001n);
    for (const [f, runnable] of [["libvers.so.1", false]] as const) {
      const file = join(d, f);
      const lintBefore = await lint(file);
      const before = await programHeaderTable(file);
      const r = await abilink(["patch", "--json", "--layout", "new-segment", "--add-needed", "libm.so.6", file]);
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout).moved).toContain("program header table");
      expect((await programHeaderTable(file)).phoff).not.toBe(before.phoff);
      expect(await tableProblems(file, runnable)).toEqual([]);
      expect(await lint(file)).toBe(lintBefore);
    }
    expect(await run()).toBe(expected);
  });
});
