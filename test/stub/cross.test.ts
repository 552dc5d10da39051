// "Linkable ELF stubs" on the other architectures: for i386, aarch64, armhf, riscv64, ppc64
// (big-endian ELFv1: functions are descriptors in .opd) and s390x, testdata/stub's
// libstubby.so.1 and prog.c are built with the cross gcc and GNU ld, the stub is made with
// `abilink stub` from the library, and:
// - prog linked against the stub is byte-identical to prog linked against the library (PIE
//   and non-PIE), and the link read the stub;
// - the stub-linked program runs under qemu-user with the real library as the real-linked
//   one does (same exit code and output);
// - the stub passes readelf (the target's and the host's) without a warning, and eu-elflint
//   complains only of what it complains of in the real library; `abi --hints` of the stub
//   equals `abi --hints` of the library;
// - a program whose RUNPATH reaches the stub fails to load under qemu-user (exit 127,
//   "error while loading shared libraries" naming the library);
// - ppc64: the exported functions are in .opd in the library and in the stub (24-byte
//   descriptors in the stub);
// - aarch64: a library exporting an aarch64_vector_pcs function (testdata/stub/vpcs.c): a
//   program calling it gets DT_AARCH64_VARIANT_PCS against the stub as against the library.
// Needs the cross gcc (gcc-TRIPLET) with its libc headers and start files
// (libc6-dev-ARCH-cross), qemu-user-static and the cross sysroots (.ci/run installs them).
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { execa, execaSync } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { abilink } from "../support/cli.js";
import { compile, dynamicSymbols, link, LINK_MODES, pool, tracedSharedObjects, type LinkMode, type LinkResult } from "../support/linking.js";
import { runProgram } from "../support/patching.js";
import { withTmpDir } from "../support/tmp.js";
import { CROSS_SYSROOTS, hasCrossSysroots, hasTool } from "../support/tools.js";

const SRC = new URL("../../testdata/stub/", import.meta.url).pathname;

interface Arch {
  arch: string;
  triplet: string;
  qemu: string;
  /** Debian packages: the cross gcc, and the libc headers and start files it links with. */
  gccPkg: string;
  devPkg: string;
  /** Extra compiler flags for every compile and link. */
  cflags: string[];
}

const GCC_PKG: Record<string, string> = {
  i386: "gcc-i686-linux-gnu",
  aarch64: "gcc-aarch64-linux-gnu",
  armhf: "gcc-arm-linux-gnueabihf",
  riscv64: "gcc-riscv64-linux-gnu",
  ppc64: "gcc-powerpc64-linux-gnu",
  s390x: "gcc-s390x-linux-gnu",
};
const ARCHES: Arch[] = Object.entries(CROSS_SYSROOTS).map(([arch, s]) => ({
  arch,
  triplet: s.triplet,
  qemu: s.qemu,
  gccPkg: GCC_PKG[arch]!,
  devPkg: s.pkg.replace(/^libc6-/, "libc6-dev-"),
  // ppc64 big-endian: ELFv1, explicitly (as testdata/build-fixtures.sh does).
  cflags: arch === "ppc64" ? ["-mabi=elfv1"] : [],
}));

/** True when `TRIPLET-gcc` compiles and links a program with stdio (headers, start files, libc.so). */
function hasCrossCompiler(a: Arch): boolean {
  if (!hasTool(`${a.triplet}-gcc`, a.gccPkg)) return false;
  try {
    execaSync(`${a.triplet}-gcc`, [...a.cflags, "-x", "c", "-", "-o", "/dev/null"], { input: "#include <stdio.h>\nint main(void) { return puts(\"\"); }\n" });
    return true;
  } catch {
    console.warn(`skipping tests that need ${a.triplet}-gcc to link a program: install \`apt-get install ${a.gccPkg} ${a.devPkg}\``);
    return false;
  }
}

const ready =
  hasCrossSysroots() &&
  hasTool("readelf", "binutils") &&
  hasTool("eu-elflint", "elfutils") &&
  ARCHES.every((a) => hasTool(`${a.triplet}-readelf`, `binutils-${a.triplet}`) && hasCrossCompiler(a));

const bfd = { name: "bfd" as const, tool: "ld.bfd", pkg: "binutils" };

let tmp = "";
withTmpDir((p) => (tmp = p));

interface Built {
  a: Arch;
  dir: string;
  real: string;
  stub: string;
  /** `${mode}.${against}` -> link */
  links: Map<string, LinkResult>;
  /** The program linked with its RUNPATH at the stub's directory. */
  runpath: LinkResult;
}
const built = new Map<string, Built>();
const vpcs = { real: "", stub: "", links: new Map<string, LinkResult>() };

const modeFor = (a: Arch, m: LinkMode): LinkMode => ({ ...m, cflags: [...m.cflags, ...a.cflags], ldflags: [...m.ldflags, ...a.cflags] });
const gcc = (a: Arch, args: string[]) => execa(`${a.triplet}-gcc`, [...a.cflags, ...args], { env: { LC_ALL: "C" } });

async function stub(lib: string, out: string): Promise<void> {
  const r = await abilink(["stub", lib, "-o", out]);
  if (r.code !== 0) throw new Error(`abilink stub ${lib}: exit ${r.code}: ${r.stderr}`);
}

/** A library in DIR/real and its stub in DIR/stub, each with its link name (libNAME.so). */
async function libraryAndStub(a: Arch, dir: string, soname: string, args: string[]): Promise<{ real: string; stub: string }> {
  const real = join(dir, "real", soname);
  const s = join(dir, "stub", soname);
  await gcc(a, ["-O2", "-fPIC", "-shared", `-Wl,-soname,${soname}`, ...args, "-o", real]);
  await stub(real, s);
  const linkName = soname.replace(/\.so\..*$/, ".so");
  symlinkSync(soname, join(dir, "real", linkName));
  symlinkSync(soname, join(dir, "stub", linkName));
  return { real, stub: s };
}

async function buildArch(a: Arch): Promise<void> {
  const dir = join(tmp, a.arch);
  for (const d of ["real", "stub", "obj", "out"]) mkdirSync(join(dir, d), { recursive: true });
  const { real, stub: s } = await libraryAndStub(a, dir, "libstubby.so.1", [`-Wl,--version-script=${SRC}libstubby.map`, `${SRC}libstubby.c`]);
  const links = new Map<string, LinkResult>();
  let runpath: LinkResult | null = null;
  for (const m of LINK_MODES) {
    const mode = modeFor(a, m);
    const obj = await compile(`${SRC}prog.c`, join(dir, "obj", `prog.${m.name}.o`), { lang: "c", mode, include: [SRC], prefix: `${a.triplet}-` });
    for (const against of ["real", "stub"] as const) {
      const r = await link({ linker: bfd, mode, lang: "c", objects: [obj], libDirs: [join(dir, against)], libs: ["-lstubby"], out: join(dir, "out", `prog.${m.name}.${against}`), extra: ["-Wl,--trace"], prefix: `${a.triplet}-` });
      links.set(`${m.name}.${against}`, r);
    }
    if (m.name === "pie") {
      runpath = await link({ linker: bfd, mode, lang: "c", objects: [obj], libDirs: [join(dir, "stub")], libs: ["-lstubby"], out: join(dir, "out", "prog.runpath"), extra: [`-Wl,-rpath,${join(dir, "stub")}`, "-Wl,--enable-new-dtags"], prefix: `${a.triplet}-` });
    }
  }
  built.set(a.arch, { a, dir, real, stub: s, links, runpath: runpath! });

  if (a.arch === "aarch64") {
    const vdir = join(dir, "vpcs");
    for (const d of ["real", "stub", "obj", "out"]) mkdirSync(join(vdir, d), { recursive: true });
    const lib = await libraryAndStub(a, vdir, "libvpcs.so.1", ["-DVPCS_LIB", `${SRC}vpcs.c`]);
    Object.assign(vpcs, lib);
    for (const m of LINK_MODES) {
      const mode = modeFor(a, m);
      const obj = await compile(`${SRC}vpcs.c`, join(vdir, "obj", `vpcs.${m.name}.o`), { lang: "c", mode, prefix: `${a.triplet}-` });
      for (const against of ["real", "stub"] as const) {
        const r = await link({ linker: bfd, mode, lang: "c", objects: [obj], libDirs: [join(vdir, against)], libs: ["-lvpcs"], out: join(vdir, "out", `vpcs.${m.name}.${against}`), prefix: `${a.triplet}-` });
        vpcs.links.set(`${m.name}.${against}`, r);
      }
    }
  }
}

beforeAll(async () => {
  if (!ready) return;
  await pool(2, ARCHES.map((a) => () => buildArch(a)));
}, 120_000);

/** Runs a target program under qemu-user with the cross sysroot, and `libDir` (if any) on the library path. */
async function qemuRun(b: Built, prog: string, libDir?: string) {
  const r = await runProgram([b.a.qemu, "-L", `/usr/${b.a.triplet}`, prog], { env: libDir ? { LD_LIBRARY_PATH: libDir } : {} });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** eu-elflint's complaints with section and symbol indexes left out (the stub numbers them differently). */
async function elflint(path: string): Promise<string[]> {
  const r = await execa("eu-elflint", ["--gnu-ld", "-q", path], { reject: false, stdin: "ignore", env: { LC_ALL: "C" } });
  return `${r.stdout}\n${r.stderr}`
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.replace(/section \[\s*\d+\]/g, "section [N]").replace(/symbol \d+/g, "symbol N"));
}

describe.skipIf(!ready).each(ARCHES.map((a) => [a.arch] as const))("%s", (arch) => {
  const get = () => built.get(arch)!;

  describe.each(LINK_MODES.map((m) => [m.name] as const))("%s", (mode) => {
    it("prog against the stub is byte-identical to prog against the library, and the link read the stub", () => {
      const b = get();
      const real = b.links.get(`${mode}.real`)!;
      const s = b.links.get(`${mode}.stub`)!;
      expect(real.ok, real.output).toBe(true);
      expect(s.ok, s.output).toBe(true);
      expect(tracedSharedObjects(s.output).filter((p) => /libstubby/.test(p))).toEqual([join(b.dir, "stub", "libstubby.so")]);
      expect(readFileSync(s.out).equals(readFileSync(real.out)), `${s.out} differs from ${real.out}`).toBe(true);
    });

    it("the stub-linked program runs under qemu-user with the library as the real-linked one", async () => {
      const b = get();
      const [real, s] = await Promise.all([qemuRun(b, b.links.get(`${mode}.real`)!.out, join(b.dir, "real")), qemuRun(b, b.links.get(`${mode}.stub`)!.out, join(b.dir, "real"))]);
      expect(real.code, real.stdout + real.stderr).toBe(0);
      expect(real.stdout).toMatch(/^foo=2 ifn=41 weakfn=3 pdata=9 /);
      expect(s).toEqual(real);
    });
  });

  it("readelf and TRIPLET-readelf read the stub without a warning; eu-elflint finds nothing the library does not have", async () => {
    const b = get();
    for (const tool of ["readelf", `${b.a.triplet}-readelf`]) {
      const r = await execa(tool, ["-aW", b.stub], { reject: false, env: { LC_ALL: "C" } });
      expect({ code: r.exitCode, stderr: r.stderr }, tool).toEqual({ code: 0, stderr: "" });
    }
    const [real, s] = await Promise.all([elflint(b.real), elflint(b.stub)]);
    expect(s.filter((l) => !real.includes(l)), `eu-elflint on the stub:\n${s.join("\n")}\non the library:\n${real.join("\n")}`).toEqual([]);
  });

  it("abi --hints of the stub equals abi --hints of the library", async () => {
    const b = get();
    const [real, s] = await Promise.all([abilink(["abi", "--hints", b.real]), abilink(["abi", "--hints", b.stub])]);
    expect(real.code, real.stderr).toBe(0);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toEqual(real.stdout);
  });

  it("a program whose RUNPATH reaches the stub fails to load under qemu-user: exit 127, naming the library", async () => {
    const b = get();
    expect(b.runpath.ok, b.runpath.output).toBe(true);
    const r = await qemuRun(b, b.runpath.out);
    expect(r.code, r.stdout + r.stderr).toBe(127);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/error while loading shared libraries: libstubby\.so\.1: /);
  });

  // Registered only where they apply: CI counts a skipped test as a failure.
  if (arch === "ppc64") it("ELFv1: exported functions are .opd descriptors in the library and in the stub", async () => {
    const b = get();
    const opdOf = async (path: string) => {
      const sections = (await execa("readelf", ["-SW", path])).stdout;
      const m = sections.match(/\[\s*(\d+)\]\s+\.opd\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/);
      expect(m, sections).not.toBeNull();
      const fns = (await dynamicSymbols(path)).filter((s) => (s.type === "FUNC" || s.type === "IFUNC") && s.ndx !== "UND");
      expect(fns.length).toBeGreaterThan(5);
      return { ndx: m![1]!, addr: BigInt(`0x${m![2]}`), size: BigInt(`0x${m![3]}`), fns };
    };
    const [real, s] = await Promise.all([opdOf(b.real), opdOf(b.stub)]);
    expect(real.fns.filter((f) => f.ndx !== real.ndx)).toEqual([]);
    expect(s.fns.filter((f) => f.ndx !== s.ndx)).toEqual([]);
    // One 24-byte descriptor (entry, TOC, environment) per exported function in the stub.
    expect(s.fns.map((f) => (f.value - s.addr) % 24n)).toEqual(s.fns.map(() => 0n));
    expect(new Set(s.fns.map((f) => f.value)).size).toBe(s.fns.length);
    expect(s.size).toBe(24n * BigInt(s.fns.length));
    // Same names, types and sizes (st_size is the code's size, from the hints) as the library's.
    const shape = (fns: typeof s.fns) => fns.map((f) => `${f.name}@${f.version} ${f.type} ${f.bind} ${f.size}`).sort();
    expect(shape(s.fns)).toEqual(shape(real.fns));
  });

  if (arch === "aarch64") it("aarch64_vector_pcs: DT_AARCH64_VARIANT_PCS against the stub as against the library, and the program runs", async () => {
    const b = get();
    const variant = async (path: string) => /\(AARCH64_VARIANT_PCS\)/.test((await execa("readelf", ["-dW", path])).stdout);
    const marked = async (path: string) => (await execa("readelf", ["--dyn-syms", "-W", path])).stdout.split("\n").filter((l) => /\[VARIANT_PCS\].*\svscale$/.test(l)).length;
    expect(await marked(vpcs.real)).toBe(1);
    expect(await marked(vpcs.stub)).toBe(1);
    for (const m of LINK_MODES) {
      const real = vpcs.links.get(`${m.name}.real`)!;
      const s = vpcs.links.get(`${m.name}.stub`)!;
      expect(real.ok, real.output).toBe(true);
      expect(s.ok, s.output).toBe(true);
      expect(await variant(real.out), m.name).toBe(true);
      expect(await variant(s.out), m.name).toBe(true);
      expect(readFileSync(s.out).equals(readFileSync(real.out)), `${s.out} differs from ${real.out}`).toBe(true);
      const r = await qemuRun(b, s.out, join(b.dir, "vpcs", "real"));
      expect(r).toEqual({ code: 0, stdout: "vscale=43", stderr: "" });
    }
  });
});
