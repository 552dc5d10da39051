// `abilink patchelf` against patchelf itself: the same command lines give the same output,
// exit status and dynamic table, written into the same inode. Where abilink differs on
// purpose (patchelf's known bugs), the test says so.
import { execa } from "execa";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findProgram } from "../support/patching.js";
import { readelf } from "../support/readelf.js";
import { hasTool } from "../support/tools.js";

const bin = new URL("../../bin/abilink", import.meta.url).pathname;
const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "alf-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function both(args: string[], file: string) {
  const a = join(mkdtempSync(join(work, "a-")), "f");
  const p = join(mkdtempSync(join(work, "p-")), "f");
  copyFileSync(file, a);
  copyFileSync(file, p);
  const ino = statSync(a).ino;
  const ra = await execa("node", [bin, "patchelf", ...args, a], { reject: false });
  const rp = await execa("patchelf", [...args, p], { reject: false });
  return { a, p, ra, rp, sameInode: statSync(a).ino === ino };
}

/** readelf -d without the lines that name where tables are (they differ by layout). */
async function dynamic(path: string) {
  const r = await execa("readelf", ["-dW", path], { env: { LC_ALL: "C" } });
  return r.stdout
    .split("\n")
    .filter((l) => /^\s+0x/.test(l) && !/\((STRTAB|STRSZ|GNU_HASH|SYMTAB|VERSYM|VERNEED|DEBUG)\)/.test(l))
    .map((l) => l.trim().replace(/\s+/g, " "));
}

const FILES = [fx("x86_64/prog"), fx("x86_64/prog-rpath"), fx("x86_64/prog-nopie"), fx("x86_64/libvers.so.1"), fx("aarch64/prog"), fx("i386/libvers.so.1"), findProgram("ls")!];
const CASES: string[][] = [
  ["--print-interpreter"],
  ["--print-rpath"],
  ["--print-needed"],
  ["--print-interpreter", "--print-rpath", "--print-needed"],
  ["--set-rpath", "/a/much/longer/runpath/than/before:$ORIGIN"],
  ["--set-rpath", "/a:/b", "--force-rpath"],
  ["--add-rpath", "/added/dir"],
  ["--remove-rpath"],
  ["--shrink-rpath"],
  ["--add-needed", "libm.so.6", "--add-needed", "libz.so.1"],
  ["--replace-needed", "libc.so.6", "libc-renamed.so.6"],
  ["--set-soname", "libnew-soname.so.9"],
  ["--no-default-lib"],
  ["--set-interpreter", "/lib64/../lib64/./././ld-linux-x86-64.so.2"],
];

describe.skipIf(!hasTool("patchelf", "patchelf"))("abilink patchelf behaves like patchelf", () => {
  for (const file of FILES) {
    for (const args of CASES) {
      it(`${file.split("/").slice(-2).join("/")}: ${args.join(" ")}`, async () => {
        const { a, p, ra, rp, sameInode } = await both(args, file);
        expect(ra.exitCode).toBe(rp.exitCode);
        expect(ra.stdout).toBe(rp.stdout);
        expect(sameInode).toBe(true);
        if (rp.exitCode !== 0) return;
        // Same entries; patchelf puts entries it adds first, abilink where linkers put them
        // (SONAME after NEEDED, others at the end). Only NEEDED's order matters to ld.so, and it agrees.
        const [da, dp] = [await dynamic(a), await dynamic(p)];
        expect([...da].sort()).toEqual([...dp].sort());
        expect(da.filter((l) => l.includes("(NEEDED)"))).toEqual(dp.filter((l) => l.includes("(NEEDED)")));
        const [va, vp] = [await readelf(a), await readelf(p)];
        expect(va.stderr).toBe("");
        expect([va.interpreter, va.verneed]).toEqual([vp.interpreter, vp.verneed]);
      });
    }
  }

  it("--clear-symbol-version makes the symbol unversioned, as patchelf does", async () => {
    const { a, p } = await both(["--clear-symbol-version", "vers_compute"], fx("x86_64/prog"));
    const sym = async (f: string) => (await readelf(f)).symbols.filter((s) => s.name === "vers_compute");
    expect(await sym(a)).toEqual(await sym(p));
    expect((await sym(a)).every((s) => s.version === null)).toBe(true);
  });

  it("--print-soname, --print-os-abi, --print-execstack, --version", async () => {
    const lib = fx("x86_64/libvers.so.1");
    const r = await execa("node", [bin, "patchelf", "--print-soname", "--print-os-abi", "--print-execstack", lib]);
    expect(r.stdout).toBe("System V\nlibvers.so.1\nexecstack: -");
    expect((await execa("node", [bin, "patchelf", "--version"])).stdout).toMatch(/^patchelf 0\.18\.\d+$/);
    const none = await execa("node", [bin, "patchelf", "--print-soname", fx("x86_64/prog")], { reject: false });
    expect(none.exitCode).toBe(1);
  });

  it("--set-os-abi and --set-execstack / --clear-execstack", async () => {
    const f = join(mkdtempSync(join(work, "e-")), "prog");
    copyFileSync(fx("x86_64/prog"), f);
    await execa("node", [bin, "patchelf", "--set-os-abi", "FreeBSD", "--set-execstack", f]);
    expect((await execa("node", [bin, "patchelf", "--print-os-abi", "--print-execstack", f])).stdout).toBe("FreeBSD\nexecstack: X");
    expect((await execa("readelf", ["-hlW", f])).stdout).toMatch(/OS\/ABI:\s+UNIX - FreeBSD[\s\S]*GNU_STACK.* RWE /);
    await execa("node", [bin, "patchelf", "--set-os-abi", "linux", "--clear-execstack", f]);
    expect((await execa("node", [bin, "patchelf", "--print-os-abi", "--print-execstack", f])).stdout).toBe("Linux\nexecstack: -");
  });

  it("--add-debug-tag adds DT_DEBUG once", async () => {
    const f = join(mkdtempSync(join(work, "d-")), "lib.so");
    copyFileSync(fx("x86_64/libvers.so.1"), f);
    await execa("node", [bin, "patchelf", "--add-debug-tag", f]);
    await execa("node", [bin, "patchelf", "--add-debug-tag", f]);
    expect((await execa("readelf", ["-dW", f])).stdout.match(/\(DEBUG\)/g)).toHaveLength(1);
  });

  it("--shrink-rpath keeps $ORIGIN and the directories that hold a needed library of the same machine", async () => {
    const dir = mkdtempSync(join(work, "s-"));
    for (const d of ["good", "wrongarch", "empty"]) mkdirSync(join(dir, d));
    copyFileSync(fx("x86_64/libvers.so.1"), join(dir, "good", "libvers.so.1"));
    copyFileSync(fx("aarch64/libvers.so.1"), join(dir, "wrongarch", "libvers.so.1"));
    const f = join(dir, "prog");
    copyFileSync(fx("x86_64/prog"), f);
    const rpath = `$ORIGIN:${dir}/empty:${dir}/wrongarch:${dir}/good:${dir}/good`;
    await execa("node", [bin, "patchelf", "--set-rpath", rpath, f]);
    const p = join(dir, "prog.patchelf");
    copyFileSync(f, p);
    await execa("node", [bin, "patchelf", "--shrink-rpath", f]);
    await execa("patchelf", ["--shrink-rpath", p]);
    expect((await readelf(f)).runpath).toEqual(["$ORIGIN", `${dir}/good`]);
    expect((await readelf(f)).runpath).toEqual((await readelf(p)).runpath);
    const allowed = join(dir, "prog.allowed");
    await execa("node", [bin, "patchelf", "--set-rpath", rpath, "--output", allowed, f]);
    await execa("node", [bin, "patchelf", "--shrink-rpath", "--allowed-rpath-prefixes", `${dir}/none`, allowed]);
    expect((await readelf(allowed)).runpath).toEqual(["$ORIGIN"]);
  });

  it("values starting with @ are read from the file", async () => {
    const dir = mkdtempSync(join(work, "at-"));
    writeFileSync(join(dir, "rpath.txt"), "/from/a/file");
    const f = join(dir, "prog");
    copyFileSync(fx("x86_64/prog"), f);
    await execa("node", [bin, "patchelf", "--set-rpath", `@${join(dir, "rpath.txt")}`, f]);
    expect((await readelf(f)).runpath).toEqual(["/from/a/file"]);
  });

  it("--output writes a copy even when nothing changes; the input is untouched", async () => {
    const dir = mkdtempSync(join(work, "o-"));
    const out = join(dir, "copy");
    await execa("node", [bin, "patchelf", "--print-rpath", "--output", out, fx("x86_64/prog")]);
    expect((await readelf(out)).runpath).toEqual(["$ORIGIN"]);
  });

  it("a known patchelf bug is not copied: removing a library whose versions are still needed is refused", async () => {
    const { a, ra, rp } = await both(["--remove-needed", "libvers.so.1"], fx("x86_64/prog"));
    // patchelf drops DT_NEEDED but leaves .gnu.version_r naming libvers.so.1 (ld.so then fails).
    expect(rp.exitCode).toBe(0);
    expect(ra.exitCode).toBe(1);
    expect(ra.stderr).toMatch(/symbols still need its versions/);
    expect((await readelf(a)).needed).toContain("libvers.so.1");
  });

  it("errors: no file, a missing file, a static program", async () => {
    const none = await execa("node", [bin, "patchelf", "--print-rpath"], { reject: false });
    expect(none.exitCode).toBe(1);
    const missing = await execa("node", [bin, "patchelf", "--print-rpath", join(work, "nope")], { reject: false });
    expect(missing.exitCode).toBe(1);
    const qemu = findProgram("qemu-aarch64-static");
    if (qemu) {
      const r = await execa("node", [bin, "patchelf", "--print-interpreter", qemu], { reject: false });
      const p = await execa("patchelf", ["--print-interpreter", qemu], { reject: false });
      expect(r.exitCode).toBe(p.exitCode);
    }
  });
});
