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
import { CROSS_SYSROOTS, hasCrossSysroots, hasSystemLibs, hasTool, systemLib } from "../support/tools.js";

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

/** readelf -d without the lines that name where tables are (they differ by layout: abilink may slide the relocation tables). */
async function dynamic(path: string) {
  const r = await execa("readelf", ["-dW", path], { env: { LC_ALL: "C" } });
  return r.stdout
    .split("\n")
    .filter((l) => /^\s+0x/.test(l) && !/\((STRTAB|STRSZ|GNU_HASH|SYMTAB|VERSYM|VERNEED|VERDEF|RELA|REL|JMPREL|RELR|DEBUG)\)/.test(l))
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
    expect((await execa("node", [bin, "patchelf", "--version"])).stdout).toBe("patchelf 0.19.0");
    // No SONAME: patchelf prints nothing and succeeds (s=$(patchelf --print-soname f) under set -e).
    const none = await execa("node", [bin, "patchelf", "--print-soname", fx("x86_64/prog")], { reject: false });
    const theirs = await execa("patchelf", ["--print-soname", fx("x86_64/prog")], { reject: false });
    expect([none.exitCode, none.stdout, none.stderr]).toEqual([0, "", ""]);
    expect([theirs.exitCode, theirs.stdout]).toEqual([0, ""]);
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

  const QEMU: Record<string, [string, string] | null> = {
    x86_64: null,
    ...Object.fromEntries(Object.entries(CROSS_SYSROOTS).map(([arch, s]) => [arch, [s.qemu, s.triplet]])),
  };
  const cross = hasCrossSysroots();
  for (const [arch, q] of Object.entries(QEMU)) {
    it.skipIf(q !== null && !cross)(`--rename-dynamic-symbols (${arch}): renamed in library and program, it runs; in the library alone, binding fails`, async () => {
      const dir = mkdtempSync(join(work, `rn-${arch}-`));
      const map = join(dir, "map");
      writeFileSync(map, "vers_hello vers_greeting_with_a_longer_name\nvers_compute vc\n");
      for (const f of ["prog", "libvers.so.1"]) copyFileSync(fx(`${arch}/${f}`), join(dir, f));
      const run = () => execa(q ? q[0] : "./prog", q ? ["-L", `/usr/${q[1]}`, "./prog"] : [], { cwd: dir, reject: false });
      await execa("node", [bin, "patchelf", "--rename-dynamic-symbols", map, join(dir, "libvers.so.1")]);
      const broken = await run();
      expect(broken.exitCode).not.toBe(0);
      expect(broken.stderr).toMatch(/vers_hello|vers_compute/);
      await execa("node", [bin, "patchelf", "--rename-dynamic-symbols", map, join(dir, "prog")]);
      const ok = await run();
      expect(ok.stdout.split("\n")).toEqual(["hello from libvers", "n=18 new=21 old=11 weak=42 prot=7 counter=1,7 tls=8 table=libvers-table"]);
      const names = (await readelf(join(dir, "libvers.so.1"))).symbols.map((x) => `${x.name}@${x.version}`);
      expect(names).toContain("vers_greeting_with_a_longer_name@VERS_1.0");
      expect(names.filter((n) => n.startsWith("vc@")).sort()).toEqual(["vc@VERS_1.0", "vc@VERS_2.0"]);
      for (const f of ["prog", "libvers.so.1"]) {
        const lint = await execa("eu-elflint", ["--gnu-ld", "-q", join(dir, f)], { reject: false });
        expect(lint.stdout.split("\n").filter((l) => l && !l.includes("non-default visibility"))).toEqual([]);
      }
    });
  }

  it.skipIf(!hasSystemLibs(["libstdc++.so.6"]))("--rename-dynamic-symbols on libstdc++: the rebuilt hash tables serve every other lookup of a C++ program", async () => {
    const lib = findProgram(systemLib("libstdc++.so.6"))!;
    const dir = mkdtempSync(join(work, "rnx-"));
    const copy = join(dir, "libstdc++.so.6");
    copyFileSync(lib, copy);
    const users = ["patchelf", "abidiff"].map((n) => findProgram(n)).filter((x): x is string => x !== null);
    const imported = new Set<string>();
    for (const u of users) for (const x of (await readelf(u)).symbols) if (x.ndx === "UND") imported.add(x.name);
    // Symbols these programs do not import, renamed so their GNU hash buckets change: the table is reordered.
    const victims = (await readelf(copy)).symbols
      .filter((x) => x.ndx !== "UND" && x.name.startsWith("_ZNSt7__cxx1118basic_stringstream") && !imported.has(x.name))
      .slice(0, 40);
    expect(victims.length).toBeGreaterThan(10);
    writeFileSync(join(dir, "map"), [...new Set(victims.map((v) => v.name))].map((n, i) => `${n} abilink_renamed_${i}_${n.length}`).join("\n") + "\n");
    const r = await execa("node", [bin, "patchelf", "--debug", "--rename-dynamic-symbols", join(dir, "map"), copy]);
    expect(r.stderr).toMatch(/symbol _ZNSt7__cxx1118basic_stringstream.* -> abilink_renamed_0_/);
    const after = await readelf(copy);
    expect(after.stderr).toBe("");
    expect(after.symbols.filter((x) => x.name.startsWith("abilink_renamed_")).length).toBe(victims.length);
    // eu-elflint checks the hash tables against the symbols: it says what it said of the original.
    const lint = async (f: string) => (await execa("eu-elflint", ["--gnu-ld", "-q", f], { reject: false })).stdout.split(f).join("F");
    expect(await lint(copy)).toBe(await lint(lib));
    // Relocations name the same symbols (by name) after the reordering.
    const relocs = async (f: string) => (await execa("readelf", ["-rW", f])).stdout.split("\n").filter((l) => /^[0-9a-f]{8,}/.test(l)).map((l) => l.split(/\s+/).filter((_, i) => i !== 1 && i !== 3).join(" "));
    const renamedTo = new Map([...new Set(victims.map((v) => v.name))].map((n, i) => [n, `abilink_renamed_${i}_${n.length}`]));
    const rename = (l: string) => {
      const t = l.split(" ");
      if (t.length < 3) return l;
      const at = t[2]!.indexOf("@");
      const name = at < 0 ? t[2]! : t[2]!.slice(0, at);
      t[2] = (renamedTo.get(name) ?? name) + (at < 0 ? "" : t[2]!.slice(at));
      return t.join(" ");
    };
    const expected = (await relocs(lib)).map(rename);
    expect(await relocs(copy)).toEqual(expected);
    // Every program that needs libstdc++ still binds all its symbols (LD_BIND_NOW) through the rebuilt tables.
    for (const p of users) {
      const ran = await execa(p, ["--version"], { env: { LD_LIBRARY_PATH: dir, LD_BIND_NOW: "1" }, reject: false });
      expect(ran.exitCode).toBe(0);
      const trace = await execa(p, [], { env: { LD_LIBRARY_PATH: dir, LD_TRACE_LOADED_OBJECTS: "1" }, reject: false });
      expect(trace.stdout).toContain(`libstdc++.so.6 => ${copy}`);
    }
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
