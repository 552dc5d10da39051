// abilink's stubs against the nearest existing tool, llvm-ifs (LLVM 14:
// `llvm-ifs-14 --input-format=ELF --output-elf=OUT LIB`), on the libraries and programs of
// link-equivalence.test.ts. Each llvm-ifs assertion pins what llvm-ifs 14.0.6 (Debian 12's
// llvm-14) does today, where its stubs diverge from the library; the same check on abilink's
// stub must come out as with the library. The divergences:
// - versions: no .gnu.version* at all; `foo@V1` and `foo@@V2` become one unversioned `foo`,
//   the version marker symbols V1/V2 ordinary data objects. A program binds foo unversioned
//   (no version need on the library), and one that asks for foo@V1 does not link;
// - GNU_UNIQUE: the unique object is left out of the stub: the C++ program's own copy is not
//   exported (GNU ld, lld, mold), and at run time it and the library use two objects;
// - visibility: protected data becomes default: a program that takes a copy of it links, and
//   ld.so warns at run time instead;
// - every symbol at address 0 in one read-only section (.dynsym), with function sizes 0 and
//   IFUNC written as NOTYPE: linkers then treat all of the library's data as aliases of one
//   another and as read-only. Copies go to RELRO (GNU ld, gold: the program crashes writing
//   one), lose their alignment, or collapse into one (mold); lld refuses the calls;
// - libc.so.6 and libm.so.6 are refused (two versions of one name with different size or type);
// - e_flags written as 0 (shown on an armhf library: x86-64 libraries have 0 anyway).
// Fixture sources: testdata/stub/, built here as link-equivalence.test.ts builds them.
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import {
  compile,
  copyRelocations,
  dynamicSymbols,
  link,
  LINK_MODES,
  LINKERS,
  pool,
  versionedImports,
  versionNeeds,
  type DynSym,
  type Lang,
  type Linker,
  type LinkMode,
  type LinkResult,
} from "../support/linking.js";
import { runProgram } from "../support/patching.js";
import { withTmpDir } from "../support/tmp.js";
import { hasFiles, hasSystemLibs, hasTool } from "../support/tools.js";

const SRC = new URL("../../testdata/stub/", import.meta.url).pathname;
const SYSLIB = "/usr/lib/x86_64-linux-gnu";
const IFS = "llvm-ifs-14";

const ready =
  hasTool(IFS, "llvm-14") && hasTool("gcc", "gcc") && hasTool("g++", "g++") && hasTool("readelf", "binutils") &&
  LINKERS.every((l) => hasTool(l.tool, l.pkg)) &&
  hasSystemLibs(["libc.so.6", "libm.so.6", "libstdc++.so.6", "libz.so.1", "libcrypto.so.3", "libgcc_s.so.1"]);
/** An armhf library (e_flags 0x5000400: EABI 5, hard float), from the cross sysroot CI installs. */
const ARMHF_LIB = "/usr/arm-linux-gnueabihf/lib/libanl.so.1";
const armReady = ready && hasFiles([ARMHF_LIB], "libc6-armhf-cross");

type Against = "real" | "ifs" | "ab";
const AGAINST: readonly Against[] = ["real", "ifs", "ab"];

let tmp = "";
withTmpDir((p) => (tmp = p));
/** real/: the built libraries; ifs/ and ab/: llvm-ifs's and abilink's stubs; obj/, out/: objects and programs. */
const dirs: Record<Against | "obj" | "out", string> = { real: "", ifs: "", ab: "", obj: "", out: "" };
/** llvm-ifs on glibc's libc.so.6 and libm.so.6: what it said. */
const refused = new Map<string, { code: number | undefined; stderr: string; wrote: boolean }>();

const ifs = (input: string, out: string) => execa(IFS, ["--input-format=ELF", `--output-elf=${out}`, input], { reject: false, env: { LC_ALL: "C" } });

interface Program {
  name: string;
  src: string;
  lang: Lang;
  libs: string[];
}

const PROGRAMS: Program[] = [
  { name: "prog", src: "prog.c", lang: "c", libs: ["-lstubby"] },
  { name: "prog-v1", src: "prog-v1.c", lang: "c", libs: ["-lstubby"] },
  { name: "protected", src: "protected.c", lang: "c", libs: ["-lstubby"] },
  { name: "unique", src: "unique.cc", lang: "c++", libs: ["-lunique"] },
  // libstdc++ (stubbed) and libgcc_s (the system's), which g++ adds itself.
  { name: "sys-cc", src: "sys.cc", lang: "c++", libs: [] },
  // libc, libm (GNU ld scripts naming libc.so.6, libm.so.6) and libz stubbed; libcrypto the system's.
  // Only against abilink's stubs: llvm-ifs refuses libc.so.6 and libm.so.6.
  { name: "sys", src: "sys.c", lang: "c", libs: ["-lm", "-l:libz.so.1", "-l:libcrypto.so.3"] },
];

const objects = new Map<string, string>();
const links = new Map<string, LinkResult>(); // `${program}.${mode}.${linker}.${against}`
const key = (p: string, mode: LinkMode, linker: Linker, a: Against) => `${p}.${mode.name}.${linker.name}.${a}`;

beforeAll(async () => {
  if (!ready) return;
  for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) mkdirSync((dirs[k] = join(tmp, k)));
  const stubby = join(dirs.real, "libstubby.so.1");
  const unique = join(dirs.real, "libunique.so.1");
  await execa("gcc", ["-O2", "-fPIC", "-shared", "-Wl,-soname,libstubby.so.1", `-Wl,--version-script=${SRC}libstubby.map`, `${SRC}libstubby.c`, "-o", stubby]);
  await execa("g++", ["-O2", "-fPIC", "-shared", "-Wl,-soname,libunique.so.1", `-I${SRC}`, `${SRC}libunique.cc`, "-o", unique]);

  // llvm-ifs: once per library, as it is used.
  for (const lib of [stubby, unique, `${SYSLIB}/libstdc++.so.6`, `${SYSLIB}/libz.so.1`]) {
    const out = join(dirs.ifs, lib.split("/").pop()!);
    const r = await ifs(lib, out);
    if (r.exitCode !== 0) throw new Error(`${IFS} ${lib}: exit ${r.exitCode}: ${r.stderr}`);
  }
  for (const name of ["libc.so.6", "libm.so.6"]) {
    const out = join(dirs.ifs, name);
    const r = await ifs(`${SYSLIB}/${name}`, out);
    refused.set(name, { code: r.exitCode, stderr: r.stderr, wrote: existsSync(out) });
  }
  // abilink: ours by -o, the system's (two linker scripts among them) in one --out-dir call.
  for (const lib of [stubby, unique]) {
    const r = await abilink(["stub", lib, "-o", join(dirs.ab, lib.split("/").pop()!)]);
    if (r.code !== 0) throw new Error(`abilink stub ${lib}: ${r.stderr}`);
  }
  const r = await abilink(["stub", `${SYSLIB}/libc.so`, `${SYSLIB}/libm.so`, `${SYSLIB}/libz.so.1`, `${SYSLIB}/libstdc++.so.6`, "--out-dir", dirs.ab]);
  if (r.code !== 0) throw new Error(`abilink stub --out-dir: ${r.stderr}`);

  for (const d of [dirs.real, dirs.ifs, dirs.ab]) {
    for (const [l, target] of [["libstubby.so", "libstubby.so.1"], ["libunique.so", "libunique.so.1"], ["libstdc++.so", "libstdc++.so.6"]]) {
      if (existsSync(join(d, target!))) symlinkSync(target!, join(d, l!));
    }
  }

  await pool(
    2,
    PROGRAMS.flatMap((p) =>
      LINK_MODES.map((mode) => async () => {
        objects.set(`${p.name}.${mode.name}`, await compile(SRC + p.src, join(dirs.obj, `${p.name}.${mode.name}.o`), { lang: p.lang, mode, include: [SRC] }));
      }),
    ),
  );
  await pool(
    2,
    PROGRAMS.flatMap((p) =>
      LINKERS.flatMap((linker) =>
        LINK_MODES.flatMap((mode) =>
          AGAINST.filter((a) => !(a === "ifs" && p.name === "sys")).map((a) => async () => {
            const r = await link({
              linker,
              mode,
              lang: p.lang,
              objects: [objects.get(`${p.name}.${mode.name}`)!],
              // real: libstdc++, libc & co. from their usual place.
              libDirs: [dirs[a]],
              libs: p.libs,
              out: join(dirs.out, key(p.name, mode, linker, a)),
            });
            links.set(key(p.name, mode, linker, a), r);
          }),
        ),
      ),
    ),
  );
}, 300_000);

/** Runs a program with our libraries' real copies (real/) and the system's. */
const run = (prog: string) => runProgram([prog], { env: { LD_LIBRARY_PATH: dirs.real } });
const linked = (p: string, mode: LinkMode, linker: Linker, a: Against): LinkResult => links.get(key(p, mode, linker, a))!;
/** The result of a run, as compared: exit code, signal and output. */
const outcome = async (prog: string) => {
  const r = await run(prog);
  return { code: r.code, signal: r.signal ?? null, stdout: r.stdout, stderr: r.stderr };
};

const defined = (syms: DynSym[]) => syms.filter((s) => s.ndx !== "UND");
const sym = (syms: DynSym[], name: string) => syms.find((s) => s.name === name && s.ndx !== "UND");
/** The section a program's definition of `name` is in. */
async function sectionOf(prog: string, name: string): Promise<string> {
  const s = sym(await dynamicSymbols(prog), name);
  const sections = (await execa("readelf", ["-SW", prog])).stdout;
  const m = sections.match(new RegExp(String.raw`\[\s*${s!.ndx}\]\s+(\S+)`));
  return m![1]!;
}
const readelf = async (args: string[], path: string) => (await execa("readelf", ["-W", ...args, path], { env: { LC_ALL: "C" }, reject: false })).stdout;

// ---------------------------------------------------------------------------------------
// The stubs themselves.

describe.skipIf(!ready)("the stubs, as readelf sees them", () => {
  const syms = (a: Against, lib: string) => dynamicSymbols(join(a === "real" ? dirs.real : dirs[a], lib));
  /** What a linker reads of a defined symbol: name@version, type, binding, visibility, size. */
  const shape = (s: DynSym) => `${s.name}@${s.version ?? "(none)"} ${s.type} ${s.bind} ${s.vis} ${s.size}`;
  const shapes = (xs: DynSym[]) => defined(xs).map(shape).sort();

  it("libstubby: llvm-ifs has no version sections; foo@V1 and foo@@V2 become one unversioned foo", async () => {
    expect(await readelf(["-V"], join(dirs.ifs, "libstubby.so.1"))).toContain("No version information found in this file.");
    const s = await syms("ifs", "libstubby.so.1");
    expect(s.filter((x) => x.name === "foo").map((x) => `${x.name}@${x.version ?? "(none)"} ${x.ndx}`)).toEqual(["foo@(none) 1"]);
    expect(s.filter((x) => x.version !== null)).toEqual([]);
    // The version marker symbols (ABS in the library) become ordinary data objects.
    expect(s.filter((x) => x.name === "V1" || x.name === "V2").map((x) => `${x.name} ${x.type} ${x.ndx}`)).toEqual(["V1 OBJECT 1", "V2 OBJECT 1"]);
    // An import keeps no version either: __tls_get_addr@GLIBC_2.3 in the library.
    expect(s.find((x) => x.name === "__tls_get_addr")!.version).toBeNull();
    // abilink: the library's versions.
    const a = await syms("ab", "libstubby.so.1");
    expect(a.filter((x) => x.name === "foo").map((x) => `${x.name}@${x.version}`)).toEqual(["foo@V1", "foo@V2"]);
    expect(await readelf(["-V"], join(dirs.ab, "libstubby.so.1"))).toMatch(/Name: V1\n[\s\S]*Name: V2/);
    expect(shapes(a)).toEqual(shapes(await syms("real", "libstubby.so.1")));
  });

  it("libstubby: llvm-ifs puts every symbol at address 0 in .dynsym, drops function sizes, IFUNC and protected visibility", async () => {
    const s = defined(await syms("ifs", "libstubby.so.1"));
    expect(new Set(s.map((x) => `${x.value} ${x.ndx}`))).toEqual(new Set(["0 1"]));
    expect((await readelf(["-S"], join(dirs.ifs, "libstubby.so.1"))).match(/\[\s*1\]\s+(\S+)/)![1]).toBe(".dynsym");
    // No program headers, no hash tables, no version sections: four sections in all.
    expect(await readelf(["-l"], join(dirs.ifs, "libstubby.so.1"))).toContain("There are no program headers in this file.");
    expect([...(await readelf(["-S"], join(dirs.ifs, "libstubby.so.1"))).matchAll(/\[\s*\d+\]\s+(\.\S+)/g)].map((m) => m[1])).toEqual([".dynsym", ".dynstr", ".dynamic", ".shstrtab"]);
    const one = (name: string) => s.find((x) => x.name === name)!;
    expect(one("lib_sum").size).toBe(0n);
    expect(one("ifn").type).toBe("NOTYPE");
    expect(one("pdata").vis).toBe("DEFAULT");
    // The library: a 112-byte function, an IFUNC, protected data; abilink's stub too.
    const real = defined(await syms("real", "libstubby.so.1"));
    const ab = defined(await syms("ab", "libstubby.so.1"));
    for (const x of [real, ab]) {
      const o = (name: string) => x.find((y) => y.name === name)!;
      expect([o("lib_sum").size, o("ifn").type, o("pdata").vis]).toEqual([112n, "IFUNC", "PROTECTED"]);
    }
  });

  it("libstubby: abilink keeps each data object's alignment (as linkers observe it) and the alias group", async () => {
    // What a linker takes for a copy relocation: the smaller of the section's alignment and
    // the lowest set bit of the address (lld's getAlignment; GNU ld's works from the offset).
    const observed = async (against: Against) => {
      const path = join(against === "real" ? dirs.real : dirs[against], "libstubby.so.1");
      const aligns = new Map<string, bigint>();
      for (const m of (await readelf(["-S"], path)).matchAll(/^\s*\[\s*(\d+)\]\s+\S+\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+\S*\s+\d+\s+\d+\s+(\d+)\s*$/gm)) {
        aligns.set(m[1]!, BigInt(m[2]!));
      }
      return new Map(
        defined(await syms(against, "libstubby.so.1"))
          .filter((x) => x.type === "OBJECT" && x.size > 0n)
          .map((x) => {
            const bound = aligns.get(x.ndx) ?? 1n;
            let a = 1n;
            while (a < bound && x.value % (a * 2n) === 0n) a *= 2n;
            return [x.name, a] as const;
          }),
      );
    };
    const real = await observed("real");
    expect(real.get("d64")).toBe(64n);
    expect(await observed("ab")).toEqual(real);
    const ab = defined(await syms("ab", "libstubby.so.1"));
    const at = (xs: DynSym[], n: string) => xs.find((x) => x.name === n)!.value;
    expect(at(ab, "alias_weak")).toBe(at(ab, "alias_main"));
    expect(at(ab, "alias_weak")).not.toBe(at(ab, "d40"));
  });

  it("libunique: llvm-ifs leaves the GNU_UNIQUE object out; abilink keeps it UNIQUE", async () => {
    const name = "_ZN7CounterIiE1nE";
    expect(sym(await syms("real", "libunique.so.1"), name)!.bind).toBe("UNIQUE");
    expect(sym(await syms("ifs", "libunique.so.1"), name)).toBeUndefined();
    expect(sym(await syms("ab", "libunique.so.1"), name)!.bind).toBe("UNIQUE");
  });

  it("libstdc++ and libz: llvm-ifs drops every version and every GNU_UNIQUE symbol; abilink keeps them", async () => {
    for (const lib of ["libstdc++.so.6", "libz.so.1"]) {
      const real = await dynamicSymbols(`${SYSLIB}/${lib}`);
      const ifsSyms = await syms("ifs", lib);
      const ab = await syms("ab", lib);
      expect(await readelf(["-V"], join(dirs.ifs, lib))).toContain("No version information found in this file.");
      expect(defined(real).filter((x) => x.version !== null).length).toBeGreaterThan(0);
      expect(ifsSyms.filter((x) => x.version !== null)).toEqual([]);
      expect(shapes(ab)).toEqual(shapes(real));
    }
    const real = await dynamicSymbols(`${SYSLIB}/libstdc++.so.6`);
    const unique = defined(real).filter((x) => x.bind === "UNIQUE");
    expect(unique.length).toBeGreaterThan(0);
    const ifsNames = new Set(defined(await syms("ifs", "libstdc++.so.6")).map((x) => x.name));
    expect(unique.filter((x) => ifsNames.has(x.name))).toEqual([]);
  });

  it("libc.so.6 and libm.so.6: llvm-ifs refuses them (exit 255, no output); abilink stubs them", async () => {
    // llvm-ifs 14 keys symbols by name: two versions of one name with different sizes
    // (_sys_siglist@GLIBC_2.2.5: 512 bytes, @GLIBC_2.3.3: 520) or types (log2f@GLIBC_2.2.5
    // FUNC, log2f@@GLIBC_2.27 IFUNC, which it calls Unknown) are a conflict to it.
    expect(refused.get("libc.so.6")).toEqual({
      code: 255,
      stderr: `error: Interface Stub: Size Mismatch for _sys_siglist.\nFilename: ${SYSLIB}/libc.so.6\nSize Values: 520 512`,
      wrote: false,
    });
    expect(refused.get("libm.so.6")).toEqual({
      code: 255,
      stderr: `error: Interface Stub: Type Mismatch for log2f.\nFilename: ${SYSLIB}/libm.so.6\nType Values: Func Unknown`,
      wrote: false,
    });
    for (const lib of ["libc.so.6", "libm.so.6"]) expect(shapes(await syms("ab", lib))).toEqual(shapes(await dynamicSymbols(`${SYSLIB}/${lib}`)));
  });

  it.skipIf(!armReady)("e_flags: llvm-ifs writes 0 for an armhf library (EABI 5, hard float); abilink keeps them", async () => {
    const flags = async (p: string) => (await readelf(["-h"], p)).match(/Flags:\s+(0x[0-9a-f]+)/)![1];
    const [i, a] = [join(tmp, "arm.ifs"), join(tmp, "arm.ab")];
    expect((await ifs(ARMHF_LIB, i)).exitCode).toBe(0);
    expect((await abilink(["stub", ARMHF_LIB, "-o", a])).code).toBe(0);
    expect(await flags(ARMHF_LIB)).toBe("0x5000400");
    expect(await flags(i)).toBe("0x0");
    expect(await flags(a)).toBe("0x5000400");
  });
});

// ---------------------------------------------------------------------------------------
// Programs linked against the stubs, run with the real libraries.

describe.skipIf(!ready).each(LINKERS.map((l) => [l.name, l] as const))("%s", (_name, linker) => {
  describe.each(LINK_MODES.map((m) => [m.name, m] as const))("%s", (_mode, mode) => {
    const get = (p: string, a: Against) => linked(p, mode, linker, a);

    it("prog: abilink's stub links as the library does (imports, versions, copies) and the program runs", async () => {
      const [real, ab] = [get("prog", "real"), get("prog", "ab")];
      expect(real.ok, real.output).toBe(true);
      expect(ab.ok, ab.output).toBe(true);
      expect(await versionedImports(ab.out)).toEqual(await versionedImports(real.out));
      expect(await versionNeeds(ab.out)).toEqual(await versionNeeds(real.out));
      expect(await copyRelocations(ab.out)).toEqual(await copyRelocations(real.out));
      const r = await outcome(ab.out);
      expect(r).toEqual(await outcome(real.out));
      expect(r.code).toBe(0);
    });

    it("prog: llvm-ifs's stub binds foo unversioned; lld refuses the calls, the others make a program that crashes", async () => {
      const i = get("prog", "ifs");
      if (linker.name === "lld") {
        // Every function at address 0 of a non-executable section: lld computes each call
        // as a direct one to that address, 4 GiB away, instead of a PLT entry.
        expect(i.ok).toBe(false);
        expect(i.output).toMatch(/relocation R_X86_64_PLT32 out of range: \d+ is not in \[-2147483648, 2147483647\]; references lib_sum/);
        return;
      }
      expect(i.ok, i.output).toBe(true);
      // foo, unversioned: imported (GNU ld, gold), or, with mold, defined in the program itself
      // at the address of the one copy (below), and called through a PLT slot.
      const foo = (await dynamicSymbols(i.out)).filter((s) => s.name === "foo");
      expect(foo.map((s) => [s.version, s.ndx === "UND"])).toEqual([[null, linker.name !== "mold"]]);
      expect(await versionedImports(get("prog", "real").out)).toContain("foo@V2 GLOBAL");
      // No version need on libstubby.so.1 at all (only libc's remain).
      expect((await versionNeeds(i.out)).filter((x) => x.startsWith("libstubby.so.1:"))).toEqual([]);
      expect(await versionNeeds(get("prog", "real").out)).toContain("libstubby.so.1: V2");
      const r = await outcome(i.out);
      expect(r.stdout).toBe("");
      if (linker.name === "mold") {
        // mold takes every symbol at address 0 for one alias group: one 4-byte copy
        // (alias_main), and every name of the library defined at its address, the TLS
        // variable and the functions included. ld.so then divides by a TLS alignment of 0
        // (in _dl_try_allocate_static_tls).
        expect(await copyRelocations(i.out)).toEqual(["alias_main size=4"]);
        expect(r.signal).toBe("SIGFPE");
      } else {
        // The copies go to .data.rel.ro (the stub's section is not writable), read-only after
        // relocation: the first write (d1 += 1) faults. The library's copies were in .bss.
        expect(await sectionOf(i.out, "d1")).toBe(".data.rel.ro");
        expect(await sectionOf(get("prog", "real").out, "d1")).toBe(".bss");
        expect(r.signal).toBe("SIGSEGV");
        // Alignment: the stub's section has alignment 8, so 16-byte-aligned d16 gets 8.
        const d16 = sym(await dynamicSymbols(i.out), "d16")!;
        expect(d16.value % 16n).toBe(8n);
        expect(sym(await dynamicSymbols(get("prog", "real").out), "d16")!.value % 16n).toBe(0n);
      }
    });

    it("prog-v1: asks for foo@V1: links against abilink's stub and runs; llvm-ifs's stub has no foo@V1", async () => {
      const ab = get("prog-v1", "ab");
      expect(ab.ok, ab.output).toBe(true);
      expect(await outcome(ab.out)).toEqual({ code: 0, signal: null, stdout: "foo@V1=1 foo=2", stderr: "" });
      const i = get("prog-v1", "ifs");
      expect(i.ok).toBe(false);
      const said = {
        bfd: "undefined reference to `foo@V1'",
        gold: "error: undefined reference to 'foo', version 'V1'",
        lld: "error: undefined symbol: foo@V1",
        mold: "error: undefined symbol: foo",
      }[linker.name];
      expect(i.output).toContain(said);
    });

    it("protected: the link must fail (a copy of protected data); it does against abilink's stub, not against llvm-ifs's", async () => {
      expect(get("protected", "real").ok).toBe(false);
      expect(get("protected", "ab").ok).toBe(false);
      const i = get("protected", "ifs");
      expect(i.ok, i.output).toBe(true);
      // The program runs on a copy the library never sees; ld.so says so.
      const r = await outcome(i.out);
      expect(r.code).toBe(9);
      expect(r.stderr).toContain(`copy relocation against non-copyable protected symbol \`pdata' in \`${dirs.real}/libstubby.so.1'`);
    });

    it("unique: one Counter<int>::n through abilink's stub; through llvm-ifs's, two objects (except with gold)", async () => {
      const ab = get("unique", "ab");
      expect(ab.ok, ab.output).toBe(true);
      expect(await outcome(ab.out)).toEqual({ code: 0, signal: null, stdout: "same=1 n=2", stderr: "" });
      const i = get("unique", "ifs");
      expect(i.ok, i.output).toBe(true);
      const exported = sym(await dynamicSymbols(i.out), "_ZN7CounterIiE1nE");
      if (linker.name === "gold") {
        // gold exports a GNU_UNIQUE definition whether or not a shared library names it.
        expect(exported).toBeDefined();
        expect(await outcome(i.out)).toEqual({ code: 0, signal: null, stdout: "same=1 n=2", stderr: "" });
      } else {
        // The program's copy is not exported: the library keeps its own, and each side bumps one.
        expect(exported).toBeUndefined();
        expect(sym(await dynamicSymbols(get("unique", "real").out), "_ZN7CounterIiE1nE")).toBeDefined();
        expect(await outcome(i.out)).toEqual({ code: 1, signal: null, stdout: "same=0 n=1", stderr: "" });
      }
    });

    it("sys-cc (libstdc++): runs through abilink's stub; through llvm-ifs's, lld refuses it and the others crash", async () => {
      const ab = get("sys-cc", "ab");
      expect(ab.ok, ab.output).toBe(true);
      expect(await copyRelocations(ab.out)).toEqual(await copyRelocations(get("sys-cc", "real").out));
      const r = await outcome(ab.out);
      expect(r).toEqual(await outcome(get("sys-cc", "real").out));
      expect(r.code).toBe(0);
      const i = get("sys-cc", "ifs");
      if (linker.name === "lld") {
        expect(i.ok).toBe(false);
        expect(i.output).toMatch(/relocation R_X86_64_PLT32 out of range: \d+ is not in \[-2147483648, 2147483647\]; references std::/);
        return;
      }
      expect(i.ok, i.output).toBe(true);
      // std::cout's copy is read-only or too small, or it is not copied at all: libstdc++'s
      // start-up (std::ios_base::Init) faults writing it.
      expect(await outcome(i.out)).toMatchObject({ signal: "SIGSEGV", stdout: "" });
      expect(await copyRelocations(i.out)).toEqual(IFS_SYSCC_COPIES[linker.name]![mode.name]);
      // Against the library: std::cout, std::cerr and the typeinfo objects thrown and caught
      // (3 in a PIE, 5 without), each copied whole under its version.
      expect(await copyRelocations(get("sys-cc", "real").out)).toEqual([
        "_ZSt4cerr@GLIBCXX_3.4 size=272",
        "_ZSt4cout@GLIBCXX_3.4 size=272",
        ...(mode.name === "nopie" ? ["_ZTISt12out_of_range@GLIBCXX_3.4 size=24"] : []),
        "_ZTISt13runtime_error@GLIBCXX_3.4 size=24",
        ...(mode.name === "nopie" ? ["_ZTISt9exception@GLIBCXX_3.4 size=16"] : []),
      ]);
    });

    it("sys (libc, libm by their linker scripts, libz): links against abilink's stubs and runs as against the libraries", async () => {
      const ab = get("sys", "ab");
      expect(ab.ok, ab.output).toBe(true);
      expect(await versionedImports(ab.out)).toEqual(await versionedImports(get("sys", "real").out));
      expect(await outcome(ab.out)).toEqual(await outcome(get("sys", "real").out));
    });
  });
});

/**
 * The copy relocations of sys.cc linked against llvm-ifs's libstdc++ stub. All symbols at
 * address 0 look like one alias group, so each linker copies some of them under whichever
 * name it picks: GNU ld copies __prime_list (2440 bytes) in place of the 24-byte
 * typeinfo; gold copies only the typeinfo in a PIE (std::cout and std::cerr become its
 * aliases: 24 bytes for a 272-byte object) and only std::cout without; mold only std::cerr.
 */
const IFS_SYSCC_COPIES: Partial<Record<Linker["name"], Record<LinkMode["name"], string[]>>> = {
  bfd: {
    pie: ["_ZNSt8__detail12__prime_listE size=2440", "_ZSt4cerr size=272", "_ZSt4cout size=272"],
    nopie: ["_ZNSt8__detail12__prime_listE size=2440", "_ZSt4cerr size=272", "_ZSt4cout size=272"],
  },
  gold: {
    pie: ["_ZTISt13runtime_error size=24"],
    nopie: ["_ZSt4cout size=272"],
  },
  mold: {
    pie: ["_ZSt4cerr size=272"],
    nopie: ["_ZSt4cerr size=272"],
  },
};
