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
import { CROSS_SYSROOTS, hasCrossSysroots, hasTool } from "../support/tools.js";

const fixtures = new URL("../../testdata/fixtures/", import.meta.url).pathname;
const EXPECT = "hello from libvers\nn=18 new=21 old=11 weak=42 prot=7 counter=1,7 tls=8 table=libvers-table";
const ARCHES = Object.entries(CROSS_SYSROOTS).map(([arch, s]) => ({ arch, qemu: s.qemu, triplet: s.triplet }));
const LONG_RUNPATH = "/opt/abilink-test/a/runpath/long/enough/not/to/fit/in/place";
const tools = hasCrossSysroots() && hasTool("eu-elflint", "elfutils");
const work = mkdtempSync(join(tmpdir(), "alx-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!tools)("abilink patch on cross-architecture fixtures, run under qemu-user", () => {
  const shiftedArches: string[] = [];
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
        // The same growth with a new segment forced, on a copy (the default may use the slack instead).
        const forced = join(dir, `${prog}-new-segment`);
        cpSync(file, forced);
        const grow = ["--set-interpreter", longInterp, "--add-runpath", LONG_RUNPATH, "--add-needed", "libm.so.6"];
        const fs = await abilink(["patch", "--json", "--layout", "new-segment", ...grow, forced]);
        expect(fs.stderr).toBe("");
        expect(JSON.parse(fs.stdout).segment).not.toBeNull();
        expect(await runProgram([qemu, "-L", sysroot, `./${prog}-new-segment`], { cwd: dir }).then((r) => r.stdout)).toBe(EXPECT);
        expect(await lint(forced)).toEqual(lintBefore[0]);
        // The new segment keeps the file's page size: 64 KiB where it was linked for 64 KiB pages.
        const aligns = async (f: string) => [...(await execa("readelf", ["-lW", f])).stdout.matchAll(/^\s+LOAD\s.*\s(0x[0-9a-f]+)$/gm)].map((m) => m[1]);
        const [before64, after64] = [await aligns(join(fixtures, arch, prog)), await aligns(forced)];
        expect(after64.length).toBe(before64.length + 1);
        expect(new Set(after64)).toEqual(new Set(before64));

        // Executables: patchelf's layout (the file shifts by whole pages, the first segment
        // starts lower), where the first segment lies high enough for it.
        if (prog === "prog-nopie") {
          const shifted = join(dir, `${prog}-shift`);
          cpSync(file, shifted);
          const sh = await abilink(["patch", "--json", "--layout", "shift", ...grow.filter((a) => a !== "--add-needed" && a !== "libm.so.6"), shifted]);
          expect(sh.stderr).toBe("");
          const r = JSON.parse(sh.stdout);
          if (r.shift > 0) {
            shiftedArches.push(arch);
            expect(r.growth).toBe(r.shift);
            expect(await runProgram([qemu, "-L", sysroot, `./${prog}-shift`], { cwd: dir }).then((x) => x.stdout)).toBe(EXPECT);
            expect(await lint(shifted)).toEqual(lintBefore[0]);
            expect((await readelf(shifted)).stderr).toBe("");
          } else {
            // Refused only where the first segment would start below 64 KiB (vm.mmap_min_addr).
            const first = (await execa("readelf", ["-lW", shifted])).stdout.match(/^\s+LOAD\s+0x0+\s+(0x[0-9a-f]+)/m);
            expect(BigInt(first![1]!)).toBeLessThan(0x10000n + BigInt(1 << 16));
          }
        }

        const g = await abilink(["patch", "--json", ...grow, file]);
        expect(g.stderr).toBe("");
        const rec = JSON.parse(g.stdout);
        // Either layout; in the slack the file does not grow and no PT_LOAD is added.
        if (rec.extended) expect([rec.growth, (await aligns(file)).length]).toEqual([0, before64.length]);
        else expect(rec.segment).not.toBeNull();
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
  it("the shift layout ran on most architectures", () => {
    expect(shiftedArches.length).toBeGreaterThanOrEqual(4);
  });
});
