// `buildTable` (src/closure/table.ts) with real libraries: a copy of this system's glibc as a
// "build", libz, libcrypto with libssl, and the i386 cross sysroot's glibc. Real programs are
// pointed at the table with the rewriter behind `abilink patch` (interpreter -> the table's
// interpreter entry, RUNPATH -> its class/machine directory), run, and ld.so's own trace
// shows the libraries loaded from the table's entries. A library pair from testdata/table,
// where libA finds libB through RUNPATH $ORIGIN, shows why such an entry is a copy.
import { execa } from "execa";
import fc from "fast-check";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildTable, TABLE_RECORD, type TableResult } from "../../src/closure/table.js";
import { withElfFile } from "../../src/io/file-source.js";
import { patchFile } from "../../src/patch/patch-file.js";
import { elflintClean, runProgram } from "../support/patching.js";
import { withTmpDir } from "../support/tmp.js";
import { CROSS_SYSROOTS, hasFiles, hasTool } from "../support/tools.js";

const SYS = "/lib/x86_64-linux-gnu";
const GLIBC = ["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2", "libnss_files.so.2", "libnss_dns.so.2"];
const OTHERS = ["/usr/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3"];
const I386 = CROSS_SYSROOTS.i386!;
const SYSROOT32 = `/usr/${I386.triplet}/lib`;
const X64 = "lib/elf64-x86_64";
const X32 = "lib/elf32-i386";
const fx = (p: string) => new URL(`../../testdata/table/${p}`, import.meta.url).pathname;

let tmp = "";
withTmpDir((p) => (tmp = p));
let build = "";
let n = 0;
const fresh = () => join(tmp, `t${++n}`);

const written = (r: TableResult) => {
  if (r.kind !== "written") throw new Error(`table not written: ${JSON.stringify(r)}`);
  return r;
};
const glibcLibs = () => GLIBC.map((l) => join(build, l));

/** Points a program at the table: the rewriter behind `abilink patch`. */
function pointAt(program: string, table: string, group: string, interpreter: string | null) {
  patchFile(program, [...(interpreter ? [{ op: "set-interpreter" as const, path: join(table, group, interpreter) }] : []), { op: "set-search-path", paths: [join(table, group)], kind: "runpath" }]);
}

/** The objects ld.so initialised (LD_DEBUG=libs: "calling init: PATH"). */
const inits = (trace: string) => [...trace.matchAll(/calling init: (\S+)/g)].map((m) => m[1]!);

/** A tree's names, types, link targets and file bytes. */
function tree(dir: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = join(rel, name);
    const st = lstatSync(join(dir, p));
    if (st.isDirectory()) Object.assign(out, { [p]: `dir ${st.mode & 0o7777}` }, tree(dir, p));
    else if (st.isSymbolicLink()) out[p] = `link ${readlinkSync(join(dir, p))}`;
    else out[p] = `file ${st.mode & 0o7777} ${readFileSync(join(dir, p)).toString("base64")}`;
  }
  return out;
}

const haveGlibc = hasFiles(GLIBC.map((l) => (l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`)), "libc6") && hasFiles(OTHERS, "zlib1g libssl3");

describe.skipIf(!hasTool("gcc", "gcc") || !hasTool("eu-elflint", "elfutils") || !haveGlibc)("buildTable", () => {
  beforeAll(() => {
    build = join(tmp, "glibc-build-A");
    mkdirSync(build);
    for (const l of GLIBC) copyFileSync(l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`, join(build, l));
  });

  it("glibc, libz, libcrypto and libssl: openssl, coreutils and a zlib program run through the table, ld.so and every library loaded from its entries", async () => {
    const out = fresh();
    const r = written(buildTable(out, [...OTHERS, ...glibcLibs()]));
    expect(r.entries.map((e) => e.entry)).toEqual([...GLIBC, "libcrypto.so.3", "libssl.so.3", "libz.so.1"].sort().map((s) => `${X64}/${s}`));
    expect(r.entries.every((e) => e.kind === "link")).toBe(true);
    expect(r.entries.filter((e) => e.interpreter).map((e) => e.soname)).toEqual(["ld-linux-x86-64.so.2"]);
    for (const e of r.entries) expect(readlinkSync(join(out, e.entry))).toBe(e.target);
    // The record's hash is `abilink hash`'s.
    const record = readFileSync(join(out, TABLE_RECORD), "utf8");
    expect(record).toBe(r.record);
    const hashes = (await execa("node", [new URL("../../bin/abilink", import.meta.url).pathname, "hash", ...r.entries.map((e) => e.target)])).stdout.split("\n").map((l) => l.split("  ")[0]);
    expect(r.entries.map((e) => e.hash)).toEqual(hashes);
    expect(record.split("\n")[1]).toBe(`interpreter elf64-x86_64 ld-linux-x86-64.so.2 ${r.entries[0]!.hash} link ${join(build, "ld-linux-x86-64.so.2")}`);

    const bin = join(tmp, "bin1");
    mkdirSync(bin);
    const programs = ["openssl", "ls", "cat", "head", "sort"].map((p) => {
      copyFileSync(`/usr/bin/${p}`, join(bin, p));
      return join(bin, p);
    });
    await execa("gcc", ["-o", join(bin, "zlib-version"), fx("zlib-version.c"), "-lz"]);
    programs.push(join(bin, "zlib-version"));
    for (const p of programs) pointAt(p, out, X64, "ld-linux-x86-64.so.2");
    for (const p of programs) {
      const args = p.endsWith("openssl") ? ["version"] : p.endsWith("zlib-version") ? [] : ["--version"];
      const want = await runProgram([p.endsWith("zlib-version") ? p : `/usr/bin/${p.slice(bin.length + 1)}`, ...args]);
      const got = await runProgram([p, ...args], { env: { LD_DEBUG: "libs" } });
      expect([got.code, got.stdout], p).toEqual([0, p.endsWith("zlib-version") ? got.stdout : want.stdout]);
      const loaded = inits(got.stderr);
      expect(loaded, p).toEqual(expect.arrayContaining([join(out, X64, "ld-linux-x86-64.so.2"), join(out, X64, "libc.so.6")]));
      // ld.so is the table's entry: the trace names no other glibc.
      expect(got.stderr, p).not.toMatch(/\/lib\/x86_64-linux-gnu\/libc\.so\.6/);
      expect(got.stderr, p).not.toContain(build);
      if (p.endsWith("openssl")) expect(loaded).toEqual(expect.arrayContaining([join(out, X64, "libssl.so.3"), join(out, X64, "libcrypto.so.3")]));
      if (p.endsWith("zlib-version")) {
        expect(loaded).toContain(join(out, X64, "libz.so.1"));
        expect(got.stdout).toMatch(/^zlib [\d.]+ crc [0-9a-f]{8}$/);
      }
    }
  }, 120_000);

  describe("a library whose RUNPATH is $ORIGIN", () => {
    let impl = "";
    let main = "";
    beforeAll(async () => {
      impl = join(tmp, "impl-ab");
      mkdirSync(impl);
      await execa("gcc", ["-shared", "-fPIC", "-Wl,-soname,libB.so.1", "-o", join(impl, "libB.so.1"), fx("libb.c")]);
      await execa("gcc", ["-shared", "-fPIC", "-Wl,-soname,libA.so.1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN", "-o", join(impl, "libA.so.1"), fx("liba.c"), `-L${impl}`, "-l:libB.so.1"]);
      main = join(tmp, "main-ab");
      await execa("gcc", ["-o", main, fx("main.c"), `-L${impl}`, "-l:libA.so.1", `-Wl,-rpath-link,${impl}`]);
    }, 60_000);

    it("is a copy with $ORIGIN expanded to the table's directory, then its real directory (eu-elflint clean), and a program finds libB through it", async () => {
      const out = fresh();
      const r = written(buildTable(out, [join(impl, "libA.so.1")]));
      expect(r.entries).toEqual([expect.objectContaining({ soname: "libA.so.1", kind: "copy", target: join(impl, "libA.so.1") })]);
      const entry = join(out, X64, "libA.so.1");
      expect(lstatSync(entry).isFile()).toBe(true);
      // What a link would search (the table's own entries), then the implementation's directory.
      expect(withElfFile(entry, (elf) => elf.dynamic?.runpath)).toEqual([join(out, X64), impl]);
      expect(withElfFile(entry, (elf) => elf.dynamic?.soname)).toBe("libA.so.1");
      const lint = await elflintClean(entry);
      expect(lint.ok, lint.output).toBe(true);
      const prog = join(tmp, "main-ab-copy");
      copyFileSync(main, prog);
      pointAt(prog, out, X64, null);
      const got = await runProgram([prog], { env: { LD_DEBUG: "libs" } });
      expect([got.code, got.stdout]).toEqual([0, "a=43"]);
      expect(inits(got.stderr)).toEqual(expect.arrayContaining([entry, join(impl, "libB.so.1")]));
    });

    it("a sibling the table also has is found in the table: a fixed libB in the table reaches a program that needs only libA", async () => {
      const fixed = join(tmp, "impl-b-fixed");
      mkdirSync(fixed);
      await execa("gcc", ["-shared", "-fPIC", "-DB_VALUE=98", "-Wl,-soname,libB.so.1", "-o", join(fixed, "libB.so.1"), fx("libb.c")]);
      const out = fresh();
      written(buildTable(out, [join(impl, "libA.so.1"), join(fixed, "libB.so.1")]));
      const prog = join(tmp, "main-ab-fixed");
      copyFileSync(main, prog);
      pointAt(prog, out, X64, null);
      const got = await runProgram([prog], { env: { LD_DEBUG: "libs" } });
      expect([got.code, got.stdout]).toEqual([0, "a=99"]);
      expect(inits(got.stderr)).toContain(join(out, X64, "libB.so.1"));
      expect(inits(got.stderr)).not.toContain(join(impl, "libB.so.1"));
    });

    it("a library using $ORIGIN in a directory whose name holds a colon is refused: no run path can name it", () => {
      const odd = join(tmp, "impl:odd");
      mkdirSync(odd);
      copyFileSync(join(impl, "libA.so.1"), join(odd, "libA.so.1"));
      const r = buildTable(fresh(), [join(odd, "libA.so.1")]);
      expect(r.kind).toBe("invalid");
      expect(r.kind === "invalid" ? r.problems.map((p) => p.message).join("\n") : "").toMatch(/holds ":" or "\$"/);
    });

    it("a plain symbolic link in its place would fail: ld.so takes $ORIGIN from the link's directory", async () => {
      const links = join(tmp, "symlink-table");
      mkdirSync(links);
      symlinkSync(join(impl, "libA.so.1"), join(links, "libA.so.1"));
      const prog = join(tmp, "main-ab-link");
      copyFileSync(main, prog);
      patchFile(prog, [{ op: "set-search-path", paths: [links], kind: "runpath" }]);
      const got = await runProgram([prog]);
      expect(got.code).toBe(127);
      expect(got.stderr).toMatch(/libB\.so\.1: cannot open shared object file/);
    });

    it("a NEEDED naming $ORIGIN is expanded too", async () => {
      const dir = join(tmp, "impl-needed");
      mkdirSync(dir);
      copyFileSync(join(impl, "libB.so.1"), join(dir, "libB.so.1"));
      copyFileSync(join(impl, "libA.so.1"), join(dir, "libA.so.1"));
      patchFile(join(dir, "libA.so.1"), [{ op: "remove-runpath" }, { op: "replace-needed", from: "libB.so.1", to: "$ORIGIN/libB.so.1" }]);
      const out = fresh();
      written(buildTable(out, [join(dir, "libA.so.1")]));
      expect(withElfFile(join(out, X64, "libA.so.1"), (elf) => elf.dynamic?.needed)).toContain(join(dir, "libB.so.1"));
      const lint = await elflintClean(join(out, X64, "libA.so.1"));
      expect(lint.ok, lint.output).toBe(true);
      const prog = join(tmp, "main-ab-needed");
      copyFileSync(main, prog);
      pointAt(prog, out, X64, null);
      expect((await runProgram([prog])).stdout).toBe("a=43");
    });
  });

  describe("refusals: nothing written, DIR absent", () => {
    it("glibc from two builds (libm from another directory, or the interpreter from elsewhere)", () => {
      const other = join(tmp, "glibc-build-B");
      mkdirSync(other);
      for (const l of ["ld-linux-x86-64.so.2", "libm.so.6", "libnss_files.so.2"]) copyFileSync(join(build, l), join(other, l));
      const cases = [
        [join(build, "libc.so.6"), join(other, "libm.so.6")],
        [join(other, "ld-linux-x86-64.so.2"), join(build, "libc.so.6"), join(build, "libm.so.6")],
        [join(build, "ld-linux-x86-64.so.2"), join(build, "libc.so.6"), join(other, "libnss_files.so.2")],
      ];
      for (const libs of cases) {
        const out = fresh();
        const r = buildTable(out, libs);
        expect(r.kind, libs.join(" ")).toBe("invalid");
        if (r.kind === "invalid") expect(r.problems).toEqual([{ path: "elf64-x86_64", message: expect.stringMatching(/^glibc from 2 builds: .*a table takes glibc from one build$/) }]);
        expect(existsSync(out)).toBe(false);
      }
    });

    it("libc without an ld.so beside it", () => {
      const lone = join(tmp, "lone-libc");
      mkdirSync(lone);
      copyFileSync(join(build, "libc.so.6"), join(lone, "libc.so.6"));
      const out = fresh();
      expect(buildTable(out, [join(lone, "libc.so.6")])).toEqual({ kind: "invalid", problems: [{ path: join(lone, "libc.so.6"), message: expect.stringMatching(/^glibc without its loader/) }] });
      expect(existsSync(out)).toBe(false);
    });

    it("two LIBs with one SONAME, naming both", () => {
      const other = join(tmp, "zlib-2");
      mkdirSync(other);
      copyFileSync(OTHERS[0]!, join(other, "libz.so.1"));
      const out = fresh();
      const r = buildTable(out, [join(other, "libz.so.1"), OTHERS[0]!]);
      expect(r).toEqual({ kind: "invalid", problems: [{ path: OTHERS[0]!, message: `has SONAME libz.so.1 (elf64-x86_64) as ${join(other, "libz.so.1")} has: give one implementation per SONAME` }] });
      expect(existsSync(out)).toBe(false);
    });

    it("--expect: an implementation that lacks a symbol of its manifest", async () => {
      const abi = (await execa("node", [new URL("../../bin/abilink", import.meta.url).pathname, "abi", OTHERS[0]!])).stdout;
      const manifest = join(tmp, "libz-more.abi");
      const lines = abi.split("\n");
      lines.splice(lines.findIndex((l) => l.startsWith("symbol ")), 0, "symbol aaa_gone@@ZLIB_1.2.2 FUNC GLOBAL");
      await execa("sh", ["-c", `cat > ${manifest}`], { input: lines.join("\n") + "\n" });
      const out = fresh();
      const r = buildTable(out, [OTHERS[0]!], { expect: [manifest] });
      expect(r).toEqual({ kind: "abi-refused", problems: [{ manifest, soname: "libz.so.1", group: "elf64-x86_64", path: OTHERS[0]!, changes: [expect.objectContaining({ kind: "symbol-removed", subject: "aaa_gone@@ZLIB_1.2.2", compatible: false })] }] });
      expect(existsSync(out)).toBe(false);
      // Its own manifest, and one with a symbol fewer (the implementation adds one): written.
      const own = join(tmp, "libz.abi");
      await execa("sh", ["-c", `cat > ${own}`], { input: abi + "\n" });
      expect(buildTable(fresh(), [OTHERS[0]!], { expect: [own] }).kind).toBe("written");
    });

    it("inputs that are not shared libraries: a program, an object, a static archive, a missing file", async () => {
      const obj = join(tmp, "b.o");
      await execa("gcc", ["-c", "-fPIC", "-o", obj, fx("libb.c")]);
      const archive = join(tmp, "libb.a");
      await execa("ar", ["rcs", archive, obj]);
      for (const [path, message] of [
        ["/usr/bin/ls", /is a program/],
        [obj, /relocatable object/],
        [archive, /not an ELF file/],
        [join(tmp, "missing.so"), /no such file or directory/],
      ] as const) {
        const out = fresh();
        expect(buildTable(out, [OTHERS[0]!, path])).toEqual({ kind: "invalid", problems: [{ path, message: expect.stringMatching(message) }] });
        expect(existsSync(out)).toBe(false);
      }
    });

    it("a DIR that exists", () => {
      const out = fresh();
      mkdirSync(out);
      expect(buildTable(out, [OTHERS[0]!])).toEqual({ kind: "invalid", problems: [{ path: out, message: expect.stringMatching(/^exists already/) }] });
      expect(readdirSync(out)).toEqual([]);
    });
  });

  it("deterministic: LIBs in another order give the same record and the same tree; no temporary directory left", () => {
    const libs = [...OTHERS, ...glibcLibs()];
    const a = join(tmp, "det", "table");
    const b = join(tmp, "det2", "table");
    mkdirSync(join(tmp, "det"));
    mkdirSync(join(tmp, "det2"));
    const ra = written(buildTable(a, libs));
    const rb = written(buildTable(b, [...libs].reverse()));
    expect(readFileSync(join(b, TABLE_RECORD))).toEqual(readFileSync(join(a, TABLE_RECORD)));
    expect(rb.entries).toEqual(ra.entries);
    expect(tree(b)).toEqual(tree(a));
    expect(readdirSync(join(tmp, "det"))).toEqual(["table"]);
  });

  it("the umask does not decide the modes: a table made under umask 077 has 0755 directories and a 0644 record, readable by all", async () => {
    const out = fresh();
    const abilink = new URL("../../bin/abilink", import.meta.url).pathname;
    await execa("sh", ["-c", `umask 077 && exec node "$0" table --out "$1" "$2"`, abilink, out, OTHERS[0]!]);
    for (const d of ["", "lib", X64]) expect((lstatSync(join(out, d)).mode & 0o777).toString(8), d).toBe("755");
    expect((lstatSync(join(out, TABLE_RECORD)).mode & 0o777).toString(8)).toBe("644");
  });

  it("property: any order of any subset gives the record of the subset in table order (fast-check)", () => {
    const libs = [...OTHERS, ...glibcLibs().filter((l) => !l.endsWith("ld-linux-x86-64.so.2"))];
    fc.assert(
      fc.property(fc.subarray(libs, { minLength: 1 }), fc.func(fc.integer()), (subset, key) => {
        const shuffled = subset.map((l, i) => [key(i), l] as const).sort((x, y) => x[0] - y[0]).map(([, l]) => l);
        const one = written(buildTable(fresh(), subset, { fsync: false }));
        const two = written(buildTable(fresh(), shuffled, { fsync: false }));
        expect(two.record).toBe(one.record);
        // libc brings its ld.so from its own directory; every LIB has its entry.
        const sonames = one.entries.map((e) => e.soname);
        for (const l of subset) expect(sonames).toContain(l.split("/").pop()!.replace(/\.so\.1\.2\.13$/, ".so.1"));
        expect(sonames.includes("ld-linux-x86-64.so.2")).toBe(subset.some((l) => l.endsWith("/libc.so.6")));
      }),
      { numRuns: 12 },
    );
  }, 60_000);
});

const haveI386 = hasTool(I386.qemu, "qemu-user-static") && hasTool(`${I386.triplet}-gcc`, "gcc-i686-linux-gnu") && hasFiles([`${SYSROOT32}/ld-linux.so.2`, `${SYSROOT32}/libc.so.6`, `${SYSROOT32}/libm.so.6`], I386.pkg);

describe.skipIf(!haveI386 || !haveGlibc || !hasTool("eu-elflint", "elfutils"))("buildTable: multilib", () => {
  it("i386 and x86_64 glibc with the same SONAMEs in one table; an i386 program runs through it under qemu-i386, an x86_64 one natively", async () => {
    const b64 = join(tmp, "glibc-multilib-64");
    mkdirSync(b64);
    for (const l of ["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6"]) copyFileSync(l.startsWith("ld-") ? `/lib64/${l}` : `${SYS}/${l}`, join(b64, l));
    const out = fresh();
    const r = written(buildTable(out, [join(b64, "libc.so.6"), join(b64, "libm.so.6"), `${SYSROOT32}/libc.so.6`, `${SYSROOT32}/libm.so.6`]));
    expect(r.entries.map((e) => `${e.entry}${e.interpreter ? " (interpreter)" : ""}`)).toEqual([
      `${X32}/ld-linux.so.2 (interpreter)`,
      `${X32}/libc.so.6`,
      `${X32}/libm.so.6`,
      `${X64}/ld-linux-x86-64.so.2 (interpreter)`,
      `${X64}/libc.so.6`,
      `${X64}/libm.so.6`,
    ]);
    const p32 = join(tmp, "hello32");
    await execa(`${I386.triplet}-gcc`, ["-o", p32, fx("hello32.c"), "-lm"]);
    pointAt(p32, out, X32, "ld-linux.so.2");
    const got = await runProgram([I386.qemu, p32], { env: { LD_DEBUG: "libs" } });
    expect([got.code, got.stdout], got.stderr).toEqual([0, "hello from i386 0.540"]);
    expect(inits(got.stderr)).toEqual(expect.arrayContaining([join(out, X32, "libc.so.6"), join(out, X32, "libm.so.6")]));
    expect(got.stderr).not.toContain(SYSROOT32);

    const p64 = join(tmp, "cos64");
    await execa("gcc", ["-o", p64, fx("hello32.c"), "-lm"]);
    pointAt(p64, out, X64, "ld-linux-x86-64.so.2");
    const got64 = await runProgram([p64], { env: { LD_DEBUG: "libs" } });
    expect(got64.stdout).toBe("hello from i386 0.540");
    expect(inits(got64.stderr)).toEqual(expect.arrayContaining([join(out, X64, "libc.so.6"), join(out, X64, "libm.so.6")]));
  }, 60_000);
});
