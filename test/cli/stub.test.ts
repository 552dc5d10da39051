// `abilink stub` on the command line: what it refuses (one line, exit 1, nothing at OUT),
// determinism (whatever the input form or --jobs), --write-if-changed, linker scripts.
import { execa } from "execa";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { abilink, bin } from "../support/cli.js";
import { withTmpDir } from "../support/tmp.js";
import { hasFiles, hasSystemLibs, hasTool, systemLib } from "../support/tools.js";

const fx = (p: string) => new URL(`../../testdata/fixtures/${p}`, import.meta.url).pathname;
const LIBS = ["libz.so.1", "libm.so.6", "libstdc++.so.6", "libcrypto.so.3"] as const;
let tmp = "";
withTmpDir((p) => (tmp = p));
const sh = (script: string, ...args: string[]) => execa("sh", ["-c", script, "sh", ...args], { reject: false, env: { A: `node ${bin}` } });
const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

describe.skipIf(!hasTool("gcc", "gcc") || !hasSystemLibs([...LIBS]))("abilink stub", () => {
  beforeAll(async () => {
    writeFileSync(join(tmp, "o.c"), "int f(void) { return 1; }\n");
    await execa("gcc", ["-c", "-fPIC", "-o", join(tmp, "o.o"), join(tmp, "o.c")]);
    await execa("ar", ["rcs", join(tmp, "libo.a"), join(tmp, "o.o")]);
    await execa("mkfifo", [join(tmp, "fifo")]);
    writeFileSync(join(tmp, "bad.abi"), "abilink-abi 2\nsoname libbad.so.1\nclass 64\ndata little\nmachine x86_64\nsymbol f FUNC SOMETIMES\n");
  });

  it("refuses what is not a shared library, manifest or linker script: one line, exit 1, nothing written", async () => {
    const cases: [string, RegExp][] = [
      [join(tmp, "libo.a"), /libo\.a: is a static library \(ar archive\), not a shared library/],
      [join(tmp, "o.o"), /o\.o: is a relocatable object \(\.o\), not a linked library/],
      [fx("x86_64/prog"), /prog: is a program, not a shared library \(no SONAME\): a stub stands for a shared library/],
      [join(tmp, "bad.abi"), /bad\.abi:6: unknown binding "SOMETIMES"/],
      [join(tmp, "fifo"), /fifo: /],
      [tmp, /: is a directory|not a regular file/],
      [join(tmp, "o.c"), /o\.c: neither an ELF file nor an abilink manifest/],
      [join(tmp, "missing.so"), /missing\.so: no such file or directory/i],
    ];
    for (const [input, message] of cases) {
      const out = join(tmp, "refused.so");
      const r = await execa("node", [bin, "stub", input, "-o", out], { reject: false, stdin: "ignore", timeout: 20_000 });
      expect([input, r.exitCode, r.stderr.split("\n").length]).toEqual([input, 1, 1]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(tmp).filter((n) => n.startsWith(".abilink"))).toEqual([]);
    }
  });

  it("usage errors exit 2", async () => {
    expect((await abilink(["stub", systemLib("libz.so.1")])).code).toBe(2);
    expect((await abilink(["stub", systemLib("libz.so.1"), systemLib("libm.so.6"), "-o", join(tmp, "x")])).code).toBe(2);
    expect((await abilink(["stub", systemLib("libz.so.1"), "-o", join(tmp, "x"), "--out-dir", tmp])).code).toBe(2);
  });

  it("is deterministic: from the library, from `abi --hints` through a pipe, with one thread or two, run after run", async () => {
    const libs = LIBS.map((l) => systemLib(l));
    const a = join(tmp, "det-a");
    const b = join(tmp, "det-b");
    expect((await abilink(["stub", ...libs, "--out-dir", a, "--jobs", "1"])).code).toBe(0);
    expect((await abilink(["stub", ...libs, "--out-dir", b, "--jobs", "2"])).code).toBe(0);
    expect(readdirSync(a).sort()).toEqual([...LIBS].sort());
    for (const l of LIBS) expect(same(join(a, l), join(b, l))).toBe(true);
    const piped = await sh(`$A abi --hints "$1" | $A stub - -o "$2"`, systemLib("libstdc++.so.6"), join(tmp, "piped.so"));
    expect([piped.exitCode, piped.stderr]).toEqual([0, ""]);
    expect(same(join(tmp, "piped.so"), join(a, "libstdc++.so.6"))).toBe(true);
    // A manifest written to a file, then stubbed twice.
    await abilink(["abi", "--stable", systemLib("libz.so.1"), "-o", join(tmp, "z.abi")]);
    await abilink(["stub", join(tmp, "z.abi"), "-o", join(tmp, "z1.so")]);
    await abilink(["stub", join(tmp, "z.abi"), "-o", join(tmp, "z2.so")]);
    expect(same(join(tmp, "z1.so"), join(tmp, "z2.so"))).toBe(true);
    // The stable form keeps no hints: its stub has no NEEDED, and its manifest is the stable text.
    const back = await abilink(["abi", "--stable", join(tmp, "z1.so")]);
    expect(`${back.stdout}\n`).toBe(readFileSync(join(tmp, "z.abi"), "utf8"));
  });

  it("--write-if-changed leaves an identical output untouched (inode and mtime), and replaces a different one", async () => {
    const out = join(tmp, "wic.so");
    expect((await abilink(["stub", systemLib("libz.so.1"), "-o", out])).code).toBe(0);
    const before = statSync(out, { bigint: true });
    await new Promise((r) => setTimeout(r, 20));
    const again = await abilink(["stub", "--write-if-changed", "--json", systemLib("libz.so.1"), "-o", out]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ output: out, kind: "stub", soname: "libz.so.1", written: false });
    const after = statSync(out, { bigint: true });
    expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs]);
    // Without the flag the file is written again (a new inode, atomically).
    await abilink(["stub", systemLib("libz.so.1"), "-o", out]);
    expect(statSync(out, { bigint: true }).ino).not.toBe(before.ino);
    // A different interface replaces it.
    const changed = await abilink(["stub", "--write-if-changed", "--json", systemLib("libm.so.6"), "-o", out]);
    expect(JSON.parse(changed.stdout)).toMatchObject({ written: true, soname: "libm.so.6" });
  });

  it("two inputs with one SONAME and different interfaces are refused (exit 1); the same library twice is one stub", async () => {
    const dir = join(tmp, "clash");
    await abilink(["abi", "--stable", systemLib("libz.so.1"), "-o", join(tmp, "zs.abi")]);
    const r = await abilink(["stub", systemLib("libz.so.1"), join(tmp, "zs.abi"), "--out-dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/zs\.abi: has the SONAME libz\.so\.1 of .*libz\.so\.1, with another interface/);
    const twice = await abilink(["stub", systemLib("libz.so.1"), systemLib("libz.so.1"), "--out-dir", join(tmp, "twice")]);
    expect([twice.code, readdirSync(join(tmp, "twice"))]).toEqual([0, ["libz.so.1"]]);
  });

  describe.skipIf(!hasFiles(["/usr/lib/x86_64-linux-gnu/libc.so", "/usr/lib/x86_64-linux-gnu/libc_nonshared.a"], "libc6-dev"))("a GNU ld linker script (glibc's libc.so)", () => {
    it("stubs each shared object it names and writes the script beside them naming the stubs; archives stay", async () => {
      const dir = join(tmp, "script");
      const r = await abilink(["stub", "--json", "/usr/lib/x86_64-linux-gnu/libc.so", "--out-dir", dir]);
      expect([r.code, r.stderr]).toEqual([0, ""]);
      const original = readFileSync("/usr/lib/x86_64-linux-gnu/libc.so", "utf8");
      const script = readFileSync(join(dir, "libc.so"), "utf8");
      expect(script).toBe(original.replace("/lib/x86_64-linux-gnu/libc.so.6", `${dir}/libc.so.6`).replace("/lib64/ld-linux-x86-64.so.2", `${dir}/ld-linux-x86-64.so.2`));
      expect(script).toContain("/usr/lib/x86_64-linux-gnu/libc_nonshared.a");
      expect(readdirSync(dir).sort()).toEqual(["ld-linux-x86-64.so.2", "libc.so", "libc.so.6"]);
      const records = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(records.find((x) => x.kind === "script")).toMatchObject({ path: "/usr/lib/x86_64-linux-gnu/libc.so", output: `${dir}/libc.so`, written: true });
      // -o cannot hold a script and its libraries.
      const single = await abilink(["stub", "/usr/lib/x86_64-linux-gnu/libc.so", "-o", join(tmp, "one.so")]);
      expect([single.code, single.stderr]).toEqual([1, "abilink: /usr/lib/x86_64-linux-gnu/libc.so: is a GNU ld linker script: give --out-dir, so that the stubs of the libraries it names go beside its copy"]);
    });

    it("a program links against the stubbed libc through the script, and the stub is what the linker read", async () => {
      const dir = join(tmp, "script");
      mkdirSync(join(tmp, "link"), { recursive: true });
      writeFileSync(join(tmp, "link", "hello.c"), '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n');
      const r = await execa("gcc", ["-o", join(tmp, "link", "hello"), join(tmp, "link", "hello.c"), `-L${dir}`, "-Wl,--trace"], { reject: false });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain(`${dir}/libc.so.6`);
      expect(r.stdout).not.toMatch(/\/lib\/x86_64-linux-gnu\/libc\.so\.6/);
      copyFileSync(join(tmp, "link", "hello"), join(tmp, "link", "hello2"));
      expect((await execa(join(tmp, "link", "hello2"), { reject: false })).stdout).toBe("hi");
    });
  });
});

describe.skipIf(!hasSystemLibs(["libz.so.1", "libm.so.6"]))("abilink stub: what a review found", () => {
  it("never writes over an input: --out-dir of the library's own directory is refused, the library intact", async () => {
    const dir = join(tmp, "self");
    mkdirSync(dir, { recursive: true });
    copyFileSync(systemLib("libz.so.1"), join(dir, "libz.so.1"));
    const before = readFileSync(join(dir, "libz.so.1"));
    const r = await abilink(["stub", join(dir, "libz.so.1"), "--out-dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/would be written over an input/);
    expect(readFileSync(join(dir, "libz.so.1")).equals(before)).toBe(true);
    const o = await abilink(["stub", join(dir, "libz.so.1"), "-o", join(dir, "libz.so.1")]);
    expect([o.code, readFileSync(join(dir, "libz.so.1")).equals(before)]).toEqual([1, true]);
  });

  it("two linker scripts of one name with different contents clash (exit 1); neither is lost silently", async () => {
    for (const [d, lib] of [["a", "libz.so.1"], ["b", "libm.so.6"]] as const) {
      mkdirSync(join(tmp, "scripts", d), { recursive: true });
      writeFileSync(join(tmp, "scripts", d, "libx.so"), `GROUP ( ${systemLib(lib)} )\n`);
    }
    const r = await abilink(["stub", join(tmp, "scripts", "a", "libx.so"), join(tmp, "scripts", "b", "libx.so"), "--out-dir", join(tmp, "scripts", "out")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/b\/libx\.so: has the name of the linker script .*a\/libx\.so, with other contents/);
    expect(readFileSync(join(tmp, "scripts", "out", "libx.so"), "utf8")).toContain("libz.so.1");
  });

  it("hostile manifests: sizes beyond the address space and absurd bucket counts are refused in one line; TLS aligned past a page lints clean", async () => {
    const head = "abilink-abi 2\nsoname libh.so.1\nclass 32\ndata little\nmachine i386\n";
    writeFileSync(join(tmp, "huge.abi"), `${head}symbol a OBJECT GLOBAL size=9007199254740991 align=1 writable\n`);
    const huge = await abilink(["stub", join(tmp, "huge.abi"), "-o", join(tmp, "huge.so")]);
    expect([huge.code, huge.stderr]).toEqual([1, `abilink: ${join(tmp, "huge.abi")}: its symbols' sizes and alignments do not fit a 32-bit address space`]);
    writeFileSync(join(tmp, "buckets.abi"), `${head}symbol f FUNC GLOBAL\nhint-order buckets=400000000 0\n`);
    const buckets = await abilink(["stub", join(tmp, "buckets.abi"), "-o", join(tmp, "buckets.so")]);
    expect([buckets.code, buckets.stderr]).toEqual([1, `abilink: ${join(tmp, "buckets.abi")}:7: "hint-order" has 400000000 buckets for 1 symbols`]);
    expect(existsSync(join(tmp, "huge.so")) || existsSync(join(tmp, "buckets.so"))).toBe(false);
    writeFileSync(join(tmp, "tls.abi"), "abilink-abi 2\nsoname libt.so.1\nclass 64\ndata little\nmachine x86_64\nsymbol t TLS GLOBAL size=8 align=131072 writable\n");
    expect((await abilink(["stub", join(tmp, "tls.abi"), "-o", join(tmp, "tls.so")])).code).toBe(0);
    if (hasTool("eu-elflint", "elfutils")) expect((await execa("eu-elflint", ["--gnu-ld", "-q", join(tmp, "tls.so")], { reject: false })).stdout).toBe("");
  });
});
