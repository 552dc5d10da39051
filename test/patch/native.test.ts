// Real x86_64 programs and libraries from this system, patched to grow (longer interpreter
// and runpath, one more NEEDED: a new PT_LOAD) and back (shorter strings in place, the
// NEEDED removed), then executed, checked with eu-elflint, stripped and executed again.
import { execa } from "execa";
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { readelf } from "../support/readelf.js";
import { copyInto, elflintClean, findProgram, runProgram } from "../support/patching.js";
import { hasSystemLibs, hasTool, systemLib } from "../support/tools.js";

const tools = hasTool("eu-elflint", "elfutils") && hasTool("strip", "binutils") && hasTool("readelf", "binutils");

// C and C++ programs, PIE (all of Debian's), small and large (node is ~100 MB of C++).
const CANDIDATES = [
  "ls", "cat", "cp", "sort", "cut", "wc", "head", "tail", "md5sum", "sha256sum", "date", "id", "stat", "du", "df",
  "env", "tr", "uname", "grep", "sed", "tar", "gzip", "find", "xargs", "bash", "diff", "perl", "readelf", "objdump",
  "ld.bfd", "gcc", "g++", "eu-readelf", "patchelf", "abidiff", "node", "python3", "git", "make", "xz",
];
// Programs that answer --version with a status other than 0 (still the same before and after).
const LOADER = "/lib64/ld-linux-x86-64.so.2";
const LONG_INTERP = "/lib/x86_64-linux-gnu/../../lib64/./ld-linux-x86-64.so.2";
const LONG_RUNPATH = "/opt/abilink-test/a/runpath/long/enough/not/to/fit/in/place";

const work = mkdtempSync(join(tmpdir(), "al-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// A short interpreter path: a symlink to the real loader (shorter than /lib64/ld-linux-x86-64.so.2).
const SHORT_INTERP = join(work, "ld");

const isElf = (path: string) => {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString("latin1") === "\x7fELF";
  } finally {
    closeSync(fd);
  }
};
// Only dynamically linked ELF programs (a pyenv shim is a shell script; static programs have no interpreter).
const programs = CANDIDATES.map((n) => ({ name: n, path: findProgram(n) })).filter(
  (p): p is { name: string; path: string } => p.path !== null && isElf(p.path),
);

/** `./NAME --version` from the program's directory: argv[0] (which some print) is the same for every copy. */
async function versionStatus(path: string, env?: Record<string, string>) {
  const r = await runProgram([`./${basename(path)}`, "--version"], { env, cwd: dirname(path) });
  return { code: r.code, signal: r.signal, out: r.stdout.split("\n")[0] };
}

describe.skipIf(!tools)("abilink patch on this system's programs", () => {
  symlinkSync(LOADER, SHORT_INTERP);

  it("finds at least 30 programs to patch, one of them over 50 MB", () => {
    const found = programs.map((p) => p.name).join(" ");
    // .ci/run installs the packages of the candidates that a minimal Debian lacks.
    expect(programs.length, `only these candidates are on PATH: ${found}`).toBeGreaterThanOrEqual(30);
    expect(programs.some((p) => statSync(p.path).size > 50 * 2 ** 20), "node (package nodejs) is the large one").toBe(true);
  });

  const layoutsSeen: string[] = [];
  for (const { name, path } of programs) {
    it(`${name}: grows (slack and new segment), shrinks back, runs, passes eu-elflint, survives strip`, async () => {
      const dir = mkdtempSync(join(work, `${name}-`));
      // The original keeps its name (some programs print argv[0] with their version).
      mkdirSync(join(dir, "orig"));
      const original = copyInto(join(dir, "orig"), path, name);
      const file = copyInto(dir, path, name);
      const before = await readelf(original);
      const lintBefore = await elflintClean(original);
      const status = await versionStatus(original);
      const needsM = !before.needed.includes("libm.so.6");

      // 1. Grow: every string longer, one more NEEDED. Once in the default layout (in the
      // slack after the first segment where it fits), once with a new segment forced.
      const kind = before.rpath.length > 0 && before.runpath.length === 0 ? "rpath" : "runpath";
      const forced = copyInto(mkdtempSync(join(dir, "f-")), path, name);
      const layouts = new Set<string>();
      for (const [target, extra] of [[forced, ["--layout", "new-segment"]], [file, []]] as const) {
        const grow = ["patch", "--json", ...extra, "--set-interpreter", LONG_INTERP, "--add-runpath", LONG_RUNPATH, target];
        if (needsM) grow.push("--add-needed", "libm.so.6");
        const g = await abilink(grow);
        expect(g.stderr).toBe("");
        expect(g.code).toBe(0);
        const rec = JSON.parse(g.stdout);
        layouts.add(rec.segment ? "segment" : rec.extended ? "slack" : "in place");
        if (rec.extended) expect(rec.growth).toBe(0);
        const grown = await readelf(target);
        expect(grown.stderr).toBe("");
        expect(grown.interpreter).toBe(LONG_INTERP);
        expect(grown[kind]).toEqual([...before[kind], LONG_RUNPATH]);
        expect(grown.needed).toEqual(needsM ? [...before.needed, "libm.so.6"] : before.needed);
        expect(await versionStatus(target)).toEqual(status);
        if (lintBefore.ok) expect((await elflintClean(target)).output).toBe("");
        const stripped = join(mkdtempSync(join(dir, "s-")), name);
        await execa("strip", ["-o", stripped, target]);
        expect(await versionStatus(stripped)).toEqual(status);
      }
      expect(layouts.has("segment")).toBe(true);
      layoutsSeen.push(...layouts);

      // 2. Shrink back: a shorter interpreter, the original runpath, the NEEDED removed.
      const back = ["patch", "--set-interpreter", SHORT_INTERP, file];
      if (before[kind].length > 0) back.push(kind === "rpath" ? "--set-rpath" : "--set-runpath", before[kind].join(":"));
      else back.push("--remove-runpath");
      if (needsM) back.push("--remove-needed", "libm.so.6");
      const b = await abilink(back);
      expect(b.stderr).toBe("");
      expect(b.code).toBe(0);
      const after = await readelf(file);
      expect(after.stderr).toBe("");
      expect(after.interpreter).toBe(SHORT_INTERP);
      expect([after.needed, after.rpath, after.runpath, after.soname]).toEqual([before.needed, before.rpath, before.runpath, before.soname]);
      expect(after.symbols).toEqual(before.symbols);
      expect(await versionStatus(file)).toEqual(status);
      if (lintBefore.ok) expect((await elflintClean(file)).output).toBe("");
      mkdirSync(join(dir, "s2"));
      await execa("strip", ["-o", join(dir, "s2", name), file]);
      expect(await versionStatus(join(dir, "s2", name))).toEqual(status);
    });
  }

  // Libraries: each patched copy is loaded by a program through LD_LIBRARY_PATH, and
  // LD_DEBUG shows the loader really used it.
  const LIBS = ["libc.so.6", "libm.so.6", "libstdc++.so.6", "libz.so.1", "libelf.so.1", "libcrypto.so.3", "libgcc_s.so.1"];
  for (const lib of LIBS) {
    it.skipIf(!hasSystemLibs([lib]))(`${lib}: a patched copy (longer SONAME and runpath) is loaded and works`, async () => {
      const libPath = findProgram(systemLib(lib));
      expect(libPath, `${lib} not found`).not.toBeNull();
      // A program that needs it directly.
      let user: string | null = null;
      for (const p of programs) {
        if ((await readelf(p.path)).needed.includes(lib)) {
          user = p.path;
          break;
        }
      }
      if (!user) {
        // libcrypto: not needed directly by any candidate; take whatever program needs it.
        for (const n of ["openssl", "ssh", "curl", "wget"]) {
          const p = findProgram(n);
          if (p && (await readelf(p)).needed.includes(lib)) {
            user = p;
            break;
          }
        }
      }
      expect(user, `no program here needs ${lib}`).not.toBeNull();
      // Default layout, then a new segment forced.
      for (const extra of [[], ["--layout", "new-segment"]]) {
        const dir = mkdtempSync(join(work, "lib-"));
        const copy = copyInto(dir, libPath!, lib);
        const before = await readelf(copy);
        const lintBefore = await elflintClean(copy);
        // ld.so recognises libc by its SONAME (libc_map): libc keeps it, the others get a longer one.
        const soname = lib === "libc.so.6" ? before.soname : `${before.soname}.patched-by-abilink-with-a-long-soname`;
        const r = await abilink(["patch", "--json", ...extra, "--set-soname", soname!, "--add-runpath", LONG_RUNPATH, copy]);
        expect(r.stderr).toBe("");
        const rec = JSON.parse(r.stdout);
        layoutsSeen.push(rec.segment ? "segment" : rec.extended ? "slack" : "in place");
        if (extra.length > 0) expect(rec.segment).not.toBeNull();
        const after = await readelf(copy);
        expect(after.stderr).toBe("");
        expect(after.soname).toBe(soname);
        expect(after.symbols).toEqual(before.symbols);
        if (lintBefore.ok) expect((await elflintClean(copy)).output).toBe("");
        // The loader's own account of what it mapped (LD_TRACE_LOADED_OBJECTS: ld.so lists, runs nothing).
        const env = { LD_LIBRARY_PATH: dir };
        const loaded = async () => (await runProgram([user!], { env: { ...env, LD_TRACE_LOADED_OBJECTS: "1" } })).stdout;
        expect(await loaded()).toContain(`${lib} => ${join(dir, lib)} (`);
        const ran = await runProgram([user!, "--version"], { env });
        expect(ran.code).toBe((await runProgram([user!, "--version"])).code);
        await execa("strip", [copy]);
        expect(await loaded()).toContain(`${lib} => ${join(dir, lib)} (`);
        const stripped = await runProgram([user!, "--version"], { env });
        expect(stripped.code).toBe(ran.code);
      }
    });
  }

  it("both layouts were exercised: most of these files grow in the slack after their first segment", () => {
    const count = (l: string) => layoutsSeen.filter((x) => x === l).length;
    expect(count("segment")).toBeGreaterThanOrEqual(programs.length + LIBS.length);
    expect(count("slack")).toBeGreaterThanOrEqual(20);
  });

  // An executable whose .dynstr spans pages and whose first segment has no slack (code follows
  // the tables): the shift layout, as patchelf's, grows it by one page instead of a .dynstr copy.
  it("a non-PIE program with a large .dynstr and no slack: shifted by a page, no more growth than patchelf", async () => {
    const dir = mkdtempSync(join(work, "many-"));
    const src = new URL("../../testdata/src/many-exports.c", import.meta.url).pathname;
    const exe = join(dir, "many");
    await execa("gcc", ["-O1", "-no-pie", "-rdynamic", "-Wl,-z,noseparate-code", "-o", exe, src]);
    const expected = "many-exports: 3 calls, one found by dlsym";
    expect((await runProgram([exe])).stdout).toBe(expected);
    const before = await readelf(exe);
    const size = statSync(exe).size;
    const cases = [
      ["--set-runpath", LONG_RUNPATH],
      ["--set-interpreter", LONG_INTERP, "--set-runpath", LONG_RUNPATH],
    ];
    for (const edit of cases) {
      const atomic = join(mkdtempSync(join(dir, "a-")), "many");
      const inPlace = join(mkdtempSync(join(dir, "i-")), "many");
      const viaPatchelf = join(dir, "patchelf-out");
      copyFileSync(exe, atomic);
      copyFileSync(exe, inPlace);
      const r = await abilink(["patch", "--json", ...edit, atomic]);
      expect(r.stderr).toBe("");
      const rec = JSON.parse(r.stdout);
      expect(rec.shift).toBe(4096);
      expect(rec.growth).toBe(4096);
      expect((await abilink(["patch", "--in-place", ...edit, inPlace])).stderr).toBe("");
      expect(readFileSync(inPlace).equals(readFileSync(atomic))).toBe(true);
      const pe = edit.flatMap((a) => (a === "--set-runpath" ? ["--set-rpath"] : [a]));
      await execa("patchelf", [...pe, "--output", viaPatchelf, exe]);
      expect(rec.growth).toBeLessThanOrEqual(statSync(viaPatchelf).size - size);

      const after = await readelf(atomic);
      expect(after.stderr).toBe("");
      expect(after.runpath).toEqual([LONG_RUNPATH]);
      expect(after.symbols).toEqual(before.symbols);
      for (const env of [{}, { LD_BIND_NOW: "1" }] as Record<string, string>[]) expect((await runProgram([atomic], { env })).stdout).toBe(expected);
      expect((await elflintClean(atomic)).output).toBe("");
      await execa("strip", [atomic]);
      expect((await runProgram([atomic])).stdout).toBe(expected);
      // Shrinking back fits where it is now.
      const back = await abilink(["patch", "--json", "--set-interpreter", LOADER, "--remove-runpath", inPlace]);
      expect(JSON.parse(back.stdout)).toMatchObject({ growth: 0, shift: 0, segment: null });
      expect((await runProgram([inPlace])).stdout).toBe(expected);
      expect((await elflintClean(inPlace)).output).toBe("");
    }
  });

  it("a non-PIE C++ program built here", async () => {
    const dir = mkdtempSync(join(work, "cxx-"));
    const src = new URL("../../testdata/src/hello.cc", import.meta.url).pathname;
    const exe = join(dir, "hello");
    await execa("g++", ["-O1", "-no-pie", "-o", exe, src]);
    expect((await readelf(exe)).runpath).toEqual([]);
    const r = await abilink(["patch", "--set-interpreter", LONG_INTERP, "--set-runpath", LONG_RUNPATH, "--add-needed", "libm.so.6", exe]);
    expect(r.stderr).toBe("");
    const v = await readelf(exe);
    expect([v.interpreter, v.runpath, v.needed.at(-1)]).toEqual([LONG_INTERP, [LONG_RUNPATH], "libm.so.6"]);
    const ran = await runProgram([exe]);
    expect([ran.code, ran.stdout]).toEqual([0, "hello from C++: 3 words"]);
    expect((await elflintClean(exe)).output).toBe("");
    await execa("strip", [exe]);
    expect((await runProgram([exe])).stdout).toBe("hello from C++: 3 words");
  });
});
