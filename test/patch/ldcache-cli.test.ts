// `abilink patchelf --build-resolution-cache` on programs gcc builds here: the cases of
// patchelf 0.19's tests (tests/build-resolution-cache*.sh), checked with readelf, eu-elflint
// and by running the program.
import { execa } from "execa";
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeDescriptor, type CacheEntry } from "../../src/patch/ldcache.js";
import { runProgram } from "../support/patching.js";
import { withTmpDir } from "../support/tmp.js";
import { hasTool } from "../support/tools.js";

const bin = new URL("../../bin/abilink", import.meta.url).pathname;
let tmp = "";
withTmpDir((p) => (tmp = p));
let n = 0;
const dir = (name: string) => join(tmp, name);

/** A fresh copy of the program (NEEDED libfoo.so, libbar.so; no run path; exits 46 when both load). */
function fresh(): string {
  const p = join(tmp, `main-${++n}`);
  copyFileSync(dir("main"), p);
  return p;
}

const patchelf = (...args: string[]) => execa("node", [bin, "patchelf", ...args], { reject: false, env: { LC_ALL: "C" } });

/** The cache as readelf -n shows it (descriptor bytes decoded), or null without a NixOS note. */
async function cacheOf(path: string): Promise<CacheEntry[] | null> {
  const r = await execa("readelf", ["-nW", path], { env: { LC_ALL: "C" } });
  const m = /NixOS\s+0x[0-9a-f]+\s+Unknown note type: \(0x63a86cb6\)\s+description data: ([0-9a-f ]+)/.exec(r.stdout);
  if (!m) return null;
  return decodeDescriptor(Buffer.from(m[1]!.trim().split(/\s+/).map((h) => parseInt(h, 16))));
}

const noteSections = async (path: string) => (await execa("readelf", ["-SW", path])).stdout.split("\n").filter((l) => l.includes(".note.nixos.ldcache"));

async function lint(path: string): Promise<string[]> {
  const r = await execa("eu-elflint", ["--gnu-ld", "-q", path], { reject: false, stdin: "ignore" });
  return `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => l.trim() !== "" && !/note type 1671982262 with owner name 'NixOS'/.test(l));
}

describe.skipIf(!hasTool("gcc", "gcc") || !hasTool("eu-elflint", "elfutils") || !hasTool("objcopy", "binutils"))("abilink patchelf --build-resolution-cache", () => {
  beforeAll(async () => {
    for (const d of ["A", "B", "C", "E", "H/glibc-hwcaps"]) mkdirSync(dir(d), { recursive: true });
    writeFileSync(dir("foo.c"), "int foo(void) { return 40; }\n");
    writeFileSync(dir("bar.c"), "int bar(void) { return 6; }\n");
    writeFileSync(dir("main.c"), "int foo(void); int bar(void);\nint main(void) { return foo() + bar(); }\n");
    await execa("gcc", ["-shared", "-fPIC", "-o", dir("A/libfoo.so"), dir("foo.c")]);
    await execa("gcc", ["-shared", "-fPIC", "-o", dir("B/libbar.so"), dir("bar.c")]);
    copyFileSync(dir("A/libfoo.so"), dir("C/libfoo.so"));
    copyFileSync(dir("A/libfoo.so"), dir("H/libfoo.so"));
    await execa("gcc", ["-o", dir("main"), dir("main.c"), `-L${dir("A")}`, `-L${dir("B")}`, "-lfoo", "-lbar"]);
  });

  it("records each library's directories in run-path order, sorted by name; the program still runs", async () => {
    const p = fresh();
    expect((await patchelf("--set-rpath", `${dir("A")}:${dir("B")}:${dir("C")}`, p)).exitCode).toBe(0);
    const before = await lint(p);
    const r = await patchelf("--build-resolution-cache", p);
    expect([r.exitCode, r.stderr]).toEqual([0, ""]);
    expect(await cacheOf(p)).toEqual([
      { needed: "libbar.so", paths: [`=${dir("B")}/libbar.so`] },
      { needed: "libfoo.so", paths: [`=${dir("A")}/libfoo.so`, `=${dir("C")}/libfoo.so`] },
    ]);
    const secs = await noteSections(p);
    expect(secs).toHaveLength(1);
    expect(secs[0]).toMatch(/\sNOTE\s.*\sA\s/);
    expect((await execa("readelf", ["-lW", p])).stdout).toMatch(/^\s+\d\d\s+\.note\.nixos\.ldcache\s*$/m);
    expect(await lint(p)).toEqual(before);
    expect((await runProgram([p])).code).toBe(46);

    const q = fresh();
    await patchelf("--set-rpath", `${dir("C")}:${dir("B")}:${dir("A")}`, q);
    await patchelf("--build-resolution-cache", q);
    expect((await cacheOf(q))![1]!.paths).toEqual([`=${dir("C")}/libfoo.so`, `=${dir("A")}/libfoo.so`]);
  });

  it("gives $ORIGIN, empty, relative, absent and glibc-hwcaps directories as ? hints in their place", async () => {
    const p = fresh();
    const runPath = ["$ORIGIN/../lib", "", "rel/dir", dir("absent"), dir("H"), dir("A"), dir("B")];
    const r = await patchelf("--set-rpath", runPath.join(":"), "--build-resolution-cache", p);
    expect(r.exitCode).toBe(0);
    const hints = ["?$ORIGIN/../lib", "?", "?rel/dir", `?${dir("absent")}`, `?${dir("H")}`];
    expect(await cacheOf(p)).toEqual([
      { needed: "libbar.so", paths: [...hints, `=${dir("B")}/libbar.so`] },
      // Found nowhere, but the hints keep its search positions for the loader.
      { needed: "libc.so.6", paths: hints },
      { needed: "libfoo.so", paths: [...hints, `=${dir("A")}/libfoo.so`] },
    ]);
    expect((await runProgram([p], { cwd: dir("E") })).code).toBe(46);
  });

  it("skips NEEDED entries with a slash (combined with --replace-needed and --set-rpath in one run)", async () => {
    const p = fresh();
    const r = await patchelf("--replace-needed", "libbar.so", `${dir("B")}/libbar.so`, "--set-rpath", dir("A"), "--build-resolution-cache", p);
    expect(r.exitCode).toBe(0);
    expect(await cacheOf(p)).toEqual([{ needed: "libfoo.so", paths: [`=${dir("A")}/libfoo.so`] }]);
    expect((await runProgram([p])).code).toBe(46);
  });

  it("uses DT_RPATH when there is no DT_RUNPATH", async () => {
    const p = fresh();
    await patchelf("--force-rpath", "--set-rpath", `${dir("B")}:${dir("A")}`, p);
    expect((await execa("readelf", ["-d", p])).stdout).toContain("(RPATH)");
    expect((await patchelf("--build-resolution-cache", p)).exitCode).toBe(0);
    expect((await cacheOf(p))!.map((e) => e.paths[0])).toEqual([`=${dir("B")}/libbar.so`, `=${dir("A")}/libfoo.so`]);
  });

  it("nothing to record: a warning, no note, exit 0, the file untouched", async () => {
    const p = fresh();
    const bytes = readFileSync(p);
    const r = await patchelf("--build-resolution-cache", p);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/warning: no DT_NEEDED entries or run path to resolve; no resolution cache written/);
    expect(readFileSync(p).equals(bytes)).toBe(true);
    const q = fresh();
    await patchelf("--set-rpath", dir("E"), q);
    const s = await patchelf("--build-resolution-cache", q);
    expect([s.exitCode, s.stderr]).toEqual([0, expect.stringMatching(/warning: none of its DT_NEEDED entries is on the run path/)]);
    expect(await noteSections(q)).toEqual([]);
  });

  it("a re-run with the same result changes nothing; a different note already there is an error, the file untouched", async () => {
    const p = fresh();
    await patchelf("--set-rpath", `${dir("A")}:${dir("B")}`, "--build-resolution-cache", p);
    const bytes = readFileSync(p);
    const ino = statSync(p).ino;
    const again = await patchelf("--build-resolution-cache", p);
    expect([again.exitCode, again.stderr]).toEqual([0, ""]);
    expect(readFileSync(p).equals(bytes) && statSync(p).ino === ino).toBe(true);

    // patchelf's own test: a foreign note under the section name (objcopy), with and without a run path to resolve.
    writeFileSync(dir("stale"), "stale");
    for (const runPath of [`${dir("A")}:${dir("B")}`, null]) {
      const q = fresh();
      if (runPath) await patchelf("--set-rpath", runPath, q);
      await execa("objcopy", ["--add-section", `.note.nixos.ldcache=${dir("stale")}`, q]);
      const before = readFileSync(q);
      const r = await patchelf("--build-resolution-cache", q);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/already present/);
      expect(r.stderr).not.toMatch(/No such file|internal error|at .*\.js/);
      expect(readFileSync(q).equals(before)).toBe(true);
    }
  });

  it("a later run that changes the run path or NEEDED drops the stale note; with --build-resolution-cache it writes the new one", async () => {
    const p = fresh();
    await patchelf("--set-rpath", `${dir("A")}:${dir("B")}`, "--build-resolution-cache", p);
    const copy = (name: string) => {
      const q = join(tmp, name);
      copyFileSync(p, q);
      return q;
    };

    // Edits that leave the run path and NEEDED alone keep the note.
    const keep = copy("keep");
    expect((await patchelf("--set-interpreter", "/lib64/ld-linux-x86-64.so.2", "--add-debug-tag", keep)).exitCode).toBe(0);
    expect(await cacheOf(keep)).toEqual(await cacheOf(p));

    // Each edit of the run path or NEEDED drops it: no NixOS note, one inactive section header, clean, runs (and after strip).
    const cases: [string[], string][] = [
      [["--set-rpath", `${dir("C")}:${dir("B")}`], "set"],
      [["--add-rpath", dir("E")], "add"],
      [["--remove-needed", "libbar.so"], "remove-needed"],
      [["--replace-needed", "libfoo.so", `${dir("C")}/libfoo.so`], "replace-needed"],
    ];
    for (const [args, name] of cases) {
      const q = copy(`drop-${name}`);
      const r = await patchelf(...args, q);
      expect([name, r.exitCode, r.stderr]).toEqual([name, 0, ""]);
      expect(await cacheOf(q)).toBeNull();
      expect(await noteSections(q)).toEqual([]);
      expect((await execa("readelf", ["-lW", q])).stdout).not.toMatch(/^\s*NOTE\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x000040\b/m);
      expect(await lint(q)).toEqual([]);
      if (name !== "remove-needed") {
        expect((await runProgram([q], { env: { LD_LIBRARY_PATH: dir("B") } })).code).toBe(46);
        await execa("strip", ["-o", `${q}.s`, q]);
        expect((await runProgram([`${q}.s`], { env: { LD_LIBRARY_PATH: dir("B") } })).code).toBe(46);
      }
    }

    // `abilink patch` follows the same rule.
    const viaPatch = copy("drop-patch");
    expect((await execa("node", [bin, "patch", "--set-rpath", dir("C"), viaPatch], { reject: false })).exitCode).toBe(0);
    expect(await cacheOf(viaPatch)).toBeNull();

    // A new run path with --build-resolution-cache replaces the note (where patchelf 0.19 would do the same), then again on the result.
    const q = copy("replace");
    const r = await patchelf("--set-rpath", `${dir("C")}:${dir("B")}`, "--build-resolution-cache", q);
    expect([r.exitCode, r.stderr]).toEqual([0, ""]);
    expect(await cacheOf(q)).toEqual([
      { needed: "libbar.so", paths: [`=${dir("B")}/libbar.so`] },
      { needed: "libfoo.so", paths: [`=${dir("C")}/libfoo.so`] },
    ]);
    expect(await noteSections(q)).toHaveLength(1);
    expect(await lint(q)).toEqual([]);
    expect((await runProgram([q])).code).toBe(46);
    const r2 = await patchelf("--set-rpath", dir("A") + ":" + dir("B"), "--build-resolution-cache", q);
    expect([r2.exitCode, r2.stderr]).toEqual([0, ""]);
    expect(await cacheOf(q)).toEqual(await cacheOf(p));
    expect(await lint(q)).toEqual([]);
    expect((await runProgram([q])).code).toBe(46);
  });

  it("a note the linker put beside other notes (one PT_NOTE) is dropped by zeroing its type; a new one goes beside it", async () => {
    // GNU ld merges .note.nixos.ldcache into the PT_NOTE of .note.ABI-tag, with a symbol on it.
    writeFileSync(
      dir("linked.c"),
      `#include <stdint.h>
struct note { uint32_t namesz, descsz, type; char name[8]; char desc[16]; };
__attribute__((used, aligned(4), section(".note.nixos.ldcache")))
static const struct note ldcache = { 6, 15, 0x63a86cb6, "NixOS", "libfoo.so\\0=/x\\0" };
int foo(void); int bar(void);
int main(void) { return foo() + bar(); }
`,
    );
    const p = dir("linked");
    await execa("gcc", ["-o", p, dir("linked.c"), `-L${dir("A")}`, `-L${dir("B")}`, "-lfoo", "-lbar"]);
    expect((await execa("readelf", ["-lW", p])).stdout).toMatch(/\.note\.ABI-tag \.note\.nixos\.ldcache\s*$/m);
    expect(await cacheOf(p)).toEqual([{ needed: "libfoo.so", paths: ["=/x"] }]);
    const lintBefore = await lint(p);

    expect((await patchelf("--set-rpath", `${dir("A")}:${dir("B")}`, p)).exitCode).toBe(0);
    expect(await cacheOf(p)).toBeNull();
    expect((await execa("readelf", ["-nW", p])).stdout).toMatch(/NixOS\s+0x0000000f\s+Unknown note type: \(0x00000000\)/);
    expect(await lint(p)).toEqual([...lintBefore, expect.stringMatching(/note type 0 with owner name 'NixOS'/), expect.stringMatching(/note type 0 with owner name 'NixOS'/)]);
    expect((await runProgram([p])).code).toBe(46);

    const r = await patchelf("--build-resolution-cache", p);
    expect([r.exitCode, r.stderr]).toEqual([0, ""]);
    expect(await cacheOf(p)).toEqual([
      { needed: "libbar.so", paths: [`=${dir("B")}/libbar.so`] },
      { needed: "libfoo.so", paths: [`=${dir("A")}/libfoo.so`] },
    ]);
    expect(await noteSections(p)).toHaveLength(2);
    expect((await runProgram([p])).code).toBe(46);
  });

  it("is refused together with --force-rpath, before anything is written", async () => {
    const p = fresh();
    const bytes = readFileSync(p);
    const r = await patchelf("--force-rpath", "--set-rpath", dir("A"), "--build-resolution-cache", p);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe("patchelf: --build-resolution-cache cannot be used together with --force-rpath");
    expect(readFileSync(p).equals(bytes)).toBe(true);
  });

  it("--debug names the note among the changes; --help lists the option", async () => {
    const p = fresh();
    const r = await patchelf("--debug", "--set-rpath", dir("A"), "--build-resolution-cache", p);
    expect(r.stderr).toContain(".note.nixos.ldcache: (none) -> ");
    expect((await patchelf("--help")).stderr).toContain("[--build-resolution-cache]");
  });
});
