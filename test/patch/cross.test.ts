// The committed cross-architecture fixtures, patched to grow and to shrink, executed under
// qemu-user with the Debian cross sysroots, and checked with eu-elflint.
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { elflintClean, runProgram } from "../support/patching.js";
import { readelf } from "../support/readelf.js";
import { hasTool } from "../support/tools.js";

const fixtures = new URL("../../testdata/fixtures/", import.meta.url).pathname;
const EXPECT = "hello from libvers\nn=18 new=21 old=11 weak=42 prot=7 counter=1,7 tls=8 table=libvers-table";
const ARCHES = [
  { arch: "i386", qemu: "qemu-i386-static", triplet: "i686-linux-gnu" },
  { arch: "aarch64", qemu: "qemu-aarch64-static", triplet: "aarch64-linux-gnu" },
  { arch: "armhf", qemu: "qemu-arm-static", triplet: "arm-linux-gnueabihf" },
  { arch: "riscv64", qemu: "qemu-riscv64-static", triplet: "riscv64-linux-gnu" },
  { arch: "ppc64", qemu: "qemu-ppc64-static", triplet: "powerpc64-linux-gnu" },
  { arch: "s390x", qemu: "qemu-s390x-static", triplet: "s390x-linux-gnu" },
];
const LONG_RUNPATH = "/opt/abilink-test/a/runpath/long/enough/not/to/fit/in/place";
const tools = hasTool("qemu-aarch64-static", "qemu-user-static") && hasTool("eu-elflint", "elfutils");
const work = mkdtempSync(join(tmpdir(), "alx-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!tools)("abilink patch on cross-architecture fixtures, run under qemu-user", () => {
  for (const { arch, qemu, triplet } of ARCHES) {
    const progs = ["prog", "prog-nopie", "prog-rpath", ...(arch === "aarch64" || arch === "ppc64" ? ["prog-64k"] : [])];
    for (const prog of progs) {
      it(`${arch}/${prog}: longer interpreter, runpath, NEEDED and SONAME, then shorter`, async () => {
        const dir = mkdtempSync(join(work, `${arch}-`));
        cpSync(join(fixtures, arch), dir, { recursive: true });
        const sysroot = `/usr/${triplet}`;
        const file = join(dir, prog);
        const lib = join(dir, "libvers.so.1");
        const before = await readelf(file);
        const loader = before.interpreter!;
        // qemu -L tries SYSROOT/PATH first, then PATH: a path in the sysroot that is longer...
        const longInterp = loader.replace(/^\/(lib\w*)\//, "/$1/../$1/./");
        // ...and a short host path: a symlink to the sysroot's loader.
        const shortInterp = join(mkdtempSync("/tmp/i"), "l");
        symlinkSync(join(sysroot, loader), shortInterp);
        const run = async () => {
          const r = await runProgram([qemu, "-L", sysroot, `./${prog}`], { cwd: dir });
          return `${r.stdout}`;
        };
        const lint = async (f: string) => (await elflintClean(f)).output.split("\n").filter((l) => !l.includes("non-default visibility") && l !== "");

        const lintBefore = [await lint(file), await lint(lib)];
        const g = await abilink(["patch", "--set-interpreter", longInterp, "--add-runpath", LONG_RUNPATH, "--add-needed", "libm.so.6", file]);
        expect(g.stderr).toBe("");
        const s = await abilink(["patch", "--set-soname", "libvers.so.1.with-a-much-longer-soname", "--add-runpath", LONG_RUNPATH, lib]);
        expect(s.stderr).toBe("");
        const grown = await readelf(file);
        expect(grown.stderr).toBe("");
        expect(grown.interpreter).toBe(longInterp);
        expect(grown.needed).toEqual([...before.needed, "libm.so.6"]);
        const kind = prog === "prog-rpath" ? "rpath" : "runpath";
        expect(grown[kind]).toEqual([...before[kind], LONG_RUNPATH]);
        expect((await readelf(lib)).soname).toBe("libvers.so.1.with-a-much-longer-soname");
        expect(await run()).toBe(EXPECT);
        expect([await lint(file), await lint(lib)]).toEqual(lintBefore);
        // The new segment keeps the file's page size: 64 KiB where it was linked for 64 KiB pages.
        const aligns = async (f: string) => [...(await execa("readelf", ["-lW", f])).stdout.matchAll(/^\s+LOAD\s.*\s(0x[0-9a-f]+)$/gm)].map((m) => m[1]);
        const [before64, after64] = [await aligns(join(fixtures, arch, prog)), await aligns(file)];
        expect(after64.length).toBe(before64.length + 1);
        expect(new Set(after64)).toEqual(new Set(before64));

        const b = await abilink(["patch", "--set-interpreter", shortInterp, kind === "rpath" ? "--set-rpath" : "--set-runpath", before[kind].join(":"), "--remove-needed", "libm.so.6", file]);
        expect(b.stderr).toBe("");
        const back = await readelf(file);
        expect([back.interpreter, back.needed, back.rpath, back.runpath]).toEqual([shortInterp, before.needed, before.rpath, before.runpath]);
        expect(back.symbols).toEqual(before.symbols);
        expect(await run()).toBe(EXPECT);
        expect(await lint(file)).toEqual(lintBefore[0]);
      });
    }
  }
});
