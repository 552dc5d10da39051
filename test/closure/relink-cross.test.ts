// The glibc security-fix scenario of relink.test.ts on aarch64 and ppc64 (big endian,
// ELFv1), with the cross sysroots' glibc and the committed fixtures, run under qemu-user:
// relinked in place from A to B, A deleted, every program prints what it printed before.
import { execa } from "execa";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";
import { CROSS_SYSROOTS, hasCrossSysroots } from "../support/tools.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
let tmp = "";
withTmpDir((p) => (tmp = p));

const ARCHES = [
  { arch: "aarch64", loader: "ld-linux-aarch64.so.1" },
  { arch: "ppc64", loader: "ld64.so.1" },
] as const;

describe.skipIf(!hasCrossSysroots())("abilink relink across architectures (qemu-user)", () => {
  for (const { arch, loader } of ARCHES) {
    it(`${arch}: relinked in place onto B; with A gone the programs run under qemu as before`, async () => {
      const { qemu, triplet } = CROSS_SYSROOTS[arch]!;
      const sys = `/usr/${triplet}/lib`;
      const store = join(tmp, arch);
      const A = join(store, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-glibc-A");
      const B = join(store, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-B-security-fix");
      const app = join(store, "cccccccccccccccccccccccccccccccc-app");
      for (const d of [join(A, "lib"), join(B, "lib"), join(app, "bin"), join(app, "lib")]) mkdirSync(d, { recursive: true });
      for (const l of [loader, "libc.so.6", "libm.so.6"]) {
        copyFileSync(join(sys, l), join(A, "lib", l));
        copyFileSync(join(A, "lib", l), join(B, "lib", l));
      }
      for (const p of ["prog", "prog-nopie"]) copyFileSync(fx(`${arch}/${p}`), join(app, "bin", p));
      copyFileSync(fx(`${arch}/libvers.so.1`), join(app, "lib", "libvers.so.1"));
      const runPath = `${join(A, "lib")}:${join(app, "lib")}`;
      const programs = readdirSync(join(app, "bin")).map((n) => join(app, "bin", n));
      expect((await abilink(["patch", "--set-interpreter", join(A, "lib", loader), "--set-runpath", runPath, ...programs])).code).toBe(0);
      expect((await abilink(["patch", "--set-runpath", runPath, join(app, "lib", "libvers.so.1")])).code).toBe(0);
      // The interpreter is an absolute path inside the store: qemu-user runs it from there.
      const run = async (p: string) => {
        const r = await execa(qemu, [p], { reject: false, env: { LC_ALL: "C" }, stdin: "ignore" });
        return { code: r.exitCode, stdout: r.stdout };
      };
      const before = await Promise.all(programs.map(run));
      for (const b of before) expect(b.code).toBe(0);
      expect(before[0]!.stdout).toMatch(/^hello from libvers/);

      const r = await abilink(["relink", "--in-place", app, "--replace", `${A}=${B}`]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(r.stdout).toMatch(/3 to rewrite, 0 unchanged, 0 to rebuild; ABI check: 3 files checked, 0 refused; 3 files rewritten \(\d+ bytes? grown\); [\d.]+ s/);
      rmSync(A, { recursive: true });
      expect(await Promise.all(programs.map(run))).toEqual(before);
    }, 60_000);
  }
});
